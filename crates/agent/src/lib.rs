//! The node agent: inventory → report → desired state → compile → apply → report what
//! is in force; kernel flow events → per-edge aggregates → batches to the server.
//!
//! The agent is generic over its three edges to the world, each a narrow trait: where
//! workloads come from ([`WorkloadSource`], `bulkhead-runtime`), how the kernel is
//! programmed ([`Dataplane`]) and where flow events come from ([`FlowSource`], both in
//! `bulkhead-dataplane`). The binary picks the implementations; nothing here knows
//! nftables from eBPF.
//!
//! Threads (blocking I/O, no async runtime; see [`run`]):
//! - **control**: reports the inventory, long-polls the desired state, compiles it
//!   (through the [`planner`], which parses and compiles again only what changed
//!   since the last revision) and applies it, persists it ([`store`]) and reports the revision in force. While the
//!   server is away the last desired state stays in force (and is re-applied when the
//!   local inventory changes).
//! - **inventory**: waits for the workload source to change and reports at once.
//! - **flows**: reads the flow source and aggregates ([`tracker`]) with the context of
//!   the program in force ([`context`]).
//! - **shipper**: sends batches, retrying with the same sequence number (the server
//!   drops duplicates), in a bounded queue whose overflow is counted.
//!
//! [`WorkloadSource`]: bulkhead_runtime::WorkloadSource
//! [`Dataplane`]: bulkhead_dataplane::Dataplane
//! [`FlowSource`]: bulkhead_dataplane::FlowSource

pub mod client;
pub mod context;
pub mod enforce;
pub mod planner;
mod run;
mod ship;
pub mod store;
pub mod synthetic;
pub mod tracker;

pub use run::{Config, run};

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    #[error("server: {0}")]
    Server(String),
    #[error("the desired state holds an invalid policy: {0}")]
    Policy(String),
    #[error("cannot compile for this node: {0}")]
    Compile(#[from] bulkhead_compile::CompileError),
    #[error("cannot apply: {0}")]
    Dataplane(#[from] bulkhead_dataplane::Error),
    #[error("workload source: {0}")]
    Runtime(#[from] bulkhead_runtime::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
