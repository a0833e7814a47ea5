//! TCX links on the host-side veths: created and pinned, or taken over.
//!
//! Taking over never detaches: a pinned link that already runs on the right interface
//! and hook gets this process's program swapped in with `BPF_LINK_UPDATE`, which the
//! kernel does atomically, so no packet passes unchecked across a restart. Only a link
//! whose interface is gone (or was replaced by another with the same name) is dropped
//! and made anew. Attaching by ifindex resolves the index in the calling thread's
//! network namespace, so [`ensure`] must run on a thread inside the node's namespace.

use crate::Error;
use crate::object::program_mut;
use crate::pins::{Hook, PinDir};
use crate::sys;
use aya::Ebpf;
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::tc::{SchedClassifierLink, TcAttachOptions};
use aya::programs::{LinkOrder, TcAttachType};
use bulkhead_ebpf_common::names;
use std::collections::BTreeMap;
use std::os::fd::AsFd;

fn program_name(hook: Hook) -> &'static str {
    match hook {
        Hook::FromWorkload => names::PROG_FROM_WORKLOAD,
        Hook::ToWorkload => names::PROG_TO_WORKLOAD,
    }
}

fn attach_type(hook: Hook) -> (TcAttachType, u32) {
    match hook {
        Hook::FromWorkload => (TcAttachType::Ingress, sys::BPF_TCX_INGRESS),
        Hook::ToWorkload => (TcAttachType::Egress, sys::BPF_TCX_EGRESS),
    }
}

/// The kernel id of each hook's program in `ebpf`.
pub fn program_ids(ebpf: &mut Ebpf) -> Result<[u32; 2], Error> {
    let mut ids = [0; 2];
    for (i, hook) in Hook::BOTH.into_iter().enumerate() {
        let prog = program_mut(ebpf, program_name(hook))?;
        let fd = prog.fd().map_err(|e| Error::program("program fd", e))?;
        ids[i] = sys::prog_id(fd.as_fd()).map_err(|e| Error::io("program id", e))?;
    }
    Ok(ids)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attached {
    pub created: usize,
    pub taken_over: usize,
}

/// Makes both hooks of every `interfaces` entry (name → ifindex) run this process's
/// programs. Runs inside the node's network namespace.
pub fn ensure(
    ebpf: &mut Ebpf,
    dir: &PinDir,
    interfaces: &BTreeMap<String, u32>,
    prog_ids: [u32; 2],
) -> Result<Attached, Error> {
    let mut done = Attached::default();
    for (interface, &ifindex) in interfaces {
        for (i, hook) in Hook::BOTH.into_iter().enumerate() {
            let path = dir.link(interface, hook);
            let (kind, kernel_type) = attach_type(hook);
            let existing = match sys::obj_get(&path) {
                Ok(fd) => Some(
                    sys::link_info(fd.as_fd())
                        .map_err(|e| Error::io(format!("inspect {}", path.display()), e))?,
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(Error::io(format!("open {}", path.display()), e)),
            };
            let prog = program_mut(ebpf, program_name(hook))?;
            match existing {
                Some(info)
                    if info.link_type == sys::BPF_LINK_TYPE_TCX
                        && info.ifindex == ifindex
                        && info.attach_type == kernel_type =>
                {
                    if info.prog_id == prog_ids[i] {
                        continue;
                    }
                    let pinned = PinnedLink::from_pin(&path)
                        .map_err(|e| Error::link(format!("open {}", path.display()), e))?;
                    let link =
                        SchedClassifierLink::try_from(FdLink::from(pinned)).map_err(|e| {
                            Error::link(format!("{} is not a tc link", path.display()), e)
                        })?;
                    let id = prog.attach_to_link(link).map_err(|e| {
                        Error::program(format!("replace the program of {}", path.display()), e)
                    })?;
                    // The pin keeps the link; this process needs no handle on it.
                    drop(
                        prog.take_link(id)
                            .map_err(|e| Error::program("take link", e))?,
                    );
                    done.taken_over += 1;
                }
                other => {
                    if other.is_some() {
                        // The interface it ran on is gone: the link enforces nothing.
                        std::fs::remove_file(&path)
                            .map_err(|e| Error::io(format!("unpin {}", path.display()), e))?;
                    }
                    let id = prog
                        .attach_with_options(
                            interface,
                            kind,
                            TcAttachOptions::TcxOrder(LinkOrder::default()),
                        )
                        .map_err(|e| {
                            Error::program(format!("attach to {interface} ({})", hook.suffix()), e)
                        })?;
                    let link = prog
                        .take_link(id)
                        .map_err(|e| Error::program("take link", e))?;
                    let fd_link = FdLink::try_from(link).map_err(|e| Error::link("tcx link", e))?;
                    fd_link
                        .pin(&path)
                        .map_err(|e| Error::pin(format!("pin {}", path.display()), e))?;
                    done.created += 1;
                }
            }
        }
    }
    Ok(done)
}

/// Unpins (so detaches) every pinned link whose interface is not in `keep`.
pub fn remove_others(dir: &PinDir, keep: &BTreeMap<String, u32>) -> Result<usize, Error> {
    let mut removed = 0;
    for (interface, _, path) in dir.pinned_links()? {
        if !keep.contains_key(&interface) {
            std::fs::remove_file(&path)
                .map_err(|e| Error::io(format!("unpin {}", path.display()), e))?;
            removed += 1;
        }
    }
    Ok(removed)
}
