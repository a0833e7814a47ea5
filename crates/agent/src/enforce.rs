//! Desired state + local inventory → the program of this node, and the context that
//! names its flows.
//!
//! [`plan`] is the whole path: parse every document, compile everything. The agent runs
//! the [`Planner`](crate::planner::Planner), which keeps what did not change; `plan` is
//! what it must always equal, and the baseline its tests and bench compare against.

use crate::Error;
use crate::context::{Context, Workloads};
use bulkhead_api::DesiredState;
use bulkhead_compile::{Input, Program, compile};
use bulkhead_dataplane::Guard;
use bulkhead_policy::{Inventory, Mode, PolicySet, WorkloadId};
use bulkhead_runtime::Snapshot;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Compiles what `node` must enforce, parsing every policy document of `d`.
pub fn plan(node: &str, d: &DesiredState, snap: &Snapshot) -> Result<(Program, Context), Error> {
    let mut parsed = Vec::with_capacity(d.policies.len());
    for doc in &d.policies {
        parsed.push(doc.parse().map_err(|e| Error::Policy(e.to_string()))?);
    }
    let policies = PolicySet::new(parsed).map_err(|e| Error::Policy(e.to_string()))?;
    let (inventory, modes) = inputs(node, d, snap);
    let program = compile(&Input {
        policies: &policies,
        inventory: &inventory,
        node: Some(node),
        modes: &modes,
        interfaces: &snap.interfaces,
    })?;
    let ctx = Context::new(
        node,
        Arc::new(Workloads::new(inventory)),
        Arc::new(policies),
        Arc::new(d.modes.clone()),
        d.default_mode,
    );
    Ok((program, ctx))
}

/// The inventory and modes `node` compiles with. The node's own workloads come from its
/// local snapshot (fresher than the server's copy, and known while the server is away);
/// the other nodes' from the desired state, which carries the whole inventory.
pub fn inputs(
    node: &str,
    d: &DesiredState,
    snap: &Snapshot,
) -> (Inventory, BTreeMap<WorkloadId, Mode>) {
    let mine: BTreeSet<&WorkloadId> = snap.workloads.iter().map(|w| &w.id).collect();
    let mut workloads: Vec<_> = d
        .inventory
        .workloads
        .iter()
        .filter(|w| w.node.as_deref() != Some(node) && !mine.contains(&w.id))
        .cloned()
        .collect();
    workloads.extend(snap.workloads.iter().cloned());
    workloads.sort_by(|a, b| a.id.cmp(&b.id));
    let mut cluster_cidrs = d.inventory.cluster_cidrs.clone();
    cluster_cidrs.extend(snap.cluster_cidrs.iter().copied());
    cluster_cidrs.sort();
    cluster_cidrs.dedup();
    let mut host_ips = d.inventory.host_ips.clone();
    host_ips.extend(snap.host_ips.iter().copied());
    host_ips.sort();
    host_ips.dedup();
    let inventory = Inventory {
        workloads,
        cluster_cidrs,
        host_ips,
    };
    // The compiler treats a workload without a mode as enforced; the server's default
    // may differ, so every workload's mode is spelled out.
    let modes = inventory
        .workloads
        .iter()
        .map(|w| (w.id.clone(), d.mode_of(&w.id)))
        .collect();
    (inventory, modes)
}

/// The unknown-address guard for `snap`'s guarded ranges: every address of a workload
/// the program knows (local or on another node) and of the node is known.
pub fn guard(snap: &Snapshot, ctx: &Context) -> Guard {
    let inventory = ctx.inventory();
    let mut known: BTreeSet<std::net::Ipv4Addr> = inventory
        .workloads
        .iter()
        .flat_map(|w| w.ips.iter().copied())
        .collect();
    known.extend(inventory.host_ips.iter().copied());
    Guard {
        ranges: snap.guarded.clone(),
        known,
    }
}
