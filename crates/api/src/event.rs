//! Live updates, sent over Server-Sent Events by `GET /api/v1/events`.
//!
//! Each event's SSE `event:` field is its `type`; its `data:` is the JSON of [`Event`].
//! A client that falls behind gets `lagged` and should fetch the state again.

use crate::flow::FlowRecord;
use crate::graph::GraphEdge;
use crate::inventory::AgentStatus;
use crate::policy::PolicyChange;
use bulkhead_policy::{Mode, WorkloadId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// A batch was stored: its records (aggregated within the batch) ...
    Flows {
        node: String,
        records: Vec<FlowRecord>,
    },
    /// ... and the graph edges it touched, with their new totals.
    Edges { edges: Vec<GraphEdge> },
    /// Policies were applied or deleted.
    Policies {
        revision: u64,
        changes: Vec<PolicyChange>,
    },
    /// A workload's mode was set.
    Mode {
        revision: u64,
        workload: WorkloadId,
        mode: Mode,
    },
    /// A node's workloads changed.
    Workloads { revision: u64, node: String },
    /// An agent reported its status.
    Agent { node: String, status: AgentStatus },
    /// The stream skipped `missed` events because the client read too slowly.
    Lagged { missed: u64 },
}

impl Event {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Flows { .. } => "flows",
            Event::Edges { .. } => "edges",
            Event::Policies { .. } => "policies",
            Event::Mode { .. } => "mode",
            Event::Workloads { .. } => "workloads",
            Event::Agent { .. } => "agent",
            Event::Lagged { .. } => "lagged",
        }
    }
}
