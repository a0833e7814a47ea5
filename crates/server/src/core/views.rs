//! Read-only views: flow pages, the graph, the audit log.

use super::Core;
use super::state::State;
use super::window::window;
use crate::error::ServerError;
use crate::store::{self, EdgeFilter, EdgeRow};
use bulkhead_api::{
    AuditPage, AuditQuery, CoveredWindow, FlowPage, FlowQuery, Graph, GraphEdge, GraphGroup,
    GraphNode, GraphQuery, NodeKind, Timestamp,
};
use bulkhead_policy::WorkloadId;
use std::collections::{BTreeMap, HashSet};

const DEFAULT_FLOW_PAGE: u32 = 1000;
const MAX_FLOW_PAGE: u32 = 10_000;

impl Core {
    pub(super) fn flows(&self, q: &FlowQuery) -> Result<FlowPage, ServerError> {
        let limit = page_size(q.limit, DEFAULT_FLOW_PAGE, MAX_FLOW_PAGE, "limit")?;
        let now = Timestamp::now();
        let filter = EdgeFilter {
            workload: q.workload.as_deref(),
            namespace: q.namespace.as_deref(),
            verdict: q.verdict,
            since: q.since.map(|b| b.resolve(now)),
            until: q.until.map(|b| b.resolve(now)),
            after: q.cursor.unwrap_or(0),
            // One more than asked, to learn whether a next page exists.
            limit: Some(limit + 1),
            violations: false,
        };
        let (mut rows, window) = edge_rows_covered(&self.lock(), &filter)?;
        let next_cursor = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.id)
        } else {
            None
        };
        let records = rows.into_iter().map(|r| {
            let node = r.node.clone();
            edge(r).to_record(node)
        });
        Ok(FlowPage {
            records: records.collect(),
            next_cursor,
            window,
        })
    }

    pub(super) fn graph(&self, q: &GraphQuery) -> Result<Graph, ServerError> {
        let state = self.lock();
        let in_ns = |ep: &str, ns: &str| ep.split_once('/').is_some_and(|(n, _)| n == ns);
        let keep = |e: &GraphEdge| {
            q.verdict.is_none_or(|v| v == e.verdict)
                && q.namespace
                    .as_deref()
                    .is_none_or(|ns| in_ns(&e.source, ns) || in_ns(&e.destination, ns))
        };
        let (edges, covered) = match q.since.map(|s| s.resolve(Timestamp::now())) {
            Some(since) => {
                let sums = window(&state, since.millis(), i64::MAX)?;
                let edges =
                    state
                        .graph
                        .edges_with(q.workload.as_deref(), |i, e| sums.get(i, e.id), keep);
                (edges, Some(sums.covered()))
            }
            None => (state.graph.edges(q.workload.as_deref(), keep), None),
        };
        let mut graph = self.assemble(&state, q, edges);
        graph.window = covered;
        Ok(graph)
    }

    /// Nodes and groups around `edges`: every workload when unfiltered, otherwise the
    /// endpoints of the edges (and the filtered workload or namespace's workloads).
    /// A hash set and one final sort keep this linear: it runs over 10^5 edges.
    fn assemble(&self, state: &State, q: &GraphQuery, edges: Vec<GraphEdge>) -> Graph {
        let mut ids: HashSet<&str> = HashSet::with_capacity(state.workloads.len() + 1024);
        for e in &edges {
            ids.insert(&e.source);
            ids.insert(&e.destination);
        }
        let all = q.is_unfiltered();
        for k in state.workloads.values() {
            let keep = all
                || q.workload.as_deref() == Some(k.key.as_str())
                || (q.workload.is_none()
                    && q.namespace.as_deref() == Some(k.workload.id.namespace.as_str()));
            if keep {
                ids.insert(&k.key);
            }
        }
        let mut ids: Vec<&str> = ids.into_iter().collect();
        ids.sort_unstable();
        let mut groups: BTreeMap<String, GraphGroup> = BTreeMap::new();
        let nodes = ids
            .into_iter()
            .map(|id| self.node(state, id, &mut groups))
            .collect();
        Graph {
            nodes,
            edges,
            groups: groups.into_values().collect(),
            window: None,
        }
    }

    fn node(
        &self,
        state: &State,
        id: &str,
        groups: &mut BTreeMap<String, GraphGroup>,
    ) -> GraphNode {
        // Workload ids hold a `/`; anything else is an address outside the inventory.
        let wid = if id.contains('/') {
            id.parse::<WorkloadId>().ok()
        } else {
            None
        };
        let Some(wid) = wid else {
            groups
                .entry("external".into())
                .or_insert_with(|| GraphGroup {
                    id: "external".into(),
                    label: "outside".into(),
                    parent: None,
                });
            return GraphNode {
                id: id.to_string(),
                kind: NodeKind::External,
                namespace: None,
                app: None,
                group: "external".into(),
                labels: Default::default(),
                node: None,
                mode: None,
                live: false,
            };
        };
        let known = state.workloads.get(&wid);
        let labels = known.map(|k| k.workload.labels.clone()).unwrap_or_default();
        let app = labels
            .get("app")
            .or_else(|| labels.get("app.kubernetes.io/name"))
            .cloned();
        let ns_group = format!("ns:{}", wid.namespace);
        groups
            .entry(ns_group.clone())
            .or_insert_with(|| GraphGroup {
                id: ns_group.clone(),
                label: wid.namespace.clone(),
                parent: None,
            });
        let group = match &app {
            Some(a) => {
                let g = format!("app:{}/{a}", wid.namespace);
                groups.entry(g.clone()).or_insert_with(|| GraphGroup {
                    id: g.clone(),
                    label: a.clone(),
                    parent: Some(ns_group),
                });
                g
            }
            None => ns_group,
        };
        GraphNode {
            kind: NodeKind::Workload,
            namespace: Some(wid.namespace.clone()),
            app,
            group,
            labels,
            node: known.and_then(|k| k.workload.node.clone()),
            mode: known.map(|_| self.mode_in(state, &wid)),
            live: known.is_some(),
            id: id.to_string(),
        }
    }

    pub(super) fn audit(&self, q: &AuditQuery) -> Result<AuditPage, ServerError> {
        let limit = page_size(q.limit, 100, 1000, "limit")?;
        let since = q.since.map(|b| b.resolve(Timestamp::now()));
        store::query_audit(
            self.lock().store.conn(),
            q.action.as_deref(),
            q.target.as_deref(),
            since,
            limit,
            q.cursor,
        )
    }
}

