//! The eBPF backend: Bulkhead's TC programs (crate `ebpf/`, embedded by `build.rs`)
//! attached with TCX to each workload's host-side veth, fed with the map entries of
//! [`bulkhead_compile::ebpf`], pinned so that enforcement outlives the process.
//!
//! # Design as built
//!
//! - **Check points.** A veth's TC ingress sees what the workload sends: its egress
//!   check. Its TC egress sees what the workload receives: its ingress check. A
//!   connection between two local workloads is checked at both ends, like
//!   [`Program::check`](bulkhead_compile::Program::check).
//! - **Lookups** (per new connection): the ipcache (address → identity: a hash of host
//!   addresses, then an LPM trie of the few CIDRs), then the policy hash keyed (slot,
//!   direction, protocol, port prefix length, endpoint, identity, port prefix) for the
//!   peer's identity, then for the wildcard identity, at each prefix length the
//!   endpoint uses (longest first), then the endpoint's default. Every lookup is a hash
//!   lookup except CIDR peers, so the cost does not grow with the number of rules,
//!   workloads or entries (an LPM trie of all entries did: its depth grows with them).
//! - **State.** A per-check-point conntrack LRU: packets of an admitted connection,
//!   and its replies, pass without a lookup and are counted.
//! - **Atomic changes** ([`slot`], [`EbpfDataplane::apply`]): the policy maps hold two
//!   slots; a packet reads the generation once and uses slot `generation & 1`. An apply
//!   writes the difference into the inactive slot, flips the generation (the instant
//!   the new program is in force), waits for an RCU grace period so no packet still
//!   reads the old slot ([`sys::Grace`]), then writes the same difference there.
//! - **Cost of an update** (`dataplane/plan.rs`): endpoints are matched with the last
//!   program's in one merge pass and compared by the compiler's fingerprint; only the
//!   changed ones get entries built, and only their keys are written (whole slots are
//!   compared only after a failure or a restart). One workload's update costs that
//!   workload's entries plus a pass of `u64` comparisons, whatever the node holds.
//! - **Pins and takeover** ([`pins`], [`attach`]): maps and TCX links live under
//!   `/sys/fs/bpf/bulkhead/{node netns}/`; a new process reuses the maps and swaps its
//!   program into the existing links atomically, never detaching. Links are made on
//!   several threads at once (each TCX attach waits for an RCU grace period), and a
//!   netlink link watch ([`watch`]) lets an apply skip resolving interfaces when no
//!   link of the node changed. A new process also waits one grace period before its
//!   first write, in case its predecessor died between a flip and that wait.
//! - **Flow events** ([`EbpfFlows`]): a ring buffer with one event per admitted
//!   connection and one per dropped packet; events that find it full are counted per
//!   CPU and reported by [`FlowSource::lost`](bulkhead_dataplane::FlowSource::lost)
//!   (the agent ships that count); `tests/privileged_events.rs` overflows the ring and
//!   finds every event either read or counted.

mod attach;
pub mod conntrack;
mod counted;
mod dataplane;
mod flows;
mod maps;
mod object;
pub mod pins;
mod slot;
pub mod sys;
mod watch;

pub use conntrack::{Connection, connections};
pub use counted::CountedFlows;
pub use dataplane::{EbpfDataplane, Phases, remove_pins};
pub use flows::{EbpfFlows, decode};
pub use pins::{Hook, PinDir};

use std::io;

/// Everything that can go wrong between compiled map entries and the kernel.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("cannot load the eBPF object: {0}")]
    Load(String),
    #[error("{what}: {source}")]
    Map {
        what: String,
        source: aya::maps::MapError,
    },
    #[error("{what}: {source}")]
    Program {
        what: String,
        source: aya::programs::ProgramError,
    },
    #[error("cannot enter network namespace {path}: {source}")]
    Netns { path: String, source: io::Error },
    #[error("interface {interface} does not exist in network namespace {netns}")]
    NoInterface { interface: String, netns: String },
    #[error("interface {interface} is given to both {first} and {second}")]
    SharedInterface {
        interface: String,
        first: String,
        second: String,
    },
    #[error(transparent)]
    Compile(#[from] bulkhead_compile::ebpf::EbpfError),
    #[error("another process manages the eBPF state in {dir}; stop it first")]
    Busy { dir: String },
    #[error(
        "the pinned map {path} has layout {found}, this build expects {expected}; remove the node's eBPF state (`bulkhead lab down`) first"
    )]
    Incompatible {
        path: String,
        found: String,
        expected: String,
    },
    #[error("this dataplane was removed; open it again to enforce")]
    Removed,
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
    pub(crate) fn map(what: impl Into<String>, source: aya::maps::MapError) -> Error {
        // aya's message names the failed call but not the kernel's reason: add it.
        let mut what = what.into();
        if let aya::maps::MapError::SyscallError(e) = &source {
            what = format!("{what} ({})", e.io_error);
        }
        Error::Map { what, source }
    }
    pub(crate) fn program(what: impl Into<String>, source: aya::programs::ProgramError) -> Error {
        Error::Program {
            what: what.into(),
            source,
        }
    }
}

impl From<Error> for bulkhead_dataplane::Error {
    fn from(e: Error) -> Self {
        use bulkhead_dataplane::Error as D;
        match e {
            Error::Netns { path, source } => D::Netns { path, source },
            Error::Io { what, source } => D::Kernel { what, source },
            e => D::Backend {
                what: "ebpf".into(),
                message: e.to_string(),
            },
        }
    }
}
