//! Where a node's eBPF state lives on bpffs, and the lock that keeps two processes
//! from managing it at once.
//!
//! ```text
//! /sys/fs/bpf/bulkhead/{node netns}/
//!   BH_CONFIG BH_IPCACHE BH_ENDPOINTS BH_POLICY BH_CONNTRACK BH_EVENTS BH_LOST   maps
//!   links/{interface}-from    TCX link: the veth's ingress (the workload's egress)
//!   links/{interface}-to      TCX link: the veth's egress (the workload's ingress)
//! ```
//!
//! Pins keep maps and links alive after the process that made them exits: the
//! programs go on enforcing, and the next process takes them over from here.

use crate::Error;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The bpffs directory holding every node's state.
pub const ROOT: &str = "/sys/fs/bpf/bulkhead";

/// Which TC hook of a host-side veth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    /// TC ingress: packets from the workload, checked as its egress.
    FromWorkload,
    /// TC egress: packets to the workload, checked as its ingress.
    ToWorkload,
}

impl Hook {
    pub const BOTH: [Hook; 2] = [Hook::FromWorkload, Hook::ToWorkload];

    pub fn suffix(self) -> &'static str {
        match self {
            Hook::FromWorkload => "from",
            Hook::ToWorkload => "to",
        }
    }
}

#[derive(Clone, Debug)]
pub struct PinDir {
    path: PathBuf,
}

impl PinDir {
    /// The directory of the node whose network namespace is `/run/netns/{netns}`.
    pub fn for_netns(netns: &str) -> PinDir {
        PinDir {
            path: Path::new(ROOT).join(netns),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn map(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn links(&self) -> PathBuf {
        self.path.join("links")
    }

    pub fn link(&self, interface: &str, hook: Hook) -> PathBuf {
        self.links().join(format!("{interface}-{}", hook.suffix()))
    }

    /// Parses a link pin's file name back into (interface, hook).
    pub fn parse_link(name: &str) -> Option<(String, Hook)> {
        let (interface, suffix) = name.rsplit_once('-')?;
        let hook = Hook::BOTH.into_iter().find(|h| h.suffix() == suffix)?;
        Some((interface.to_string(), hook))
    }

    pub fn create(&self) -> Result<(), Error> {
        std::fs::create_dir_all(self.links())
            .map_err(|e| Error::io(format!("create {}", self.links().display()), e))
    }

    /// The (interface, hook, path) of every pinned link.
    pub fn pinned_links(&self) -> Result<Vec<(String, Hook, PathBuf)>, Error> {
        let dir = self.links();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("list {}", dir.display()), e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("list {}", dir.display()), e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some((interface, hook)) = Self::parse_link(&name) {
                out.push((interface, hook, entry.path()));
            }
        }
        out.sort();
        Ok(out)
    }
}

/// An exclusive `flock` on the node's pin directory, held for the life of a
/// dataplane. flock works on any inode, bpffs directories included, and is released
/// by the kernel when the process dies, so a crashed owner never blocks its successor.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Waits up to `timeout` for the previous owner (e.g. an agent shutting down).
    pub fn acquire(dir: &PinDir, timeout: Duration) -> Result<Lock, Error> {
        let file = File::open(dir.path())
            .map_err(|e| Error::io(format!("open {}", dir.path().display()), e))?;
        let deadline = Instant::now() + timeout;
        loop {
            // SAFETY: flock on a descriptor this function owns; no memory is involved.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if r == 0 {
                return Ok(Lock { _file: file });
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::WouldBlock {
                return Err(Error::io(format!("lock {}", dir.path().display()), e));
            }
            if Instant::now() >= deadline {
                return Err(Error::Busy {
                    dir: dir.path().display().to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
