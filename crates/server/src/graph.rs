//! The connection graph in memory: endpoints joined by flow edges, kept in step with the
//! store so graph queries never touch the disk.
//!
//! A `petgraph` `StableDiGraph` holds the structure (so a workload's edges are found
//! without scanning the rest); hash indexes find an edge by its key in O(1) during
//! ingest. Strings are interned: 100,000 edges share a few thousand endpoint and rule
//! names.

use crate::store::{Counters, EdgeRow};
use bulkhead_api::{GraphEdge, IpProtocol, Verdict};
use foldhash::HashMap;
use petgraph::Direction;
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};
use std::sync::Arc;

/// An edge's key with interned parts: endpoints by node, rule by number (0 = none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct EdgeKey {
    src: NodeIndex,
    dst: NodeIndex,
    protocol: u8,
    port: u16,
    verdict: Verdict,
    rule: u32,
}

#[derive(Clone, Debug)]
pub struct EdgeData {
    pub id: u64,
    pub protocol: IpProtocol,
    pub port: u16,
    pub verdict: Verdict,
    rule: u32,
    pub node: Option<Arc<str>>,
    pub counters: Counters,
}

#[derive(Default)]
pub struct FlowGraph {
    graph: StableDiGraph<Arc<str>, EdgeData>,
    nodes: HashMap<Arc<str>, NodeIndex>,
    edges: HashMap<EdgeKey, EdgeIndex>,
    rule_ids: HashMap<Arc<str>, u32>,
    /// `rules[n - 1]` is rule number `n`.
    rules: Vec<Arc<str>>,
    nodes_names: HashMap<Arc<str>, Arc<str>>,
    max_id: u64,
}

/// Where a key is, if it is already in the graph.
pub type Found = Option<(EdgeIndex, u64)>;

impl FlowGraph {
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// The id the next new edge gets (ids are never reused).
    pub fn next_id(&self) -> u64 {
        self.max_id + 1
    }

    /// The edge with this key, if any; never allocates.
    pub fn find(
        &self,
        source: &str,
        destination: &str,
        protocol: IpProtocol,
        port: u16,
        verdict: Verdict,
        rule: Option<&str>,
    ) -> Found {
        let src = *self.nodes.get(source)?;
        let dst = *self.nodes.get(destination)?;
        let rule = match rule {
            None => 0,
            Some(r) => *self.rule_ids.get(r)?,
        };
        let key = EdgeKey {
            src,
            dst,
            protocol: protocol.0,
            port,
            verdict,
            rule,
        };
        let e = *self.edges.get(&key)?;
        Some((e, self.graph[e].id))
    }

    /// Adds counters to an edge found with [`FlowGraph::find`].
    pub fn add(&mut self, edge: EdgeIndex, counters: &Counters, node: &str) {
        let node = self.intern_node_name(node);
        if let Some(e) = self.graph.edge_weight_mut(edge) {
            e.counters.add(counters);
            e.node = Some(node);
        }
    }

    /// Inserts an edge that [`FlowGraph::find`] did not find; returns where it is.
    pub fn insert(&mut self, row: &EdgeRow) -> EdgeIndex {
        let src = self.endpoint(&row.source);
        let dst = self.endpoint(&row.destination);
        let rule = match &row.rule {
            None => 0,
            Some(r) => self.rule(r),
        };
        let node = row.node.as_deref().map(|n| self.intern_node_name(n));
        let data = EdgeData {
            id: row.id,
            protocol: row.protocol,
            port: row.port,
            verdict: row.verdict,
            rule,
            node,
            counters: row.counters,
        };
        let key = EdgeKey {
            src,
            dst,
            protocol: row.protocol.0,
            port: row.port,
            verdict: row.verdict,
            rule,
        };
        let e = self.graph.add_edge(src, dst, data);
        self.edges.insert(key, e);
        self.max_id = self.max_id.max(row.id);
        e
    }

    fn endpoint(&mut self, name: &str) -> NodeIndex {
        if let Some(n) = self.nodes.get(name) {
            return *n;
        }
        let name: Arc<str> = Arc::from(name);
        let n = self.graph.add_node(name.clone());
        self.nodes.insert(name, n);
        n
    }

    fn rule(&mut self, text: &str) -> u32 {
        if let Some(n) = self.rule_ids.get(text) {
            return *n;
        }
        let text: Arc<str> = Arc::from(text);
        self.rules.push(text.clone());
        let n = self.rules.len() as u32;
        self.rule_ids.insert(text, n);
        n
    }

    fn intern_node_name(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.nodes_names.get(name) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(name);
        self.nodes_names.insert(n.clone(), n.clone());
        n
    }

    /// Every endpoint name (workload ids and outside addresses) with at least one edge.
    pub fn endpoints(&self) -> impl Iterator<Item = &str> {
        self.graph.node_weights().map(|n| &**n)
    }

    /// The edges passing `keep`, as the API shows them. With `around`, only the edges of
    /// that endpoint (found through the graph, not by scanning every edge).
    pub fn edges<F>(&self, around: Option<&str>, keep: F) -> Vec<GraphEdge>
    where
        F: Fn(&GraphEdge) -> bool,
    {
        let mut out = Vec::new();
        let mut push = |src: NodeIndex, dst: NodeIndex, e: &EdgeData| {
            let edge = self.view(src, dst, e);
            if keep(&edge) {
                out.push(edge);
            }
        };
        match around {
            Some(name) => {
                let Some(&n) = self.nodes.get(name) else {
                    return out;
                };
                for dir in [Direction::Outgoing, Direction::Incoming] {
                    for e in self.graph.edges_directed(n, dir) {
                        // A self-edge shows up in both directions: count it once.
                        if dir == Direction::Incoming && e.source() == e.target() {
                            continue;
                        }
                        push(e.source(), e.target(), e.weight());
                    }
                }
            }
            None => {
                for e in self.graph.edge_references() {
                    push(e.source(), e.target(), e.weight());
                }
            }
        }
        out.sort_unstable_by_key(|e| e.id);
        out
    }

    fn view(&self, src: NodeIndex, dst: NodeIndex, e: &EdgeData) -> GraphEdge {
        let rule = match e.rule {
            0 => None,
            n => self.rules.get(n as usize - 1).map(|r| r.to_string()),
        };
        GraphEdge {
            id: e.id,
            source: self.graph[src].to_string(),
            destination: self.graph[dst].to_string(),
            protocol: e.protocol,
            port: e.port,
            verdict: e.verdict,
            rule,
            packets: e.counters.packets,
            bytes: e.counters.bytes,
            connections: e.counters.connections,
            first_seen: e.counters.first_seen,
            last_seen: e.counters.last_seen,
        }
    }

    /// The API view of one edge, by index (after an ingest, for live updates).
    pub fn edge_view(&self, edge: EdgeIndex) -> Option<GraphEdge> {
        let (src, dst) = self.graph.edge_endpoints(edge)?;
        Some(self.view(src, dst, self.graph.edge_weight(edge)?))
    }
}
