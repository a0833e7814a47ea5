//! Rules in the shape the prepared evaluator walks: each workload peer (a selector) is
//! matched against the inventory once, at set-up, into a bit set of workload indices, so
//! a flow tests a bit where the reference evaluator compares namespaces and labels.
//! Identical peers (the same selector in many rules) share one bit set.

use crate::ir::{Peer, PolicySet, PortSpec, Rule};
use crate::model::{Action, Direction, Inventory, Labels};
use std::collections::HashMap;

/// One rule: the original's ports, its peers compiled.
pub(super) struct CompiledRule<'a> {
    pub index: usize,
    pub action: Action,
    pub ports: Option<&'a [PortSpec]>,
    pub peers: Option<Vec<CompiledPeer<'a>>>,
}

pub(super) enum CompiledPeer<'a> {
    /// Matches the workloads whose bit is set in `Compiled::sets[i]`.
    Workloads(usize),
    /// Addresses and entities: matched as written.
    Other(&'a Peer),
}

pub(super) struct Compiled<'a> {
    /// Per policy: [ingress, egress] rules (empty when the direction is absent).
    pub rules: Vec<[Vec<CompiledRule<'a>>; 2]>,
    pub sets: Vec<Vec<u64>>,
}

impl<'a> Compiled<'a> {
    pub fn new(policies: &'a PolicySet, inventory: &Inventory) -> Compiled<'a> {
        // Workloads per (namespace, namespace labels): a peer's namespace part is decided
        // once per group, exactly as `Peer::matches` decides it per workload.
        let mut by_ns: HashMap<(&str, &Labels), Vec<usize>> = HashMap::new();
        for (i, w) in inventory.workloads.iter().enumerate() {
            by_ns
                .entry((w.id.namespace.as_str(), &w.namespace_labels))
                .or_default()
                .push(i);
        }
        let words = inventory.workloads.len().div_ceil(64);
        let mut ids: HashMap<&'a Peer, usize> = HashMap::new();
        let mut sets: Vec<Vec<u64>> = Vec::new();
        let mut peer = |p: &'a Peer| -> CompiledPeer<'a> {
            let Peer::Workloads {
                namespaces,
                workloads,
            } = p
            else {
                return CompiledPeer::Other(p);
            };
            let id = *ids.entry(p).or_insert_with(|| {
                let mut bits = vec![0u64; words];
                for ((ns, ns_labels), members) in &by_ns {
                    if !namespaces.matches(ns, ns_labels) {
                        continue;
                    }
                    for &i in members {
                        let labels = &inventory.workloads[i].labels;
                        if workloads.as_ref().is_none_or(|s| s.matches(labels)) {
                            bits[i / 64] |= 1 << (i % 64);
                        }
                    }
                }
                sets.push(bits);
                sets.len() - 1
            });
            CompiledPeer::Workloads(id)
        };
        let mut compile = |rules: Option<&'a [Rule]>| -> Vec<CompiledRule<'a>> {
            rules
                .unwrap_or_default()
                .iter()
                .map(|r| CompiledRule {
                    index: r.index,
                    action: r.action,
                    ports: r.ports.as_deref(),
                    peers: r
                        .peers
                        .as_ref()
                        .map(|ps| ps.iter().map(&mut peer).collect()),
                })
                .collect()
        };
        let rules = policies
            .policies
            .iter()
            .map(|p| {
                [
                    compile(p.rules(Direction::Ingress)),
                    compile(p.rules(Direction::Egress)),
                ]
            })
            .collect();
        Compiled { rules, sets }
    }

    pub fn contains(&self, set: usize, workload: usize) -> bool {
        self.sets[set][workload / 64] & (1 << (workload % 64)) != 0
    }
}
