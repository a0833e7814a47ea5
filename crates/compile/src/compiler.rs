//! `PolicySet` + `Inventory` → [`Program`](crate::Program).
//!
//! The stages, each in its own module:
//! 1. [`rules`]: policies in name order, rules numbered globally, peers interned.
//! 2. [`select`]: an index over the inventory answering selectors by posting lists.
//! 3. [`identity`]: addresses cut into atoms, atoms with equal signatures merged into
//!    identities, and the ipcache.
//! 4. [`endpoint`]: per local endpoint and direction, the resolved port tables. Endpoints
//!    selected by the same policies (and, for ingress named ports, with the same ports)
//!    share one computation.
//! 5. Here: rule numbers compacted into the final rule table.
//!
//! Everything is sorted by content, never by hash order, so one input gives one output.

mod endpoint;
mod identity;
mod ports;
mod rules;
mod select;

use crate::program::{DirectionProgram, Endpoint, NO_RULE, Program, RuleId};
use bulkhead_policy::ir::{PolicySet, Reason};
use bulkhead_policy::{Direction, Inventory, Mode, NamedPort, WorkloadId};
use std::collections::{BTreeMap, HashMap};

/// Everything one node's program is compiled from.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub policies: &'a PolicySet,
    pub inventory: &'a Inventory,
    /// The node to compile for: its endpoints are the workloads whose `node` equals it.
    /// `None`: every workload is local (a single-node setup).
    pub node: Option<&'a str>,
    /// Per-workload modes; a workload not listed is enforced.
    pub modes: &'a BTreeMap<WorkloadId, Mode>,
    /// Host-side interface of each local workload, when known.
    pub interfaces: &'a BTreeMap<WorkloadId, String>,
}

/// Identity ids are `u32` map keys and 0 is the wildcard.
pub const MAX_IDENTITIES: usize = u32::MAX as usize;
/// Rule numbers share a `u32` with the allow/deny bit while compiling.
pub const MAX_RULES: usize = (ports::ALLOW_BIT - 1) as usize;
/// Endpoint indexes are `u32`.
pub const MAX_WORKLOADS: usize = u32::MAX as usize;

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error(
        "the compiled program needs {needed} identities, more than the {max} a map key can hold"
    )]
    TooManyIdentities { needed: usize, max: usize },
    #[error("the policies hold {needed} rules, more than the {max} a rule id can number")]
    TooManyRules { needed: usize, max: usize },
    #[error("the inventory holds {needed} workloads, more than the {max} an endpoint index can number")]
    TooManyWorkloads { needed: usize, max: usize },
}

/// The key under which endpoints share a direction's table: the selecting policies and,
/// when an ingress rule names a port, the endpoint's own ports (which resolve it).
type ShareKey<'a> = (usize, Vec<u32>, &'a [NamedPort]);

pub fn compile(input: &Input<'_>) -> Result<Program, CompileError> {
    let rules = rules::Rules::new(input.policies);
    if rules.rules.len() > MAX_RULES {
        return Err(CompileError::TooManyRules {
            needed: rules.rules.len(),
            max: MAX_RULES,
        });
    }
    let workloads = &input.inventory.workloads;
    if workloads.len() > MAX_WORKLOADS {
        return Err(CompileError::TooManyWorkloads {
            needed: workloads.len(),
            max: MAX_WORKLOADS,
        });
    }
    let mut selector = select::Selector::new(workloads);
    let ids = identity::build(input.inventory, &mut selector, &rules);
    if ids.count() > MAX_IDENTITIES {
        return Err(CompileError::TooManyIdentities {
            needed: ids.count(),
            max: MAX_IDENTITIES,
        });
    }
    let local: Vec<u32> = (0..selector.workloads.len() as u32)
        .filter(|&p| {
            let w = selector.workloads[p as usize];
            input.node.is_none_or(|n| w.node.as_deref() == Some(n))
        })
        .collect();
    let selecting = subjects(&rules, &mut selector, &local);

    // Distinct direction tables, and which one each endpoint direction uses.
    let ctx = endpoint::Context::new(&rules, &ids);
    let mut tables: Vec<(usize, Vec<u32>, DirectionProgram)> = Vec::new();
    let mut shared: HashMap<ShareKey<'_>, usize> = HashMap::new();
    let mut uses: Vec<[Option<usize>; 2]> = Vec::with_capacity(local.len());
    for (l, &pos) in local.iter().enumerate() {
        let w = selector.workloads[pos as usize];
        let mut slots = [None, None];
        for (slot, direction) in [Direction::Ingress, Direction::Egress].into_iter().enumerate() {
            let policies = &selecting[slot][l];
            if policies.is_empty() {
                continue;
            }
            let named = slot == 0 && policies.iter().any(|&p| rules.named_ingress[p as usize]);
            let key = (slot, policies.clone(), if named { &w.ports[..] } else { &[] });
            let t = *shared.entry(key).or_insert_with(|| {
                tables.push((slot, policies.clone(), ctx.direction(w, direction, policies)));
                tables.len() - 1
            });
            slots[slot] = Some(t);
        }
        uses.push(slots);
    }
    let rules_table = renumber(&rules, &mut tables);

    let endpoints = local
        .iter()
        .zip(uses)
        .enumerate()
        .map(|(index, (&pos, slots))| {
            let w = selector.workloads[pos as usize];
            let table = |s: Option<usize>| s.map_or_else(DirectionProgram::default, |t| tables[t].2.clone());
            Endpoint {
                workload: w.id.clone(),
                index: index as u32,
                ips: w.ips.clone(),
                interface: input.interfaces.get(&w.id).cloned(),
                identity: ids.workload_identity[pos as usize],
                mode: input.modes.get(&w.id).copied().unwrap_or_default(),
                ingress: table(slots[0]),
                egress: table(slots[1]),
            }
        })
        .collect();
    Ok(Program {
        rules: rules_table,
        identities: ids.identities,
        ipcache: ids.ipcache,
        endpoints,
    })
}

