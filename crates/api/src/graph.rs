//! The connection graph: workloads (and outside addresses) joined by observed flows.
//!
//! Nodes carry their grouping (namespace, then `app` label) so a UI can draw nested boxes
//! without knowing label conventions; edges are the flow aggregates of
//! [`crate::flow::FlowRecord`] with the same key.

use crate::flow::{FlowRecord, IpProtocol, Verdict};
use crate::time::{TimeBound, Timestamp};
use bulkhead_policy::{Labels, Mode};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A workload of the inventory, or one seen in flows and since gone.
    Workload,
    /// An address outside the inventory.
    External,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphNode {
    /// A workload id (`x/a`) or an address.
    pub id: String,
    pub kind: NodeKind,
    /// The workload's namespace; null for an outside address.
    pub namespace: Option<String>,
    /// The `app` label (or `app.kubernetes.io/name`), when the workload has one.
    pub app: Option<String>,
    /// The id of the innermost group holding the node (see [`GraphGroup`]).
    pub group: String,
    pub labels: Labels,
    pub node: Option<String>,
    /// Null for a workload no agent reports any more, and for outside addresses.
    pub mode: Option<Mode>,
    /// Whether an agent currently reports it.
    pub live: bool,
}

/// A box to draw nodes in: a namespace (`ns:x`), an app inside one (`app:x/web`), or
/// everything outside the inventory (`external`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphGroup {
    pub id: String,
    pub label: String,
    pub parent: Option<String>,
}

/// One edge per (source, destination, protocol, port, verdict): a graph never holds two
/// with the same five. A changed verdict is another edge; a changed rule is not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphEdge {
    /// Stable id of the edge (also the flow cursor).
    pub id: u64,
    pub source: String,
    pub destination: String,
    pub protocol: IpProtocol,
    pub port: u16,
    pub verdict: Verdict,
    /// The rule that decided the edge's most recent traffic (null: none applied).
    pub rule: Option<String>,
    pub packets: u64,
    pub bytes: u64,
    pub connections: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

impl GraphEdge {
    pub fn to_record(&self, node: Option<String>) -> FlowRecord {
        FlowRecord {
            source: self.source.clone(),
            destination: self.destination.clone(),
            protocol: self.protocol,
            port: self.port,
            verdict: self.verdict,
            rule: self.rule.clone(),
            packets: self.packets,
            bytes: self.bytes,
            connections: self.connections,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            node,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Graph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    pub groups: Vec<GraphGroup>,
    /// With `since`: the time the counters cover, which is wider than asked when the
    /// window reaches back past what the server holds by the minute (docs/server.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<CoveredWindow>,
}

/// The time a windowed answer's counters actually cover. A window older than the
/// server's minute-by-minute memory is answered at hour granularity: its start moved
/// back to the hour (and an old end forward to the hour's end), never narrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoveredWindow {
    pub since: Timestamp,
    /// Absent: up to now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

/// Filters of `GET /api/v1/graph`. Without any, every known workload is a node; with a
/// filter, only the nodes the remaining edges touch (plus the filtered workload).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphQuery {
    pub workload: Option<String>,
    pub namespace: Option<String>,
    pub verdict: Option<Verdict>,
    /// Only edges with traffic since then, counters summed over that window.
    pub since: Option<TimeBound>,
}

impl GraphQuery {
    pub fn is_unfiltered(&self) -> bool {
        self.workload.is_none()
            && self.namespace.is_none()
            && self.verdict.is_none()
            && self.since.is_none()
    }
}
