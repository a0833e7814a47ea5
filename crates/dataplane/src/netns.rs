//! Running code inside another network namespace.
//!
//! `setns(CLONE_NEWNET)` changes only the calling thread, so the work runs on a fresh
//! scoped thread that enters the namespace and ends with it: the caller's thread never
//! changes namespace. Sockets and netlink handles created inside keep talking to that
//! namespace after the thread ends, which is how backends hold their node's sockets.

use nix::sched::{CloneFlags, setns};
use std::fs::File;
use std::path::Path;

/// Runs `f` in the network namespace at `path` (e.g. `/run/netns/np-node`) and returns
/// its result.
pub fn run_in<T: Send>(path: &Path, f: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    let file = File::open(path)?;
    std::thread::scope(|s| {
        s.spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
            Ok(f())
        })
        .join()
        .map_err(|_| std::io::Error::other("thread inside the network namespace panicked"))?
    })
}

/// The path of a named network namespace (as `ip netns add NAME` creates it).
pub fn named(name: &str) -> std::path::PathBuf {
    Path::new("/run/netns").join(name)
}
