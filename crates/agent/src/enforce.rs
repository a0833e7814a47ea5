//! Desired state + local inventory → the program of this node, and the context that
//! names its flows.

use crate::Error;
use crate::context::Context;
use bulkhead_api::DesiredState;
use bulkhead_compile::{Input, Program, compile};
use bulkhead_dataplane::Guard;
use bulkhead_policy::{Inventory, Mode, PolicySet, WorkloadId};
use bulkhead_runtime::Snapshot;
use std::collections::{BTreeMap, BTreeSet};

/// Compiles what `node` must enforce. The node's own workloads come from its local
/// snapshot (fresher than the server's copy, and known while the server is away); the
/// other nodes' from the desired state, which carries the whole inventory.
pub fn plan(node: &str, d: &DesiredState, snap: &Snapshot) -> Result<(Program, Context), Error> {
    let mut parsed = Vec::with_capacity(d.policies.len());
    for doc in &d.policies {
        parsed.push(doc.parse().map_err(|e| Error::Policy(e.to_string()))?);
    }
    let policies = PolicySet::new(parsed).map_err(|e| Error::Policy(e.to_string()))?;
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
    let modes: BTreeMap<WorkloadId, Mode> = inventory
        .workloads
        .iter()
        .map(|w| (w.id.clone(), d.mode_of(&w.id)))
        .collect();
    let program = compile(&Input {
        policies: &policies,
        inventory: &inventory,
        node: Some(node),
        modes: &modes,
        interfaces: &snap.interfaces,
    })?;
    let ctx = Context::new(node, inventory, policies, d.modes.clone(), d.default_mode);
    Ok((program, ctx))
}

/// The unknown-address guard for `snap`'s guarded ranges: every address of a workload
/// the program knows (local or on another node) and of the node is known.
pub fn guard(snap: &Snapshot, ctx: &Context) -> Guard {
    let mut known: BTreeSet<std::net::Ipv4Addr> = ctx
        .inventory
        .workloads
        .iter()
        .flat_map(|w| w.ips.iter().copied())
        .collect();
    known.extend(ctx.inventory.host_ips.iter().copied());
    Guard {
        ranges: snap.guarded.clone(),
        known,
    }
}
