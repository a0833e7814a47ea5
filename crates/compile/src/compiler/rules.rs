//! The policies flattened into one numbered list of rules, with their peers interned.
//!
//! A rule's *global number* is its position in (policy name, direction, rule index)
//! order. Within one endpoint and direction this is exactly the order in which "the
//! first matching rule" is chosen, so a number doubles as a priority; it is also the
//! order of [`Reason::Rule`] values, so the final rule table is these numbers, compacted.
//!
//! Peers are interned: the same peer written in many policies (`namespace: prod`) is
//! resolved to identities once.

use super::hash::FastMap;
use super::intern::Interner;
use super::port_items::PortItem;
use bulkhead_policy::ir::{Entity, Peer, Policy, PolicySet, PortMatch};
use bulkhead_policy::{Action, Direction, Protocol};
use ipnet::Ipv4Net;

pub(crate) type PeerId = u32;
/// Index of an egress named port, interned by (name, protocol).
pub(crate) type NamedId = u32;

/// A peer as identity building reads it: CIDRs normalized to their networks.
#[derive(Clone, Debug)]
pub(crate) enum PeerKey {
    /// Read from the [`Peer`] itself, which keeps the selectors.
    Workloads,
    Cidr {
        net: Ipv4Net,
        except: Vec<Ipv4Net>,
    },
    Entity(Entity),
}

impl PeerKey {
    fn of(peer: &Peer) -> Self {
        match peer {
            Peer::Workloads { .. } => PeerKey::Workloads,
            Peer::Cidr { net, except } => PeerKey::Cidr {
                net: net.trunc(),
                except: except.iter().map(Ipv4Net::trunc).collect(),
            },
            Peer::Entity(e) => PeerKey::Entity(*e),
        }
    }
}

pub(crate) struct FlatRule {
    pub policy: u32,
    pub direction: Direction,
    /// Copied from the rule while it is being read anyway: the rule table reads these for
    /// every rule, and going back to 40,000 rules scattered over the policy set costs a
    /// cache miss each.
    pub index: usize,
    pub action: Action,
    /// Where the rule's interned peers sit in [`Rules::rule_peers`]; `None` when the
    /// rule names none (every peer).
    peers: Option<std::ops::Range<usize>>,
    /// Where the rule's ports sit in [`Rules::ports`]; `None` when it lists none (every
    /// port).
    ports: Option<std::ops::Range<u32>>,
}