/// For each direction and local endpoint: the policies (ascending) that select it and
/// isolate that direction.
fn subjects<'a>(
    rules: &rules::Rules<'a>,
    selector: &mut select::Selector<'a>,
    local: &[u32],
) -> [Vec<Vec<u32>>; 2] {
    let mut slot_of = vec![usize::MAX; selector.workloads.len()];
    for (l, &pos) in local.iter().enumerate() {
        slot_of[pos as usize] = l;
    }
    let mut out = [vec![Vec::new(); local.len()], vec![Vec::new(); local.len()]];
    for (p, policy) in rules.policies.iter().enumerate() {
        let ranges = &rules.ranges[p];
        if ranges.iter().all(Option::is_none) {
            continue;
        }
        let subject = &policy.subject;
        for pos in selector.select(&subject.namespaces, Some(&subject.workloads)) {
            let l = slot_of[pos as usize];
            if l == usize::MAX {
                continue;
            }
            for (slot, range) in ranges.iter().enumerate() {
                if range.is_some() {
                    out[slot][l].push(p as u32);
                }
            }
        }
    }
    out
}

/// Replaces global rule numbers by ids into the final rule table, which holds only the
/// reasons some entry or default refers to, in [`Reason`] order: `NotIsolated`, then
/// rules by (policy, direction, index), then default denies by (direction, policies).
fn renumber(
    rules: &rules::Rules<'_>,
    tables: &mut [(usize, Vec<u32>, DirectionProgram)],
) -> Vec<Reason> {
    let all_entries = |t: &DirectionProgram| {
        t.any
            .entries
            .iter()
            .chain(t.peers.values().flat_map(|p| p.entries.iter()))
            .map(|e| e.rule as usize)
            .collect::<Vec<_>>()
    };
    let mut used = vec![false; rules.rules.len()];
    for (_, _, t) in tables.iter() {
        for g in all_entries(t) {
            used[g] = true;
        }
    }
    let mut table = vec![Reason::NotIsolated];
    let mut id_of = vec![NO_RULE; rules.rules.len()];
    for (g, flat) in rules.rules.iter().enumerate() {
        if used[g] {
            id_of[g] = table.len() as RuleId;
            table.push(Reason::Rule {
                policy: rules.policies[flat.policy as usize].name.clone(),
                direction: flat.direction,
                index: flat.rule.index,
                action: flat.rule.action,
            });
        }
    }
    // Default denies come last, in (direction, policies) order.
    let defaults: Vec<RuleId> = {
        let mut keys: Vec<(usize, &[u32])> =
            tables.iter().map(|(s, p, _)| (*s, p.as_slice())).collect();
        keys.sort_unstable();
        keys.dedup();
        let base = table.len();
        for (slot, policies) in &keys {
            table.push(Reason::DefaultDeny {
                direction: [Direction::Ingress, Direction::Egress][*slot],
                policies: policies
                    .iter()
                    .map(|&p| rules.policies[p as usize].name.clone())
                    .collect(),
            });
        }
        tables
            .iter()
            .map(|(s, p, _)| {
                let i = keys.binary_search(&(*s, p.as_slice())).unwrap_or_default();
                (base + i) as RuleId
            })
            .collect()
    };
    for ((_, _, t), default) in tables.iter_mut().zip(defaults) {
        t.default_rule = default;
        let entries = t
            .any
            .entries
            .iter_mut()
            .chain(t.peers.values_mut().flat_map(|p| p.entries.iter_mut()));
        for e in entries {
            e.rule = id_of[e.rule as usize];
        }
    }
    table
}
