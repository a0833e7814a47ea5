//! Auto-learning: baselines learned from recorded flows, and violations of the policies
//! in force (drift).

use crate::flow::FlowRecord;
use crate::time::TimeBound;
use bulkhead_policy::WorkloadId;
use bulkhead_policy::baseline::{Baseline, Format};
use serde::{Deserialize, Serialize};

/// Body of `POST /api/v1/baseline`: learn a least-privilege policy set from the flows
/// recorded in a window. Nothing is stored: apply the answer's `yaml` to put it in force.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineRequest {
    /// The workloads to learn policies for; empty: every workload the agents report.
    #[serde(default)]
    pub workloads: Vec<WorkloadId>,
    /// Only flows recorded since then (`1h` back, or RFC 3339); default: all.
    #[serde(default)]
    pub since: Option<TimeBound>,
    #[serde(default)]
    pub until: Option<TimeBound>,
    /// `native` (default) or `kubernetes` (NetworkPolicy with the same verdicts).
    #[serde(default)]
    pub format: Format,
    /// Outside addresses within one network of this prefix length are grouped into one
    /// CIDR (default 24).
    #[serde(default)]
    pub outside_prefix: Option<u8>,
}

/// Answer of `POST /api/v1/baseline`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineResult {
    pub format: Format,
    /// The policies as YAML (`bulkhead policy apply` or `PUT /policies` accept it as is);
    /// each rule's evidence is a comment above it and a `bulkhead.dev/evidence-*` annotation.
    pub yaml: String,
    /// The same policies as data, with each rule's evidence, and what was recorded but
    /// could not be learned (with why): what a review screen shows.
    pub baseline: Baseline,
    /// Recorded edges in the window that were learned from (allowed and would-deny ones;
    /// denied traffic never reached its destination, so it is never learned).
    pub edges: u64,
    /// Edges left out because they were denied.
    pub denied_edges: u64,
}

/// Filters of `GET /api/v1/violations`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViolationQuery {
    /// Violations from or to this workload (or address).
    pub workload: Option<String>,
    /// Violations with a workload of this namespace on either side.
    pub namespace: Option<String>,
    pub since: Option<TimeBound>,
    pub until: Option<TimeBound>,
    /// Page size (default 1000, at most 10000).
    pub limit: Option<u32>,
    pub cursor: Option<u64>,
}

/// Flows outside the policies in force: `denied` (enforce mode) and `would-deny`
/// (monitor mode) records as the agents reported them, each naming the deciding rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationPage {
    pub violations: Vec<FlowRecord>,
    pub next_cursor: Option<u64>,
}
