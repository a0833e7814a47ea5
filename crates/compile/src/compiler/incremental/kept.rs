//! What a whole compile keeps for later updates, owned (no borrow of the input), and
//! the view of a new policy set through it.

use super::super::Input;
use super::super::csr::Csr;
use super::super::endpoint::RuleSource;
use super::super::hash::FastMap;
use super::super::par;
use super::super::peer_sets::PeerSets;
use super::super::port_items::RulePorts;
use super::super::rules::{NamedId, Rules};
use crate::program::{IdentityId, RuleId};
use bulkhead_policy::ir::{Policy, PolicyName, PolicySet, PortMatch, Rule};
use bulkhead_policy::{Action, Direction, Mode, Protocol, WorkloadId};
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Range;

/// The borrowed inner state of a whole compile, handed over to be kept.
pub(crate) struct Parts<'s, 'a> {
    pub input: &'s Input<'a>,
    pub rules: &'s Rules<'a>,
    /// `position[i]`: the selector position of `inventory.workloads[i]`.
    pub position: &'s [u32],
    /// Selector positions of the local endpoints, in endpoint order.
    pub local: &'s [u32],
    pub selecting: [Vec<Vec<u32>>; 2],
    pub rule_ids: Vec<RuleId>,
    pub peer_sets: PeerSets,
    pub id_peer_sets: Csr<IdentityId>,
    pub named: Csr<(IdentityId, u16)>,
}

pub(crate) struct Kept {
    /// Policy names in number (name) order.
    pub names: Vec<PolicyName>,
    /// No two policies share a name, so a name finds exactly one policy number. A set
    /// built by `PolicySet::new` always is; one assembled by hand may not be.
    pub unique: bool,
    /// `order[p]`: where policy `p` sat in the set's own list.
    pub order: Vec<u32>,
    /// Per policy: [`shape`].
    pub shapes: Vec<u64>,
    pub ranges: Vec<[Option<Range<u32>>; 2]>,
    /// Per global rule number: its policy.
    pub rule_policy: Vec<u32>,
    pub rule_ids: Vec<RuleId>,
    pub peer_sets: PeerSets,
    pub id_peer_sets: Csr<IdentityId>,
    pub named: Csr<(IdentityId, u16)>,
    named_ids: FastMap<(String, Protocol), NamedId>,
    /// `selecting[slot][endpoint]`: the isolating policies, ascending.
    pub selecting: [Vec<Vec<u32>>; 2],
    /// Per policy: the local endpoints it isolates in either direction, ascending.
    pub isolates: Vec<Vec<u32>>,
    /// Per local endpoint: its index in `inventory.workloads`.
    pub local_inventory: Vec<u32>,
    pub workloads: usize,
    pub node: Option<String>,
    pub modes: BTreeMap<WorkloadId, Mode>,
    pub interfaces: BTreeMap<WorkloadId, String>,
}

impl Kept {
    pub fn new(parts: Parts<'_, '_>) -> Self {
        let Parts {
            input,
            rules,
            position,
            local,
            selecting,
            rule_ids,
            peer_sets,
            id_peer_sets,
            named,
        } = parts;
        let mut rule_policy = vec![0u32; rules.rules.len()];
        for (p, ranges) in rules.ranges.iter().enumerate() {
            for r in ranges.iter().flatten() {
                rule_policy[r.start as usize..r.end as usize].fill(p as u32);
            }
        }
        let mut isolates = vec![Vec::new(); rules.policies.len()];
        for lists in &selecting {
            for (l, list) in lists.iter().enumerate() {
                for &p in list {
                    isolates[p as usize].push(l as u32);
                }
            }
        }
        for list in &mut isolates {
            list.sort_unstable();
            list.dedup();
        }
        let mut inventory_of = vec![0u32; position.len()];
        for (i, &pos) in position.iter().enumerate() {
            inventory_of[pos as usize] = i as u32;
        }
        let names: Vec<PolicyName> = rules.policies.iter().map(|p| p.name.clone()).collect();
        Kept {
            unique: names.windows(2).all(|w| w[0] != w[1]),
            names,
            order: rules.order.clone(),
            shapes: shapes(&rules.policies),
            ranges: rules.ranges.clone(),
            rule_policy,
            rule_ids,
            peer_sets,
            id_peer_sets,
            named,
            named_ids: rules
                .named
                .iter()
                .enumerate()
                .map(|(i, &(n, proto))| ((n.to_string(), proto), i as NamedId))
                .collect(),
            selecting,
            isolates,
            local_inventory: local
                .iter()
                .map(|&pos| inventory_of[pos as usize])
                .collect(),
            workloads: input.inventory.workloads.len(),
            node: input.node.map(str::to_string),
            modes: input.modes.clone(),
            interfaces: input.interfaces.clone(),
        }
    }

