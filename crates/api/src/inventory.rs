//! Workloads, their modes, and the agent channel.
//!
//! Each agent owns its node's part of the inventory: it reports the workloads it runs
//! and its status (`PUT /api/v1/agents/{node}`), and long-polls the desired state
//! (`GET /api/v1/agents/{node}/desired?after=REVISION`). The desired state carries the
//! *whole* inventory, because compiling a node's rules needs the labels and addresses of
//! remote peers too.

use crate::policy::PolicyDocument;
use crate::time::Timestamp;
use bulkhead_policy::{Inventory, Labels, Mode, NamedPort, Workload, WorkloadId};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// A workload as the API shows it: what its agent reported, plus its mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadInfo {
    pub id: WorkloadId,
    pub labels: Labels,
    pub namespace_labels: Labels,
    pub ips: Vec<Ipv4Addr>,
    pub ports: Vec<NamedPort>,
    pub node: Option<String>,
    pub mode: Mode,
    /// When its agent last reported it; null for a workload only known by its mode.
    pub last_seen: Option<Timestamp>,
}

impl WorkloadInfo {
    pub fn workload(&self) -> Workload {
        Workload {
            id: self.id.clone(),
            labels: self.labels.clone(),
            namespace_labels: self.namespace_labels.clone(),
            ips: self.ips.clone(),
            ports: self.ports.clone(),
            node: self.node.clone(),
        }
    }
}

/// Body of `PUT /api/v1/workloads/{namespace}/{name}/mode`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetMode {
    pub mode: Mode,
}

/// Answer to a change that moves the desired state forward.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub revision: u64,
}

/// What an agent knows of itself, sent with every report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentStatus {
    /// The desired-state revision in force on the node (null before the first apply).
    pub revision: Option<u64>,
    /// `nft` or `ebpf`.
    pub backend: String,
    /// The agent's own version, for upgrades.
    #[serde(default)]
    pub version: Option<String>,
    /// Totals since the agent started.
    #[serde(default)]
    pub lost_events: u64,
    #[serde(default)]
    pub dropped_records: u64,
    /// The last apply failure, if the revision in force is not the desired one.
    #[serde(default)]
    pub error: Option<String>,
}

/// Body of `PUT /api/v1/agents/{node}`: the node's whole part of the inventory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentReport {
    /// Every workload on the node; workloads missing here are gone from the inventory.
    pub workloads: Vec<Workload>,
    /// The address ranges the node counts as the cluster (everything else is `world`).
    #[serde(default)]
    pub cluster_cidrs: Vec<Ipv4Net>,
    /// The node's own addresses (the `host` entity).
    #[serde(default)]
    pub host_ips: Vec<Ipv4Addr>,
    pub status: AgentStatus,
}

/// An agent as `GET /api/v1/agents` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub node: String,
    pub status: AgentStatus,
    pub workloads: usize,
    pub last_seen: Timestamp,
    /// Whether the node runs the latest desired revision.
    pub in_sync: bool,
}

/// What every agent must put in force: the answer of the desired-state long poll.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredState {
    /// Grows by one with every change of policies, modes or inventory.
    pub revision: u64,
    /// Every stored policy, sorted by name.
    pub policies: Vec<PolicyDocument>,
    /// The mode of every workload that has one set; the others run in `default_mode`.
    pub modes: BTreeMap<WorkloadId, Mode>,
    pub default_mode: Mode,
    /// All workloads of all nodes, with the union of the nodes' cluster and host addresses.
    pub inventory: Inventory,
}

impl DesiredState {
    pub fn mode_of(&self, id: &WorkloadId) -> Mode {
        self.modes.get(id).copied().unwrap_or(self.default_mode)
    }
}

/// Query of the long poll: answer at once if the revision is past `after`, otherwise wait
/// up to `wait` seconds (default 30, at most 300) for it to move; 204 if it did not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredQuery {
    pub after: Option<u64>,
    pub wait: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desired_state_round_trips_through_json() {
        let mut d = DesiredState {
            revision: 7,
            default_mode: Mode::Monitor,
            ..DesiredState::default()
        };
        d.modes.insert(WorkloadId::new("x", "a"), Mode::Learn);
        let text = serde_json::to_string(&d).unwrap();
        assert!(text.contains("\"modes\":{\"x/a\":\"learn\"}"), "{text}");
        let back: DesiredState = serde_json::from_str(&text).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.mode_of(&WorkloadId::new("x", "a")), Mode::Learn);
        assert_eq!(back.mode_of(&WorkloadId::new("x", "b")), Mode::Monitor);
    }

    #[test]
    fn agent_reports_refuse_unknown_fields() {
        let bad =
            r#"{"workloads": [], "status": {"backend": "nft", "revision": null}, "extra": 1}"#;
        let err = serde_json::from_str::<AgentReport>(bad).unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
    }
}
