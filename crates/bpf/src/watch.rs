//! Knowing, without asking the kernel for every interface, whether the interfaces of
//! the node changed since they were last resolved.
//!
//! Resolving every endpoint's interface on each apply means listing all links of the
//! node (a netlink dump: milliseconds with a thousand workloads), which would dwarf one
//! workload's update. Instead a netlink socket opened inside the node's namespace
//! subscribes to link notifications: any link added, removed, renamed or changed since
//! the last resolve leaves a message there, and only then is everything resolved again.
//! A socket overrun (`ENOBUFS`) or any other error also counts as "changed", so the
//! cache can only ever be re-read too often, never trusted wrongly.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub struct LinkWatch {
    sock: OwnedFd,
}

impl LinkWatch {
    /// Subscribes to the link notifications of the calling thread's network namespace
    /// (so call it from a thread inside the node's namespace); the socket stays bound
    /// to that namespace wherever it is read from.
    pub fn here() -> io::Result<LinkWatch> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this descriptor; nothing else owns it.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: an all-zero sockaddr_nl is valid; the fields set below are plain data.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = libc::RTMGRP_LINK as u32;
        // SAFETY: `addr` is a live sockaddr_nl and the length passed is its size.
        let r = unsafe {
            libc::bind(
                sock.as_raw_fd(),
                (&raw const addr).cast::<libc::sockaddr>(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(LinkWatch { sock })
    }

    /// Whether any link notification arrived since the last call; reads them all.
    pub fn changed(&self) -> bool {
        let mut buf = [0u8; 8192];
        let mut changed = false;
        loop {
            // SAFETY: `buf` is a live buffer of the length passed; recv writes within it.
            let n = unsafe {
                libc::recv(
                    self.sock.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n > 0 {
                changed = true;
                continue;
            }
            if n == 0 {
                return changed;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => return changed,
                Some(libc::EINTR) => continue,
                // ENOBUFS: notifications were dropped, so something changed. Anything
                // else: be safe and resolve again.
                Some(libc::ENOBUFS) => changed = true,
                _ => return true,
            }
        }
    }
}
