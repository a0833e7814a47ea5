//! Named network namespaces, compatible with `ip netns`: each is a bind mount of a
//! namespace file onto `/run/netns/NAME`, so it outlives the thread that created it and
//! `ip netns exec`, `nsenter --net=` and the backends all find it by name.
//!
//! `unshare(CLONE_NEWNET)` and `setns` change only the calling thread, so all work
//! inside a namespace runs on a fresh scoped thread: the caller never changes namespace,
//! and sockets made inside keep talking to that namespace after the thread ends.

use crate::error::{LabError, Result};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where named namespaces live, as iproute2 puts them.
pub const NETNS_DIR: &str = "/run/netns";

/// The path of a named network namespace.
pub fn path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Whether `name` is a live named namespace (its file is a mounted namespace, not a
/// leftover empty file from an interrupted create).
pub fn exists(name: &str) -> bool {
    nix::sys::statfs::statfs(&path(name))
        .map(|s| s.filesystem_type() == nix::sys::statfs::FsType(libc::NSFS_MAGIC as _))
        .unwrap_or(false)
}

/// The names under `/run/netns` (live or not).
pub fn list() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect()
}

/// Creates the named namespace and runs `setup` inside it (on the creating thread, so
/// it sees the new namespace before anything else can). On error nothing is left.
pub fn create<T: Send>(name: &str, setup: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    shared_run_dir()?;
    let p = path(name);
    // An empty file left by an interrupted create is reused; a live namespace is not.
    if exists(name) {
        return Err(LabError::Netns {
            name: name.into(),
            message: "already exists".into(),
        });
    }
    File::create(&p).map_err(LabError::io(format!("create {}", p.display())))?;
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            unshare(CloneFlags::CLONE_NEWNET).map_err(|e| netns_err(name, "unshare", e))?;
            mount(
                Some("/proc/thread-self/ns/net"),
                &p,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| netns_err(name, "bind mount", e))?;
            setup()
        })
        .join()
        .map_err(|_| netns_err(name, "setup", nix::Error::EIO))?
    });
    if result.is_err() {
        let _ = remove(name);
    }
    result
}

/// Removes the named namespace. The kernel frees it once nothing else holds it (a
/// process inside, an open socket). Idempotent.
pub fn remove(name: &str) -> Result<()> {
    let p = path(name);
    match umount2(&p, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(e) => return Err(netns_err(name, "unmount", e)),
    }
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LabError::io(format!("remove {}", p.display()))(e)),
    }
}

/// Opens the namespace file (to pass to `setns` or as a netlink `IFLA_NET_NS_FD`).
pub fn open(name: &str) -> Result<File> {
    File::open(path(name)).map_err(|e| LabError::Netns {
        name: name.into(),
        message: format!("cannot open: {e}"),
    })
}

/// Runs `f` on a fresh thread inside the named namespace and returns its result.
pub fn run_in<T: Send>(name: &str, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    let file = open(name)?;
    std::thread::scope(|s| {
        s.spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| netns_err(name, "setns", e))?;
            f()
        })
        .join()
        .map_err(|_| {
            netns_err(
                name,
                "thread inside the namespace panicked",
                nix::Error::EIO,
            )
        })?
    })
}

/// Writes a sysctl of the calling thread's network namespace (`/proc/sys/net` follows
/// the namespace of the thread that opens it), e.g. `net/ipv6/conf/all/disable_ipv6`.
pub fn sysctl(key: &str, value: &str) -> Result<()> {
    let p = Path::new("/proc/sys").join(key);
    std::fs::write(&p, value).map_err(LabError::io(format!("write {}", p.display())))
}

/// Makes `/run/netns` a shared mount point, as iproute2 does, so namespace mounts made
/// there propagate to every mount namespace that later looks (e.g. `ip netns exec`).
fn shared_run_dir() -> Result<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let done = DONE.get_or_init(|| {
        std::fs::create_dir_all(NETNS_DIR).map_err(|e| e.to_string())?;
        let share = || {
            mount(
                None::<&str>,
                NETNS_DIR,
                Some("none"),
                MsFlags::MS_SHARED | MsFlags::MS_REC,
                None::<&str>,
            )
        };
        match share() {
            Ok(()) => Ok(()),
            // Not a mount point yet: bind it onto itself first.
            Err(nix::Error::EINVAL) => mount(
                Some(NETNS_DIR),
                NETNS_DIR,
                Some("none"),
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .and_then(|()| share())
            .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    });
    done.clone().map_err(|message| LabError::Netns {
        name: NETNS_DIR.into(),
        message: format!("cannot make it a shared mount: {message}"),
    })
}

fn netns_err(name: &str, what: &str, e: nix::Error) -> LabError {
    LabError::Netns {
        name: name.into(),
        message: format!("{what}: {e}"),
    }
}
