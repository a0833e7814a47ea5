//! One endpoint's table for one direction.
//!
//! Rules split into *wildcard* parts (every peer: no peers listed, or peers that cover
//! every identity) and *per-identity* parts. The wildcard parts resolve once into `any`;
//! each identity a rule mentions gets its own parts resolved and overlaid on `any`,
//! keeping only the ranges where it decides differently. Work is proportional to the
//! identities the endpoint's rules mention, never to all identities.

use super::csr::Csr;
use super::peer_sets::PeerSets;
use super::port_items::{PortItem, RulePorts};
use super::ports::{self, EVERYTHING, Seg};
use super::rules::{NamedId, Rules, direction_slot};
use crate::program::{DirectionProgram, IdentityId, PortTable, RuleId};
use bulkhead_policy::{Action, Direction, Protocol, Workload};
use std::collections::BTreeMap;

/// Buffers reused from one endpoint to the next: most tables are a few dozen entries,
/// and allocating them afresh for 10,000 endpoints would dominate the work.
#[derive(Default)]
pub(crate) struct Scratch {
    wildcard: Vec<Seg>,
    specific: Vec<(IdentityId, Seg)>,
    fixed: Vec<(u8, u16, u16)>,
    segs: Vec<Seg>,
    resolved: Vec<Seg>,
    diff: Vec<Seg>,
    peers: Vec<(IdentityId, PortTable)>,
}

/// Where a table's rules are read from: the flattened [`Rules`] of a whole compile, or
/// an incremental update's view of the new policy set over the numbering it kept.
pub(crate) trait RuleSource: Sync {
    /// The global numbers of policy `p`'s rules in direction `slot`.
    fn range(&self, p: u32, slot: usize) -> Option<std::ops::Range<u32>>;
    /// A rule's action and ports.
    fn rule_ports(&self, global: u32) -> (Action, RulePorts<'_>);
    fn named_id(&self, name: &str, protocol: Protocol) -> Option<NamedId>;
}

impl RuleSource for Rules<'_> {
    fn range(&self, p: u32, slot: usize) -> Option<std::ops::Range<u32>> {
        self.ranges[p as usize][slot].clone()
    }
    fn rule_ports(&self, global: u32) -> (Action, RulePorts<'_>) {
        let rule = &self.rules[global as usize];
        let ports = self.ports_of(rule).map_or(RulePorts::All, RulePorts::Flat);
        (rule.action, ports)
    }
    fn named_id(&self, name: &str, protocol: Protocol) -> Option<NamedId> {
        Rules::named_id(self, name, protocol)
    }
}

pub(crate) struct Context<'r, S> {
    pub source: &'r S,
    /// Per peer: the identities it matches.
    pub id_peer_sets: &'r Csr<IdentityId>,
    /// Per egress named port: (identity, port) where it resolves.
    pub named: &'r Csr<(IdentityId, u16)>,
    /// Final rule id per global rule number.
    pub rule_ids: &'r [RuleId],
    /// Per global rule number, from [`super::peer_sets::peer_sets`].
    pub peer_sets: &'r PeerSets,
}

impl<S: RuleSource> Context<'_, S> {
    fn peers(&self, global: usize) -> Option<&[IdentityId]> {
        self.peer_sets.get(global, self.id_peer_sets)
    }

    /// The table of `w` in `direction` under `policies` (non-empty, ascending);
    /// `default_rule` is left for the caller to fill in.
    pub fn direction(
        &self,
        scratch: &mut Scratch,
        w: &Workload,
        direction: Direction,
        policies: &[u32],
    ) -> DirectionProgram {
        let Scratch {
            wildcard,
            specific,
            fixed,
            segs,
            resolved,
            diff,
            peers,
        } = scratch;
        wildcard.clear();
        specific.clear();
        let slot = direction_slot(direction);
        for &p in policies {
            let Some(range) = self.source.range(p, slot) else {
                continue;
            };
            for g in range {
                let (action, ports) = self.source.rule_ports(g);
                let prio = ports::priority(action, g);
                let peers = self.peers(g as usize);
                fixed.clear();
                let mut item = |item: PortItem<'_>| match item {
                    PortItem::Range(n, a, b) => fixed.push((n, a, b)),
                    PortItem::Own(name, protocol) => {
                        if let Some(port) = w.resolve_named_port(name, protocol) {
                            let n = protocol.number();
                            fixed.push((n, port, port));
                        }
                    }
                    PortItem::Peer(nid, protocol) => {
                        self.named(nid, protocol, peers, prio, specific)
                    }
                };
                match ports {
                    RulePorts::All => fixed.extend_from_slice(&EVERYTHING),
                    RulePorts::Flat(items) => items.iter().for_each(|&i| item(i)),
                    RulePorts::Specs(specs) => {
                        for spec in specs {
                            let named_id = |name, protocol| self.source.named_id(name, protocol);
                            PortItem::of(spec, direction, named_id).map(&mut item);
                        }
                    }
                }
                match peers {
                    None => wildcard.extend(fixed.iter().map(|&r| Seg::new(r, prio))),
                    Some(set) => {
                        for &id in set {
                            specific.extend(fixed.iter().map(|&r| (id, Seg::new(r, prio))));
                        }
                    }
                }
            }
        }
        let any = ports::resolve(wildcard);
        specific.sort_unstable_by_key(|(id, _)| *id);
        peers.clear();
        for group in specific.chunk_by(|a, b| a.0 == b.0) {
            segs.clear();
            segs.extend(group.iter().map(|(_, s)| *s));
            ports::resolve_into(segs, resolved);
            ports::overlay_diff_into(&any, resolved, diff);
            if !diff.is_empty() {
                let entries = ports::entries(diff, self.rule_ids);
                peers.push((group[0].0, PortTable { entries }));
            }
        }
        DirectionProgram {
            isolated: true,
            default_rule: 0,
            // Already in identity order: the map is bulk-built, not grown by inserts.
            peers: BTreeMap::from_iter(peers.drain(..)),
            any: PortTable {
                entries: ports::entries(&any, self.rule_ids),
            },
        }
    }

    /// An egress named port: one entry per peer identity on which the name resolves.
    fn named(
        &self,
        nid: NamedId,
        protocol: Protocol,
        peers: Option<&[IdentityId]>,
        prio: u32,
        out: &mut Vec<(IdentityId, Seg)>,
    ) {
        let n = protocol.number();
        let resolved = self.named.get(nid as usize);
        let seg = |port: u16| Seg::new((n, port, port), prio);
        match peers {
            None => out.extend(resolved.iter().map(|&(id, port)| (id, seg(port)))),
            // Both sides ascending by identity. The rule's peers are usually a handful
            // and the name resolves on thousands: search for each peer rather than walk
            // everything, or the cost would be endpoints × identities.
            Some(set) => {
                for &id in set {
                    let i = resolved.partition_point(|(r, _)| *r < id);
                    out.extend(
                        resolved[i..]
                            .iter()
                            .take_while(|(r, _)| *r == id)
                            .map(|&(_, port)| (id, seg(port))),
                    );
                }
            }
        }
    }
}
