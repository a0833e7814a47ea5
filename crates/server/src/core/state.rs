//! The core's state: the store, and caches of it rebuilt at start.

use crate::error::ServerError;
use crate::graph::FlowGraph;
use crate::store::{self, AgentRow, Store};
use bulkhead_api::{Timestamp, TokenInfo};
use bulkhead_policy::{Mode, Workload, WorkloadId};
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
    pub workloads: BTreeMap<WorkloadId, Known>,
    pub agents: BTreeMap<String, AgentRow>,
    pub modes: BTreeMap<WorkloadId, Mode>,
    /// By SHA-256 of the token text.
    pub tokens: HashMap<[u8; 32], TokenInfo>,
}

impl State {
    pub fn load(store: Store) -> Result<State, ServerError> {
        let conn = store.conn();
        let mut graph = FlowGraph::default();
        for row in store::load_edges(conn)? {
            let _ = graph.insert(&row);
        }
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
            workloads,
            agents,
            modes,
            tokens,
        })
    }
}
