//! Workloads and the inventory they form: what policies select and protect.
//!
//! Bulkhead is IPv4-only for now; every address type here says so.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Labels of a workload or namespace (Kubernetes-style key/value pairs).
pub type Labels = BTreeMap<String, String>;

/// The label every namespace carries with its own name (as the Kubernetes API server adds it).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Transport protocols a rule can name. SCTP is kept apart from TCP and UDP even though
/// this kernel has no SCTP sockets to probe with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// The IP protocol number, as the kernel sees it.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    pub fn from_number(n: u8) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.number() == n)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "SCTP" => Ok(Protocol::Sctp),
            _ => Err(format!("unknown protocol `{s}`, expected TCP, UDP or SCTP")),
        }
    }
}

/// A workload's identity: `namespace/name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkloadId {
    pub namespace: String,
    pub name: String,
}

impl WorkloadId {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for WorkloadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl FromStr for WorkloadId {
    type Err = String;
    /// `ns/name`, or a bare `name` in the `default` namespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(WorkloadId::new(ns, name))
            }
            None if !s.is_empty() => Ok(WorkloadId::new("default", s)),
            _ => Err(format!(
                "`{s}` is not a workload id (expected namespace/name)"
            )),
        }
    }
}

impl Serialize for WorkloadId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WorkloadId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A port a workload listens on; `name` makes it reachable by named-port rules.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NamedPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
}

/// A workload (a pod, a container, a lab namespace) as policies see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    pub id: WorkloadId,
    pub labels: Labels,
    /// Labels of the workload's namespace, `kubernetes.io/metadata.name` included.
    pub namespace_labels: Labels,
    /// Never empty; the first is the primary address.
    pub ips: Vec<Ipv4Addr>,
    pub ports: Vec<NamedPort>,
    /// The node the workload runs on, in a multi-node lab or cluster.
    pub node: Option<String>,
}

impl Workload {
    /// The port number a named port resolves to on this workload for `protocol`, if any.
    pub fn resolve_named_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        self.ports
            .iter()
            .find(|p| p.protocol == protocol && p.name.as_deref() == Some(name))
            .map(|p| p.port)
    }
}

/// Everything a policy is evaluated against: the workloads, the address ranges that
/// belong to the cluster (everything else is the `world` entity) and the node addresses
/// (the `host` entity).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    pub workloads: Vec<Workload>,
    pub cluster_cidrs: Vec<Ipv4Net>,
    pub host_ips: Vec<Ipv4Addr>,
}

impl Inventory {
    pub fn workload(&self, id: &WorkloadId) -> Option<&Workload> {
        self.workloads.iter().find(|w| &w.id == id)
    }

    /// The workload that owns `ip`, if any.
    pub fn workload_by_ip(&self, ip: Ipv4Addr) -> Option<&Workload> {
        self.workloads.iter().find(|w| w.ips.contains(&ip))
    }

    pub fn is_cluster_address(&self, ip: Ipv4Addr) -> bool {
        self.cluster_cidrs.iter().any(|n| n.contains(&ip))
    }
}

/// What a workload's checks do with traffic the policy denies.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Allow everything and record it, to learn a baseline.
    Learn,
    /// Allow, but report each flow the policy would deny (`would-deny`).
    Monitor,
    /// Drop what the policy denies.
    #[default]
    Enforce,
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "learn" => Ok(Mode::Learn),
            "monitor" => Ok(Mode::Monitor),
            "enforce" => Ok(Mode::Enforce),
            _ => Err(format!(
                "unknown mode `{s}`, expected learn, monitor or enforce"
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Learn => "learn",
            Mode::Monitor => "monitor",
            Mode::Enforce => "enforce",
        })
    }
}

/// The direction of a check, from the point of view of the workload being protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        })
    }
}

/// What a rule does with the traffic it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Deny,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_ids_parse_and_print() {
        let id: WorkloadId = "x/a".parse().unwrap();
        assert_eq!(id, WorkloadId::new("x", "a"));
        assert_eq!(id.to_string(), "x/a");
        assert_eq!("a".parse::<WorkloadId>().unwrap().to_string(), "default/a");
        assert!("x/".parse::<WorkloadId>().is_err());
        assert!("x/a/b".parse::<WorkloadId>().is_err());
    }

    #[test]
    fn protocols_round_trip() {
        for p in Protocol::ALL {
            assert_eq!(Protocol::from_number(p.number()), Some(p));
            assert_eq!(p.as_str().parse::<Protocol>().unwrap(), p);
        }
    }
}
