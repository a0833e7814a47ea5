//! The core's state: the store, and caches of it rebuilt at start.

use crate::error::ServerError;
use crate::graph::{FlowGraph, Recent};
use crate::store::{self, AgentRow, Store};
use bulkhead_api::{Timestamp, TokenInfo};
use bulkhead_policy::{Mode, Workload, WorkloadId};
use petgraph::stable_graph::EdgeIndex;
use std::collections::{BTreeMap, HashMap};

/// A workload an agent reported.
#[derive(Clone, Debug)]
pub struct Known {
    /// The id as text (`ns/name`), kept to match flow endpoints without formatting.
    pub key: String,
    pub workload: Workload,
    pub last_seen: Timestamp,
}

pub struct State {
    pub store: Store,
    pub graph: FlowGraph,
    /// The latest per-minute buckets, by graph edge index.
    pub recent: Recent,
    /// The last minute folded into the edge rows (store::fold).
    pub folded: i64,
    /// Buckets and rollups before this minute are pruned (retention); i64::MIN: none yet.
    pub pruned: i64,
    pub workloads: BTreeMap<WorkloadId, Known>,
    pub agents: BTreeMap<String, AgentRow>,
    pub modes: BTreeMap<WorkloadId, Mode>,
    /// By SHA-256 of the token text.
    pub tokens: HashMap<[u8; 32], TokenInfo>,
}

impl State {
    pub fn load(store: Store, recent_buckets: usize) -> Result<State, ServerError> {
        let conn = store.conn();
        let mut graph = FlowGraph::default();
        for (id, name) in store::load_names(conn)? {
            graph.names.insert(id, &name);
        }
        let mut index = HashMap::new();
        for row in store::load_edges(conn)? {
            index.insert(row.data.id, graph.insert(&row));
        }
        let recent = load_recent(conn, &index, recent_buckets)?;
        let folded = store::folded_through(conn)?;
        let workloads = store::load_workloads(conn)?
            .into_iter()
            .map(|(w, last_seen)| {
                (
                    w.id.clone(),
                    Known {
                        key: w.id.to_string(),
                        workload: w,
                        last_seen,
                    },
                )
            })
            .collect();
        let agents = store::load_agents(conn)?
            .into_iter()
            .map(|a| (a.node.clone(), a))
            .collect();
        let modes = store::load_modes(conn)?;
        let tokens = store::load_tokens(conn)?
            .into_iter()
            .map(|t| (t.hash, t.info))
            .collect();
        Ok(State {
            store,
            graph,
            recent,
            folded,
            pruned: i64::MIN,
            workloads,
            agents,
            modes,
            tokens,
        })
    }
}

/// The newest minutes of buckets that fit in `cap` entries.
fn load_recent(
    conn: &rusqlite::Connection,
    index: &HashMap<u64, EdgeIndex>,
    cap: usize,
) -> Result<Recent, ServerError> {
    let mut recent = Recent::new(cap);
    match store::recent_minutes(conn, cap)? {
        // Every minute fits: memory is complete.
        Some((from, true)) => load_from(conn, index, &mut recent, from)?,
        Some((from, false)) => {
            recent.complete_from(from);
            load_from(conn, index, &mut recent, from)?;
        }
        // Not even the newest minute fits, or there are none.
        None => {
            if let Some(newest) = store::newest_minute(conn)? {
                recent.complete_from(newest + 1);
            }
        }
    }
    Ok(recent)
}

fn load_from(
    conn: &rusqlite::Connection,
    index: &HashMap<u64, EdgeIndex>,
    recent: &mut Recent,
    from: i64,
) -> Result<(), ServerError> {
    for (id, minute, c) in store::load_buckets(conn, from)? {
        if let Some(e) = index.get(&id) {
            recent.add(*e, minute, &c);
        }
    }
    Ok(())
}