pub(super) fn page_size(
    asked: Option<u32>,
    default: u32,
    max: u32,
    field: &str,
) -> Result<u32, ServerError> {
    match asked {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ServerError::BadRequest(format!(
            "{field}: {n} is not between 1 and {max}"
        ))),
    }
}

/// The edges passing `f`: whole totals from the graph, a window from the recent buckets
/// in memory and, for its minutes older than memory holds, from the store.
pub(super) fn edge_rows(state: &State, f: &EdgeFilter<'_>) -> Result<Vec<EdgeRow>, ServerError> {
    Ok(edge_rows_covered(state, f)?.0)
}

/// [`edge_rows`], and the time a window's counters cover (None without a window).
fn edge_rows_covered(
    state: &State,
    f: &EdgeFilter<'_>,
) -> Result<(Vec<EdgeRow>, Option<CoveredWindow>), ServerError> {
    if f.since.is_none() && f.until.is_none() {
        return Ok((state.graph.rows(f, |_, e| Some(e.counters)), None));
    }
    let since = f.since.map_or(0, Timestamp::millis);
    let until = f.until.map_or(i64::MAX, Timestamp::millis);
    let sums = window(state, since, until)?;
    let rows = state.graph.rows(f, |i, e| sums.get(i, e.id));
    Ok((rows, Some(sums.covered())))
}

pub(super) fn edge(r: EdgeRow) -> GraphEdge {
    GraphEdge {
        id: r.id,
        source: r.source,
        destination: r.destination,
        protocol: r.protocol,
        port: r.port,
        verdict: r.verdict,
        rule: r.rule,
        packets: r.counters.packets,
        bytes: r.counters.bytes,
        connections: r.counters.connections,
        first_seen: r.counters.first_seen,
        last_seen: r.counters.last_seen,
    }
}
