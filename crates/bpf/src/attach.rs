//! TCX links on the host-side veths: created and pinned, or taken over.
//!
//! Taking over never detaches: a pinned link that already runs on the right interface
//! and hook gets this process's program swapped in with `BPF_LINK_UPDATE`, which the
//! kernel does atomically, so no packet passes unchecked across a restart. Only a link
//! whose interface is gone (or was replaced by another with the same name) is dropped
//! and made anew.
//!
//! Every TCX attach and update waits for an RCU grace period in the kernel (tens of
//! milliseconds on a busy machine), so a node with a thousand workloads would take a
//! minute one link after the other. The links are therefore made on several threads at
//! once, whose waits share grace periods. Attaching by ifindex resolves the index in
//! the calling thread's network namespace: [`ensure`] runs on a thread inside the
//! node's namespace, and the threads it starts inherit that namespace.

use crate::Error;
use crate::object::program_mut;
use crate::pins::{Hook, PinDir};
use crate::sys;
use aya::Ebpf;
use bulkhead_ebpf_common::names;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Mutex;

/// Threads making links at once.
const THREADS: usize = 32;

fn program_name(hook: Hook) -> &'static str {
    match hook {
        Hook::FromWorkload => names::PROG_FROM_WORKLOAD,
        Hook::ToWorkload => names::PROG_TO_WORKLOAD,
    }
}

fn attach_type(hook: Hook) -> u32 {
    match hook {
        Hook::FromWorkload => sys::BPF_TCX_INGRESS,
        Hook::ToWorkload => sys::BPF_TCX_EGRESS,
    }
}

/// The kernel id of each hook's program in `ebpf`.
pub fn program_ids(ebpf: &mut Ebpf) -> Result<[u32; 2], Error> {
    let fds = program_fds(ebpf)?;
    let mut ids = [0; 2];
    for (id, fd) in ids.iter_mut().zip(&fds) {
        *id = sys::prog_id(fd.as_fd()).map_err(|e| Error::io("program id", e))?;
    }
    Ok(ids)
}

/// A descriptor of each hook's program, in [`Hook::BOTH`] order.
fn program_fds(ebpf: &mut Ebpf) -> Result<[OwnedFd; 2], Error> {
    let mut fd = |hook: Hook| -> Result<OwnedFd, Error> {
        let prog = program_mut(ebpf, program_name(hook))?;
        let fd = prog.fd().map_err(|e| Error::program("program fd", e))?;
        fd.as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io("duplicate a program descriptor", e))
    };
    Ok([fd(Hook::FromWorkload)?, fd(Hook::ToWorkload)?])
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attached {
    pub created: usize,
    pub taken_over: usize,
}

/// What one (interface, hook) needs.
enum Job {
    /// Swap our program into the pinned link.
    Update { link: OwnedFd },
    /// Make a link and pin it (after unpinning a dead one, if `stale`).
    Create { ifindex: u32, stale: bool },
}

/// Makes both hooks of every `interfaces` entry (name → ifindex) run this process's
/// programs. Runs inside the node's network namespace.
pub fn ensure(
    ebpf: &mut Ebpf,
    dir: &PinDir,
    interfaces: &BTreeMap<String, u32>,
    prog_ids: [u32; 2],
) -> Result<Attached, Error> {
    let fds = program_fds(ebpf)?;
    let mut jobs: Vec<(PathBuf, usize, Job)> = Vec::new();
    for (interface, &ifindex) in interfaces {
        for (i, hook) in Hook::BOTH.into_iter().enumerate() {
            let path = dir.link(interface, hook);
            let job = match sys::obj_get(&path) {
                Ok(link) => {
                    let info = sys::link_info(link.as_fd())
                        .map_err(|e| Error::io(format!("inspect {}", path.display()), e))?;
                    let live = info.link_type == sys::BPF_LINK_TYPE_TCX
                        && info.ifindex == ifindex
                        && info.attach_type == attach_type(hook);
                    match (live, info.prog_id == prog_ids[i]) {
                        (true, true) => continue,
                        (true, false) => Job::Update { link },
                        // The interface it ran on is gone: the link enforces nothing.
                        (false, _) => Job::Create {
                            ifindex,
                            stale: true,
                        },
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Job::Create {
                    ifindex,
                    stale: false,
                },
                Err(e) => return Err(Error::io(format!("open {}", path.display()), e)),
            };
            jobs.push((path, i, job));
        }
    }
    let done = Mutex::new(Attached::default());
    let first_error = Mutex::new(None);
    let queue = Mutex::new(jobs);
    let fds = [fds[0].as_fd(), fds[1].as_fd()];
    let threads = THREADS.min(queue.lock().map_or(0, |q| q.len()));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let Some((path, i, job)) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                        break;
                    };
                    match run(&path, fds[i], i, job) {
                        Ok(created) => {
                            if let Ok(mut d) = done.lock() {
                                if created {
                                    d.created += 1;
                                } else {
                                    d.taken_over += 1;
                                }
                            }
                        }
                        Err(e) => {
                            if let Ok(mut f) = first_error.lock() {
                                f.get_or_insert(e);
                            }
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(done.into_inner().unwrap_or_default())
}

/// Carries out one job; true if a link was created.
fn run(path: &std::path::Path, prog: BorrowedFd<'_>, i: usize, job: Job) -> Result<bool, Error> {
    let hook = Hook::BOTH[i];
    match job {
        Job::Update { link } => {
            sys::link_update(link.as_fd(), prog)
                .map_err(|e| Error::io(format!("replace the program of {}", path.display()), e))?;
            Ok(false)
        }
        Job::Create { ifindex, stale } => {
            if stale {
                std::fs::remove_file(path)
                    .map_err(|e| Error::io(format!("unpin {}", path.display()), e))?;
            }
            let link = sys::tcx_link_create(prog, ifindex, attach_type(hook)).map_err(|e| {
                Error::io(
                    format!("attach to ifindex {ifindex} ({})", hook.suffix()),
                    e,
                )
            })?;
            // The pin keeps the link (and so the program) alive after `link` closes.
            sys::obj_pin(link.as_fd(), path)
                .map_err(|e| Error::io(format!("pin {}", path.display()), e))?;
            Ok(true)
        }
    }
}

/// Unpins (so detaches) every pinned link whose interface is not in `keep`.
pub fn remove_others(dir: &PinDir, keep: impl Fn(&str) -> bool) -> Result<usize, Error> {
    let mut removed = 0;
    for (interface, _, path) in dir.pinned_links()? {
        if !keep(&interface) {
            std::fs::remove_file(&path)
                .map_err(|e| Error::io(format!("unpin {}", path.display()), e))?;
            removed += 1;
        }
    }
    Ok(removed)
}
