//! The connection graph in memory: endpoints joined by flow edges, kept in step with the
//! store so graph queries never touch the disk.
//!
//! An edge is one (source, destination, protocol, port, verdict): the same connection
//! pattern with the same outcome is one edge, whichever rule decided it. The deciding
//! rule is an attribute, the one of the most recent traffic (a flow recorded without a
//! rule while learning and later passed by a baseline rule is one edge, now showing the
//! baseline rule). A changed verdict is a different edge: the UI and the violations list
//! show denied attempts apart from the allowed history.
//!
//! A `petgraph` `StableDiGraph` holds the structure (a workload's edges are found without
//! scanning the rest); a hash index finds an edge by its key in O(1) during ingest.
//! Names are interned ([`Names`]) with the store's numbers.

mod names;
pub mod recent;

pub use names::Names;
pub use recent::Recent;

pub use crate::store::EdgeData;
use crate::store::{Counters, EdgeFilter, EdgeRow, StoredEdge};
use bulkhead_api::{GraphEdge, IpProtocol, Verdict};
use foldhash::HashMap;
use petgraph::Direction;
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeIndexable, EdgeRef, IntoEdgeReferences};

/// An edge's identity, with endpoints by graph node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct EdgeKey {
    src: NodeIndex,
    dst: NodeIndex,
    protocol: u8,
    port: u16,
    verdict: Verdict,
}

#[derive(Default)]
pub struct FlowGraph {
    /// Node weights are endpoint name numbers.
    graph: StableDiGraph<u32, EdgeData>,
    nodes: HashMap<u32, NodeIndex>,
    edges: HashMap<EdgeKey, EdgeIndex>,
    pub names: Names,
    max_id: u64,
}

impl FlowGraph {
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// One past the largest edge index: sizes dense per-edge tables.
    pub fn edge_bound(&self) -> usize {
        EdgeIndexable::edge_bound(&self.graph)
    }

    /// The id the next new edge gets (ids are never reused).
    pub fn next_id(&self) -> u64 {
        self.max_id + 1
    }

    /// The edge with this identity, if any; never allocates.
    pub fn find(
        &self,
        src: u32,
        dst: u32,
        protocol: IpProtocol,
        port: u16,
        verdict: Verdict,
    ) -> Option<EdgeIndex> {
        let key = EdgeKey {
            src: *self.nodes.get(&src)?,
            dst: *self.nodes.get(&dst)?,
            protocol: protocol.0,
            port,
            verdict,
        };
        self.edges.get(&key).copied()
    }

    pub fn get(&self, edge: EdgeIndex) -> Option<&EdgeData> {
        self.graph.edge_weight(edge)
    }

    /// Replaces an edge's counters and attributes (after the store has them).
    pub fn set(&mut self, edge: EdgeIndex, data: EdgeData) {
        if let Some(e) = self.graph.edge_weight_mut(edge) {
            *e = data;
        }
    }

    /// Inserts an edge that [`FlowGraph::find`] did not find; returns where it is.
    pub fn insert(&mut self, row: &StoredEdge) -> EdgeIndex {
        let src = self.endpoint(row.src);
        let dst = self.endpoint(row.dst);
        let key = EdgeKey {
            src,
            dst,
            protocol: row.data.protocol.0,
            port: row.data.port,
            verdict: row.data.verdict,
        };
        let e = self.graph.add_edge(src, dst, row.data);
        self.edges.insert(key, e);
        self.max_id = self.max_id.max(row.data.id);
        e
    }

    fn endpoint(&mut self, name: u32) -> NodeIndex {
        if let Some(n) = self.nodes.get(&name) {
            return *n;
        }
        let n = self.graph.add_node(name);
        self.nodes.insert(name, n);
        n
    }

    /// The edges passing `keep`, as the API shows them, in id order. With `around`,
    /// only the edges of that endpoint (found through the graph, not by scanning every
    /// edge). `counters` may replace an edge's totals (a time window) or leave it out.
    pub fn edges<F>(&self, around: Option<&str>, keep: F) -> Vec<GraphEdge>
    where
        F: Fn(&GraphEdge) -> bool,
    {
        self.edges_with(around, |_, e| Some(e.counters), keep)
    }