    /// Policy `p` in `set`, if it still sits where it did and has the same name.
    pub fn policy<'s>(&self, set: &'s PolicySet, p: u32) -> Option<&'s Policy> {
        let policy = set.policies.get(self.order[p as usize] as usize)?;
        (policy.name == self.names[p as usize]).then_some(policy)
    }
}

/// Every policy's [`shape`]. It reads the whole policy set again (a fifth of a keeping
/// compile), so large sets are hashed in two halves side by side.
fn shapes(policies: &[&Policy]) -> Vec<u64> {
    let half = policies.len() / 2;
    let hash = |part: &[&Policy]| part.iter().map(|p| shape(p)).collect::<Vec<u64>>();
    let (mut first, second) = par::both(
        policies.len() >= par::PARALLEL_FROM,
        || hash(&policies[..half]),
        || hash(&policies[half..]),
    );
    first.extend(second);
    first
}

/// A hash of everything in a policy that identities, rule numbering, peer sets and
/// table sharing depend on: its subject, which directions it isolates, its rules' count,
/// indexes and peers, the (name, protocol) of its egress named ports in order, and
/// whether an ingress rule names a port. Two policies of equal shape differ at most in
/// actions and port numbers, which only the tables of the endpoints they isolate and
/// their rules' reasons read. A 64-bit SipHash, like the endpoint fingerprints the
/// backends already trust to tell tables apart.
pub(crate) fn shape(policy: &Policy) -> u64 {
    let mut h = DefaultHasher::new();
    policy.subject.namespaces.hash(&mut h);
    policy.subject.workloads.hash(&mut h);
    for direction in [Direction::Ingress, Direction::Egress] {
        let Some(rules) = policy.rules(direction) else {
            h.write_u8(0);
            continue;
        };
        h.write_u8(1);
        h.write_usize(rules.len());
        for rule in rules {
            h.write_usize(rule.index);
            rule.peers.hash(&mut h);
            for spec in rule.ports.iter().flatten() {
                if let PortMatch::Named(name) = &spec.port {
                    match direction {
                        Direction::Ingress => h.write_u8(2),
                        Direction::Egress => {
                            h.write_u8(3);
                            name.hash(&mut h);
                            spec.protocol.hash(&mut h);
                        }
                    }
                }
            }
            h.write_u8(4);
        }
    }
    h.finish()
}

/// The new policy set read through the kept numbering. Only policies whose place and
/// name were checked by the caller are read.
pub(crate) struct View<'s> {
    pub kept: &'s Kept,
    pub set: &'s PolicySet,
}

impl View<'_> {
    pub fn rule(&self, global: u32) -> &Rule {
        let p = self.kept.rule_policy[global as usize];
        let [ingress, _] = &self.kept.ranges[p as usize];
        let (direction, start) = match ingress {
            Some(r) if r.contains(&global) => (Direction::Ingress, r.start),
            _ => (
                Direction::Egress,
                self.kept.ranges[p as usize][1]
                    .as_ref()
                    .map_or(0, |r| r.start),
            ),
        };
        let policy = &self.set.policies[self.kept.order[p as usize] as usize];
        // Checked by `Compiler::update` before any table is built: same shape, so the
        // same directions and rule counts.
        &policy.rules(direction).unwrap_or_default()[(global - start) as usize]
    }
}

impl RuleSource for View<'_> {
    fn range(&self, p: u32, slot: usize) -> Option<Range<u32>> {
        self.kept.ranges[p as usize][slot].clone()
    }

    fn rule_ports(&self, global: u32) -> (Action, RulePorts<'_>) {
        let rule = self.rule(global);
        let ports = rule
            .ports
            .as_deref()
            .map_or(RulePorts::All, RulePorts::Specs);
        (rule.action, ports)
    }

    fn named_id(&self, name: &str, protocol: Protocol) -> Option<NamedId> {
        self.kept
            .named_ids
            .get(&(name.to_string(), protocol))
            .copied()
    }
}
