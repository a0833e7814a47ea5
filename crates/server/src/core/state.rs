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
    /// The latest hours' sums of every minute (folded or not), by graph edge index.
    pub hours: Recent,
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
    pub fn load(
        store: Store,
        recent_buckets: usize,
        hours_cap: usize,
    ) -> Result<State, ServerError> {
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
        let hours = load_hours(conn, &index, hours_cap, folded)?;
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
            hours,
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

/// The newest hours that fit in `cap` entries: their folded minutes from the hour rows,
/// the rest from the buckets not folded yet.
fn load_hours(
    conn: &rusqlite::Connection,
    index: &HashMap<u64, EdgeIndex>,
    cap: usize,
    folded: i64,
) -> Result<Recent, ServerError> {
    let mut hours = Recent::hours(cap);
    let from = match store::recent_hours(conn, cap)? {
        Some((from, complete)) => {
            if !complete {
                hours.complete_from(from);
            }
            from
        }
        None => {
            // Nothing fits: memory starts after the newest minute there is.
            let next = store::newest_minute(conn)?.map(|m| m.div_euclid(60) + 1);
            if let Some(next) = next {
                hours.complete_from(next);
            }
            next.unwrap_or(i64::MIN)
        }
    };
    let add = |hours: &mut Recent, id: u64, hour: i64, c: &crate::store::Counters| {
        if let Some(e) = index.get(&id) {
            hours.add(*e, hour, c);
        }
    };
    for (id, hour, c) in store::load_hours(conn, from)? {
        add(&mut hours, id, hour, &c);
    }
    for (id, minute, c) in store::load_buckets(conn, folded.saturating_add(1))? {
        add(&mut hours, id, minute.div_euclid(60), &c);
    }
    // The unfolded minutes may add entries beyond the count: the bound holds again.
    hours.trim();
    Ok(hours)
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