pub(crate) struct Rules<'a> {
    /// Policies in name order; positions are policy numbers.
    pub policies: Vec<&'a Policy>,
    /// `order[p]`: where policy `p` sits in the set's own list.
    pub order: Vec<u32>,
    /// Every rule, in global-number order.
    pub rules: Vec<FlatRule>,
    /// `ranges[p][d]`: the global numbers of policy `p`'s rules in direction `d`
    /// (0 ingress, 1 egress), `None` if the policy leaves that direction alone.
    pub ranges: Vec<[Option<std::ops::Range<u32>>; 2]>,
    pub peers: Vec<(PeerKey, &'a Peer)>,
    /// Every rule's interned peers, back to back (one allocation, not one per rule).
    rule_peers: Vec<PeerId>,
    /// Every rule's ports, back to back, in the form the tables read.
    ports: Vec<PortItem<'a>>,
    /// Egress named ports (name, protocol), resolved per peer identity.
    pub named: Vec<(&'a str, Protocol)>,
    /// Per policy: whether an ingress rule names a port (then its ingress table depends
    /// on the endpoint's own ports).
    pub named_ingress: Vec<bool>,
    named_ids: FastMap<(&'a str, Protocol), NamedId>,
    /// Kept so that a part built on another thread can be appended ([`Rules::append`]).
    interner: Interner,
}

/// Reads the first label of a peer's workload selector before it is interned, one
/// peer ahead: its map node and strings are scattered over the heap, and loading them
/// while the previous peer is encoded and looked up overlaps the two peers' cache
/// misses instead of paying them one after the other.
fn touch(peer: &Peer) {
    if let Peer::Workloads {
        workloads: Some(s), ..
    } = peer
        && let Some((k, v)) = s.match_labels.iter().next()
    {
        std::hint::black_box((k.as_bytes().first(), v.as_bytes().first()));
    }
}

pub(crate) fn direction_slot(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// The set's policies in name order, and where each sits in the set's own list.
pub(crate) fn name_order(set: &PolicySet) -> (Vec<u32>, Vec<&Policy>) {
    let mut order: Vec<u32> = (0..set.policies.len() as u32).collect();
    order.sort_by(|&a, &b| {
        set.policies[a as usize]
            .name
            .cmp(&set.policies[b as usize].name)
    });
    let policies = order.iter().map(|&i| &set.policies[i as usize]).collect();
    (order, policies)
}

impl<'a> Rules<'a> {
    /// The rules of `policies` (a run of the name-ordered policies starting at policy
    /// number `first`), numbered as if they were the whole set; [`Rules::append`] joins
    /// consecutive parts. `order` is left empty for the caller.
    pub fn part(policies: &[&'a Policy], first: u32) -> Self {
        let count = policies
            .iter()
            .map(|p| p.ingress.as_ref().map_or(0, Vec::len) + p.egress.as_ref().map_or(0, Vec::len))
            .sum();
        let mut out = Rules {
            policies: policies.to_vec(),
            order: Vec::new(),
            rules: Vec::with_capacity(count),
            ranges: Vec::with_capacity(policies.len()),
            peers: Vec::new(),
            rule_peers: Vec::new(),
            ports: Vec::with_capacity(count),
            named: Vec::new(),
            named_ingress: Vec::with_capacity(policies.len()),
            named_ids: FastMap::default(),
            interner: Interner::default(),
        };
        for (p, policy) in policies.iter().enumerate() {
            let mut ranges = [None, None];
            for direction in [Direction::Ingress, Direction::Egress] {
                let Some(rules) = policy.rules(direction) else {
                    continue;
                };
                let start = out.rules.len() as u32;
                for rule in rules {
                    let peers = rule.peers.as_ref().map(|list| {
                        let start = out.rule_peers.len();
                        for (i, peer) in list.iter().enumerate() {
                            if let Some(next) = list.get(i + 1) {
                                touch(next);
                            }
                            let id = out.intern(peer);
                            out.rule_peers.push(id);
                        }
                        start..out.rule_peers.len()
                    });
                    let ports = rule.ports.as_ref().map(|specs| {
                        let start = out.ports.len() as u32;
                        for spec in specs {
                            let item = PortItem::of(spec, direction, |name, protocol| {
                                Some(out.intern_named_key((name, protocol)))
                            });
                            out.ports.extend(item);
                        }
                        start..out.ports.len() as u32
                    });
                    out.rules.push(FlatRule {
                        policy: first + p as u32,
                        direction,
                        index: rule.index,
                        action: rule.action,
                        peers,
                        ports,
                    });
                }
                ranges[direction_slot(direction)] = Some(start..out.rules.len() as u32);
            }
            out.ranges.push(ranges);
            let named = policy.ingress.iter().flatten().any(|r| {
                r.ports
                    .iter()
                    .flatten()
                    .any(|s| matches!(s.port, PortMatch::Named(_)))
            });
            out.named_ingress.push(named);
        }
        out
    }

    fn intern(&mut self, peer: &'a Peer) -> PeerId {
        let next = self.peers.len() as PeerId;
        let id = self.interner.intern(peer, next);
        if id == next {
            self.peers.push((PeerKey::of(peer), peer));
        }
        id
    }

    fn intern_named_key(&mut self, key: (&'a str, Protocol)) -> NamedId {
        let next = self.named.len() as NamedId;
        let id = *self.named_ids.entry(key).or_insert(next);
        if id == next {
            self.named.push(key);
        }
        id
    }

    /// The ports of `rule`; `None` when it lists none (every port).
    pub fn ports_of(&self, rule: &FlatRule) -> Option<&[PortItem<'a>]> {
        rule.ports
            .clone()
            .map(|r| &self.ports[r.start as usize..r.end as usize])
    }

    /// The interned peers of `rule`; `None` when it names none (every peer).
    pub fn peers_of(&self, rule: &FlatRule) -> Option<&[PeerId]> {
        rule.peers.clone().map(|r| &self.rule_peers[r])
    }

    pub fn named_id(&self, name: &str, protocol: Protocol) -> Option<NamedId> {
        self.named_ids.get(&(name, protocol)).copied()
    }
}

mod append;
#[cfg(test)]
mod tests;
