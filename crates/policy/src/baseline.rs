//! Baseline learning: recorded flows + the inventory → a least-privilege policy set.
//!
//! It lives in the policy crate, beside the evaluator that judges its output, because it
//! is a pure function from values to values (no clock, no store): the server feeds it the
//! flow windows and the agents' inventory, the CLI prints what it returns, and the tests
//! check its output with the reference evaluator on the very flows it learned from.
//!
//! What a baseline is, for the workloads asked for (or every workload of the inventory):
//! - one native policy per *identity*: the workload's namespace and its app-like labels
//!   ([`identity`]), so replicas share one policy and a restarted pod with a new address
//!   or a new `pod-template-hash` is still covered;
//! - both directions isolated, with one `allow` rule per peer seen, listing exactly the
//!   (protocol, port) pairs seen: nothing else passes;
//! - peers generalised to stable label selectors (the peer's identity, in its namespace),
//!   the node as `entity: host`, outside addresses grouped per /24 (by default) into the
//!   smallest CIDR covering those seen, and a workload that has no labels by its
//!   addresses (there is nothing else to name it by);
//! - every rule carries its evidence: how many flows, first and last seen;
//! - deterministic: the same input gives the same bytes (sorted, stable names).
//!
//! What cannot be learned is reported in [`Baseline::skipped`] with a reason (traffic
//! without ports such as ICMP, replies recorded on an ephemeral port, unknown workloads),
//! never silently widened into a broader rule.

mod aggregate;
pub mod identity;
mod render;
#[cfg(test)]
mod tests;

use crate::model::{Labels, Protocol, WorkloadId};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

pub use aggregate::generate;
pub use render::{Format, render};

/// One side of a recorded flow.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Workload(WorkloadId),
    /// Something outside the inventory (the node, the world, a gone workload's address).
    Address(Ipv4Addr),
}

impl FromStr for Endpoint {
    type Err = String;
    /// `ns/name` or an IPv4 address, as flow records write endpoints.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<Ipv4Addr>() {
            Ok(ip) => Ok(Endpoint::Address(ip)),
            Err(_) => s.parse().map(Endpoint::Workload),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Workload(id) => id.fmt(f),
            Endpoint::Address(ip) => ip.fmt(f),
        }
    }
}

/// A recorded flow aggregate: `flows` connections from `source` to `destination` on
/// (`protocol`, `port`) between `first_seen` and `last_seen` (Unix milliseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub source: Endpoint,
    pub destination: Endpoint,
    /// IP protocol number (6 TCP, 17 UDP, 132 SCTP, 1 ICMP...).
    pub protocol: u8,
    pub port: u16,
    pub flows: u64,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// Choices of a baseline run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The workloads to learn policies for; empty: every workload of the inventory.
    pub workloads: Vec<WorkloadId>,
    /// Outside addresses within one network of this prefix length are grouped into one
    /// CIDR (the smallest covering those seen).
    pub outside_prefix: u8,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            workloads: Vec::new(),
            outside_prefix: 24,
        }
    }
}

/// How much recorded traffic stands behind a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub flows: u64,
    /// Unix milliseconds.
    pub first_seen: i64,
    pub last_seen: i64,
}

impl Evidence {
    pub(crate) fn of(o: &Observation) -> Evidence {
        Evidence {
            flows: o.flows,
            first_seen: o.first_seen,
            last_seen: o.last_seen,
        }
    }

    pub(crate) fn add(&mut self, o: &Evidence) {
        self.flows = self.flows.saturating_add(o.flows);
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} flow{}, first seen {}, last seen {}",
            self.flows,
            if self.flows == 1 { "" } else { "s" },
            crate::time::rfc3339_millis(self.first_seen),
            crate::time::rfc3339_millis(self.last_seen)
        )
    }
}

/// The learned policy set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// Sorted by (namespace, name).
    pub policies: Vec<LearnedPolicy>,
    /// What was recorded but not turned into a rule, and why.
    pub skipped: Vec<Skipped>,
}

/// One policy: the workloads of `namespace` with the labels `selector`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnedPolicy {
    pub name: String,
    pub namespace: String,
    pub selector: Labels,
    /// The inventory's workloads the selector selects.
    pub members: Vec<WorkloadId>,
    pub ingress: Vec<LearnedRule>,
    pub egress: Vec<LearnedRule>,
}

/// `allow` traffic with `peer` on exactly `ports`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnedRule {
    pub peer: LearnedPeer,
    /// Sorted, distinct.
    pub ports: Vec<LearnedPort>,
    pub evidence: Evidence,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LearnedPort {
    pub protocol: Protocol,
    pub port: u16,
}

/// A rule's peer, in the order rules are written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LearnedPeer {
    /// The workloads of `namespace` with these labels (never empty).
    Workloads { namespace: String, labels: Labels },
    /// The node's own addresses.
    Host,
    /// Addresses: outside ones grouped, or a workload that has no labels.
    Cidr { cidr: Ipv4Net },
}

/// Recorded traffic that no rule was learned for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Skipped {
    pub source: String,
    pub destination: String,
    pub protocol: u8,
    pub port: u16,
    pub flows: u64,
    pub reason: String,
}

/// Requests a baseline cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaselineError {
    #[error("workload `{0}` is not in the inventory (no agent reports it)")]
    UnknownWorkload(WorkloadId),
    #[error("outside_prefix {0} is not a prefix length (0..=32)")]
    Prefix(u8),
}
