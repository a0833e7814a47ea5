//! The narrow interface between the agent and the kernel.
//!
//! Two backends implement [`Dataplane`]: nftables (`bulkhead-nft`) and eBPF TC programs
//! (`bulkhead-bpf`). They live in crates of their own because each pulls in a different
//! native stack (libnftnl; aya and a bpf-target build step) and so that one can be built,
//! tested and benchmarked without the other. Both must give, for every packet, the verdict
//! [`Program::check`](bulkhead_compile::Program::check) specifies.

pub mod flow;
pub mod netns;

pub use flow::{FlowEvent, FlowKind, FlowSource};

use bulkhead_compile::Program;
use std::time::Duration;

/// What an apply did, for logs and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Increases with every apply; flow events name the generation whose rule ids they use.
    pub generation: u32,
    /// Map/set elements (or rules) written to the kernel by this apply.
    pub elements_written: usize,
    /// Elements removed from the kernel by this apply.
    pub elements_removed: usize,
    /// Time from the start of the apply until the new program was in force.
    pub duration: Duration,
}

/// An enforcement backend for one node.
pub trait Dataplane {
    /// `nft` or `ebpf`.
    fn name(&self) -> &'static str;

    /// Puts `program` in force, replacing what was, in one atomic step: no packet sees
    /// part of the old and part of the new program. On error nothing changed.
    fn apply(&mut self, program: &Program) -> Result<ApplyReport, Error>;

    /// Removes everything this backend put in the kernel. Idempotent.
    fn remove(&mut self) -> Result<(), Error>;

    /// The unknown-address guard (see `bulkhead_compile::nft::guard`): from the next
    /// apply on, traffic from or to an address inside `guard.ranges` that is not in
    /// `guard.known` is dropped. Returns false if this backend has no such guard (then
    /// such traffic meets only the rules of the workloads it is known to reach).
    fn set_guard(&mut self, guard: &Guard) -> bool {
        let _ = guard;
        false
    }
}

/// Address ranges on which every address in use should be a known workload's or the
/// node's (container bridges), and the addresses known now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Guard {
    pub ranges: Vec<ipnet::Ipv4Net>,
    pub known: std::collections::BTreeSet<std::net::Ipv4Addr>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot enter network namespace {path}: {source}")]
    Netns {
        path: String,
        source: std::io::Error,
    },
    #[error("the kernel refused {what}: {source}")]
    Kernel {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("{what}: {message}")]
    Backend { what: String, message: String },
}
