//! Workloads, modes and the agent channel.

use super::Core;
use super::auth::audit;
use super::state::{Known, State};
use crate::error::ServerError;
use crate::store::{self, AgentRow};
use bulkhead_api::{
    AgentInfo, AgentReport, DesiredState, Event, PolicyDocument, Revision, Timestamp, WorkloadInfo,
};
use bulkhead_policy::names::dns_subdomain_error;
use bulkhead_policy::{Inventory, Mode, WorkloadId};

impl Core {
    fn info(&self, state: &State, k: &Known) -> WorkloadInfo {
        let w = &k.workload;
        WorkloadInfo {
            id: w.id.clone(),
            labels: w.labels.clone(),
            namespace_labels: w.namespace_labels.clone(),
            ips: w.ips.clone(),
            ports: w.ports.clone(),
            node: w.node.clone(),
            mode: self.mode_in(state, &w.id),
            last_seen: Some(k.last_seen),
        }
    }

    pub(super) fn mode_in(&self, state: &State, id: &WorkloadId) -> Mode {
        state
            .modes
            .get(id)
            .copied()
            .unwrap_or(self.options.default_mode)
    }

    pub(super) fn workloads(&self) -> Vec<WorkloadInfo> {
        let state = self.lock();
        state
            .workloads
            .values()
            .map(|k| self.info(&state, k))
            .collect()
    }

    pub(super) fn workload(&self, id: &WorkloadId) -> Result<WorkloadInfo, ServerError> {
        let state = self.lock();
        if let Some(k) = state.workloads.get(id) {
            return Ok(self.info(&state, k));
        }
        // A mode can be set before any agent reports the workload; show that much.
        match state.modes.get(id) {
            Some(&mode) => Ok(WorkloadInfo {
                id: id.clone(),
                labels: Default::default(),
                namespace_labels: Default::default(),
                ips: Vec::new(),
                ports: Vec::new(),
                node: None,
                mode,
                last_seen: None,
            }),
            None => Err(ServerError::NotFound(format!("no workload `{id}`"))),
        }
    }

    pub(super) fn set_mode(
        &self,
        actor: &str,
        id: WorkloadId,
        mode: Mode,
    ) -> Result<Revision, ServerError> {
        let mut state = self.lock();
        let old = self.mode_in(&state, &id);
        if state.modes.get(&id) == Some(&mode) {
            return Ok(Revision {
                revision: self.current_revision(),
            });
        }
        let tx = state.store.transaction()?;
        let revision = store::bump_revision(&tx)?;
        store::set_mode(&tx, &id, mode, Timestamp::now(), actor)?;
        let mut entry = audit(
            actor,
            "mode.set",
            &id.to_string(),
            format!("{old} -> {mode}"),
        );
        entry.revision = Some(revision);
        store::insert_audit(&tx, &entry)?;
        tx.commit()?;
        state.modes.insert(id.clone(), mode);
        drop(state);
        self.moved_to(revision);
        self.publish(Event::Mode {
            revision,
            workload: id,
            mode,
        });
        Ok(Revision { revision })
    }

    pub(super) fn agents(&self) -> Vec<AgentInfo> {
        let state = self.lock();
        let current = self.current_revision();
        state
            .agents
            .values()
            .map(|a| AgentInfo {
                node: a.node.clone(),
                status: a.status.clone(),
                workloads: state
                    .workloads
                    .values()
                    .filter(|k| k.workload.node.as_deref() == Some(&a.node))
                    .count(),
                last_seen: a.last_seen,
                in_sync: a.status.revision == Some(current),
            })
            .collect()
    }