    /// Like [`FlowGraph::edges`], with each edge's counters chosen by `counters` (from
    /// its index and data; None leaves the edge out).
    pub fn edges_with<C, F>(&self, around: Option<&str>, counters: C, keep: F) -> Vec<GraphEdge>
    where
        C: Fn(EdgeIndex, &EdgeData) -> Option<Counters>,
        F: Fn(&GraphEdge) -> bool,
    {
        let mut out = Vec::new();
        self.each(around, &mut |idx, src, dst, e| {
            let Some(c) = counters(idx, e) else {
                return;
            };
            let edge = self.view(src, dst, e, &c);
            if keep(&edge) {
                out.push(edge);
            }
        });
        out.sort_unstable_by_key(|e| e.id);
        out
    }

    /// The edges passing `f` (all but its window) as rows with names, in id order, up to
    /// its limit; `counters` chooses each edge's counters as in [`FlowGraph::edges_with`].
    /// Filters are checked before anything is allocated.
    pub fn rows<C>(&self, f: &EdgeFilter<'_>, counters: C) -> Vec<EdgeRow>
    where
        C: Fn(EdgeIndex, &EdgeData) -> Option<Counters>,
    {
        let in_ns = |n: &str, ns: &str| n.split_once('/').is_some_and(|(x, _)| x == ns);
        let mut hits: Vec<(u64, EdgeIndex, Counters)> = Vec::new();
        let mut consider = |idx: EdgeIndex, src: NodeIndex, dst: NodeIndex, e: &EdgeData| {
            if e.id <= f.after
                || f.verdict.is_some_and(|v| v != e.verdict)
                || (f.violations && e.verdict == Verdict::Allowed)
            {
                return;
            }
            if let Some(ns) = f.namespace {
                let (s, d) = (
                    self.names.name(self.graph[src]),
                    self.names.name(self.graph[dst]),
                );
                if !in_ns(s, ns) && !in_ns(d, ns) {
                    return;
                }
            }
            if let Some(c) = counters(idx, e) {
                hits.push((e.id, idx, c));
            }
        };
        self.each(f.workload, &mut consider);
        hits.sort_unstable_by_key(|h| h.0);
        if let Some(limit) = f.limit {
            hits.truncate(limit as usize);
        }
        hits.into_iter()
            .filter_map(|(_, idx, c)| {
                let (src, dst) = self.graph.edge_endpoints(idx)?;
                let e = self.graph.edge_weight(idx)?;
                let name = |n: u32| (n != 0).then(|| self.names.name(n).to_string());
                Some(EdgeRow {
                    id: e.id,
                    source: self.names.name(self.graph[src]).to_string(),
                    destination: self.names.name(self.graph[dst]).to_string(),
                    protocol: e.protocol,
                    port: e.port,
                    verdict: e.verdict,
                    rule: name(e.rule),
                    node: name(e.node),
                    counters: c,
                })
            })
            .collect()
    }

    /// Calls `f` for every edge, or with `around` for that endpoint's edges only.
    fn each(
        &self,
        around: Option<&str>,
        f: &mut impl FnMut(EdgeIndex, NodeIndex, NodeIndex, &EdgeData),
    ) {
        match around {
            Some(name) => {
                let Some(n) = self.names.id(name).and_then(|id| self.nodes.get(&id)) else {
                    return;
                };
                for dir in [Direction::Outgoing, Direction::Incoming] {
                    for e in self.graph.edges_directed(*n, dir) {
                        // A self-edge shows up in both directions: count it once.
                        if dir == Direction::Incoming && e.source() == e.target() {
                            continue;
                        }
                        f(e.id(), e.source(), e.target(), e.weight());
                    }
                }
            }
            None => {
                for e in self.graph.edge_references() {
                    f(e.id(), e.source(), e.target(), e.weight());
                }
            }
        }
    }

    fn view(&self, src: NodeIndex, dst: NodeIndex, e: &EdgeData, c: &Counters) -> GraphEdge {
        GraphEdge {
            id: e.id,
            source: self.names.name(self.graph[src]).to_string(),
            destination: self.names.name(self.graph[dst]).to_string(),
            protocol: e.protocol,
            port: e.port,
            verdict: e.verdict,
            rule: (e.rule != 0).then(|| self.names.name(e.rule).to_string()),
            packets: c.packets,
            bytes: c.bytes,
            connections: c.connections,
            first_seen: c.first_seen,
            last_seen: c.last_seen,
        }
    }

    /// The API view of one edge, by index (after an ingest, for live updates).
    pub fn edge_view(&self, edge: EdgeIndex) -> Option<GraphEdge> {
        let (src, dst) = self.graph.edge_endpoints(edge)?;
        let e = self.graph.edge_weight(edge)?;
        Some(self.view(src, dst, e, &e.counters))
    }
}
