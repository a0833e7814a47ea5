//! Workload sources behind one trait: where a node agent learns which workloads run on
//! its node: the lab ([`LabSource`]) and a Docker engine ([`DockerSource`]); Kubernetes
//! will implement the same [`WorkloadSource`].
//!
//! The trait is deliberately narrow: a full snapshot, and a way to wait for the next
//! change. Agents always report whole snapshots (the server replaces a node's part of
//! the inventory with each report), so a source never needs to compute deltas, and a
//! missed notification costs only latency, never correctness.

pub mod docker;
mod lab;

pub use docker::{DockerConfig, DockerSource};
pub use lab::LabSource;

use bulkhead_policy::{Workload, WorkloadId};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

/// What runs on one node right now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The workloads on this node (each with `node` set), sorted by id.
    pub workloads: Vec<Workload>,
    /// The address ranges the node counts as the cluster.
    pub cluster_cidrs: Vec<Ipv4Net>,
    /// The node's own addresses (the `host` entity).
    pub host_ips: Vec<Ipv4Addr>,
    /// The host-side interface of each local workload (where eBPF programs attach).
    pub interfaces: BTreeMap<WorkloadId, String>,
    /// Ranges where every address in use is a workload's or the node's (a container
    /// runtime's bridge subnets): an address there that the agent does not know yet
    /// belongs to a workload that started before the source could tell, and is kept
    /// from talking until it is known. Empty for the lab (its file is the truth).
    pub guarded: Vec<Ipv4Net>,
}

/// A source of the workloads of one node.
pub trait WorkloadSource: Send {
    /// The node this source describes.
    fn node(&self) -> &str;

    /// The network namespace the node's traffic is enforced in (`/run/netns/...`).
    fn node_netns(&self) -> std::path::PathBuf;

    /// The workloads running now.
    fn snapshot(&mut self) -> Result<Snapshot, Error>;

    /// Waits up to `timeout` for the inventory to change; true if it may have. Spurious
    /// `true`s are allowed (callers compare snapshots), missed changes are not.
    fn wait_change(&mut self, timeout: Duration) -> Result<bool, Error>;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The lab file is invalid; the message holds `file:line:col: message` lines.
    #[error("{0}")]
    Invalid(String),
    #[error("{lab}: no node named `{node}` (nodes: {known})")]
    UnknownNode {
        lab: String,
        node: String,
        known: String,
    },
    #[error("{lab}: the lab has several nodes ({known}); choose one with --node")]
    NodeRequired { lab: String, known: String },
    #[error("docker engine at {socket}: {what}: {message}")]
    Docker {
        socket: String,
        what: String,
        message: String,
    },
}