    /// An agent's report: its node's workloads replace what the node had before. The
    /// revision moves only if the inventory changed (labels, addresses, ports, presence),
    /// not on every heartbeat.
    pub(super) fn report(
        &self,
        node: &str,
        mut report: AgentReport,
    ) -> Result<Revision, ServerError> {
        check_node(node)?;
        for (i, w) in report.workloads.iter_mut().enumerate() {
            match &w.node {
                Some(n) if n != node => {
                    return Err(ServerError::invalid(format!(
                        "workloads[{i}].node: `{n}` is not this agent's node `{node}`"
                    )));
                }
                _ => w.node = Some(node.to_string()),
            }
            if w.ips.is_empty() {
                return Err(ServerError::invalid(format!(
                    "workloads[{i}].ips: a workload needs an address"
                )));
            }
        }
        let now = Timestamp::now();
        let mut state = self.lock();
        let old_agent = state.agents.get(node).cloned();
        let mut changed = old_agent.as_ref().is_none_or(|a| {
            a.cluster_cidrs != report.cluster_cidrs || a.host_ips != report.host_ips
        });
        let mine: Vec<&WorkloadId> = state
            .workloads
            .values()
            .filter(|k| k.workload.node.as_deref() == Some(node))
            .map(|k| &k.workload.id)
            .collect();
        changed |= mine.len() != report.workloads.len()
            || report
                .workloads
                .iter()
                .any(|w| state.workloads.get(&w.id).is_none_or(|k| k.workload != *w));

        let agent = AgentRow {
            node: node.to_string(),
            status: report.status.clone(),
            cluster_cidrs: report.cluster_cidrs.clone(),
            host_ips: report.host_ips.clone(),
            last_seen: now,
            ..old_agent.unwrap_or_else(|| empty_agent(node, now))
        };
        let tx = state.store.transaction()?;
        let keep: Vec<WorkloadId> = report.workloads.iter().map(|w| w.id.clone()).collect();
        store::delete_workloads_except(&tx, node, &keep)?;
        for w in &report.workloads {
            store::upsert_workload(&tx, w, node, now)?;
        }
        store::save_agent(&tx, &agent)?;
        let revision = if changed {
            store::bump_revision(&tx)?
        } else {
            store::revision(&tx)?
        };
        tx.commit()?;

        state
            .workloads
            .retain(|_, k| k.workload.node.as_deref() != Some(node));
        for w in report.workloads {
            state.workloads.insert(
                w.id.clone(),
                Known {
                    key: w.id.to_string(),
                    workload: w,
                    last_seen: now,
                },
            );
        }
        state.agents.insert(node.to_string(), agent);
        self.metrics.set_agents(&state.agents);
        self.metrics.set_workloads(state.workloads.len());
        drop(state);
        if changed {
            self.moved_to(revision);
            self.publish(Event::Workloads {
                revision,
                node: node.to_string(),
            });
        }
        self.publish(Event::Agent {
            node: node.to_string(),
            status: report.status,
        });
        Ok(Revision { revision })
    }

    /// The desired state for every node: policies, modes and the whole inventory.
    pub(super) fn desired(&self, node: &str) -> Result<DesiredState, ServerError> {
        check_node(node)?;
        let state = self.lock();
        let conn = state.store.conn();
        let revision = store::revision(conn)?;
        let policies = store::load_policies(conn)?
            .into_iter()
            .map(|p| PolicyDocument {
                name: p.name,
                kind: p.kind,
                version: p.version,
                file: p.file,
                source: p.source,
            })
            .collect();
        let inventory = inventory(&state);
        Ok(DesiredState {
            revision,
            policies,
            modes: state.modes.clone(),
            default_mode: self.options.default_mode,
            inventory,
        })
    }
}

/// The whole inventory: every node's workloads, the union of their address ranges.
pub(super) fn inventory(state: &State) -> Inventory {
    let mut inventory = Inventory::default();
    for a in state.agents.values() {
        inventory
            .cluster_cidrs
            .extend(a.cluster_cidrs.iter().copied());
        inventory.host_ips.extend(a.host_ips.iter().copied());
    }
    inventory.cluster_cidrs.sort();
    inventory.cluster_cidrs.dedup();
    inventory.host_ips.sort();
    inventory.host_ips.dedup();
    inventory.workloads = state
        .workloads
        .values()
        .map(|k| k.workload.clone())
        .collect();
    inventory
}

pub(super) fn empty_agent(node: &str, now: Timestamp) -> AgentRow {
    AgentRow {
        node: node.to_string(),
        status: Default::default(),
        cluster_cidrs: Vec::new(),
        host_ips: Vec::new(),
        last_seen: now,
        instance: None,
        last_sequence: None,
        dropped_records: 0,
        lost_events: 0,
    }
}

/// Node names are DNS subdomains, as Kubernetes node names are.
pub(super) fn check_node(node: &str) -> Result<(), ServerError> {
    match dns_subdomain_error(node) {
        Some(e) => Err(ServerError::BadRequest(format!("node: {e}"))),
        None => Ok(()),
    }
}
