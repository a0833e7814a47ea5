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
use bulkhead_policy::ir::{Entity, Peer, Policy, PolicySet, PortMatch, Rule};
use bulkhead_policy::{Direction, Protocol};
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

pub(crate) struct FlatRule<'a> {
    pub policy: u32,
    pub direction: Direction,
    pub rule: &'a Rule,
    /// Where the rule's interned peers sit in [`Rules::rule_peers`]; `None` when the
    /// rule names none (every peer).
    peers: Option<std::ops::Range<usize>>,
}

pub(crate) struct Rules<'a> {
    /// Policies in name order; positions are policy numbers.
    pub policies: Vec<&'a Policy>,
    /// `order[p]`: where policy `p` sits in the set's own list.
    pub order: Vec<u32>,
    /// Every rule, in global-number order.
    pub rules: Vec<FlatRule<'a>>,
    /// `ranges[p][d]`: the global numbers of policy `p`'s rules in direction `d`
    /// (0 ingress, 1 egress), `None` if the policy leaves that direction alone.
    pub ranges: Vec<[Option<std::ops::Range<u32>>; 2]>,
    pub peers: Vec<(PeerKey, &'a Peer)>,
    /// Every rule's interned peers, back to back (one allocation, not one per rule).
    rule_peers: Vec<PeerId>,
    /// Egress named ports (name, protocol), resolved per peer identity.
    pub named: Vec<(&'a str, Protocol)>,
    /// Per policy: whether an ingress rule names a port (then its ingress table depends
    /// on the endpoint's own ports).
    pub named_ingress: Vec<bool>,
    named_ids: FastMap<(&'a str, Protocol), NamedId>,
}

pub(crate) fn direction_slot(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

impl<'a> Rules<'a> {
    pub fn new(set: &'a PolicySet) -> Self {
        let mut order: Vec<u32> = (0..set.policies.len() as u32).collect();
        order.sort_by(|&a, &b| {
            set.policies[a as usize]
                .name
                .cmp(&set.policies[b as usize].name)
        });
        let policies: Vec<&Policy> = order.iter().map(|&i| &set.policies[i as usize]).collect();
        let mut out = Rules {
            policies: Vec::new(),
            order,
            rules: Vec::new(),
            ranges: Vec::new(),
            peers: Vec::new(),
            rule_peers: Vec::new(),
            named: Vec::new(),
            named_ingress: Vec::new(),
            named_ids: FastMap::default(),
        };
        let mut interner = Interner::default();
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
                        for peer in list {
                            let next = out.peers.len() as PeerId;
                            let id = interner.intern(peer, next);
                            if id == next {
                                out.peers.push((PeerKey::of(peer), peer));
                            }
                            out.rule_peers.push(id);
                        }
                        start..out.rule_peers.len()
                    });
                    if direction == Direction::Egress {
                        out.intern_named(rule);
                    }
                    out.rules.push(FlatRule {
                        policy: p as u32,
                        direction,
                        rule,
                        peers,
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
        out.policies = policies;
        out
    }

    fn intern_named(&mut self, rule: &'a Rule) {
        for spec in rule.ports.iter().flatten() {
            if let PortMatch::Named(name) = &spec.port {
                let key = (name.as_str(), spec.protocol);
                if !self.named_ids.contains_key(&key) {
                    self.named_ids.insert(key, self.named.len() as NamedId);
                    self.named.push(key);
                }
            }
        }
    }

    /// The interned peers of `rule`; `None` when it names none (every peer).
    pub fn peers_of(&self, rule: &FlatRule<'_>) -> Option<&[PeerId]> {
        rule.peers.clone().map(|r| &self.rule_peers[r])
    }

    pub fn named_id(&self, name: &str, protocol: Protocol) -> Option<NamedId> {
        self.named_ids.get(&(name, protocol)).copied()
    }
}
