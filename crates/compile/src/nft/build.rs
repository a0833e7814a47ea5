//! [`Program`] → [`Ruleset`]: the translation the module docs describe.

use super::intervals::{self, Decide, Flat, Range, Table};
use super::{
    AddrField, BASE_PRIORITY, Chain, EGRESS_DISPATCH, Element, ElementKey, Hook, INGRESS_DISPATCH,
    LOG_GROUP, LogPrefix, Map, MapKey, Rule, Ruleset, Verdict,
};
use crate::program::{ANY_IDENTITY, DirectionProgram, PortEntry, Program, RuleId};
use bulkhead_policy::ir::Reason;
use bulkhead_policy::{Action, Mode};
use std::collections::{BTreeSet, HashMap};

use std::net::Ipv4Addr;

const _: () = assert!(BASE_PRIORITY < 0);

/// Which generation each rule's log prefix names.
///
/// A prefix names the generation whose program numbered its rule. A rule that means the
/// same in the next program (same id, same [`Reason`]) keeps its stamp, so an
/// incremental update rewrites only the log chains of rules that changed; a flow reader
/// holding the current `Stamps` knows a prefix is current when its generation equals
/// `rules[rule]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stamps {
    /// The generation of the program these stamps go with.
    pub generation: u32,
    /// `rules[id]`: the generation stamped into rule `id`'s prefixes.
    pub rules: Vec<u32>,
}

impl Stamps {
    /// Stamps for `program` as generation `generation`, keeping the stamps of `prev`
    /// (the rules of the program in force, and its stamps) for every rule whose meaning
    /// is unchanged.
    pub fn next(prev: Option<(&[Reason], &Stamps)>, program: &Program, generation: u32) -> Stamps {
        let rules = (0..program.rules.len())
            .map(|r| match prev {
                Some((p, s)) if p.get(r) == program.rules.get(r) => {
                    s.rules.get(r).copied().unwrap_or(generation)
                }
                _ => generation,
            })
            .collect();
        Stamps { generation, rules }
    }

    fn of(&self, rule: RuleId) -> u32 {
        self.rules
            .get(rule as usize)
            .copied()
            .unwrap_or(self.generation)
    }
}

/// Builds the ruleset that enforces `program`, with log prefixes stamped by `stamps`.
pub fn build(program: &Program, stamps: &Stamps) -> Ruleset {
    let generation = stamps.generation;
    let flat = intervals::flatten(&program.ipcache, ANY_IDENTITY);
    let mut rs = Ruleset {
        generation,
        ..Ruleset::default()
    };
    for hook in Hook::ALL {
        let rules = vec![
            Rule::AcceptEstablished,
            Rule::AddrVmap {
                field: AddrField::Saddr,
                map: EGRESS_DISPATCH.into(),
            },
            Rule::AddrVmap {
                field: AddrField::Daddr,
                map: INGRESS_DISPATCH.into(),
            },
        ];
        let chain = Chain {
            hook: Some(hook),
            rules,
        };
        rs.chains.insert(hook.name().into(), chain);
    }
    let mut dispatch_eg = Vec::new();
    let mut dispatch_in = Vec::new();
    // (rule, would_deny) pairs some element or default points at.
    let mut used: BTreeSet<(RuleId, bool)> = BTreeSet::new();
    for ep in &program.endpoints {
        let sides = [
            ("eg", &ep.egress, AddrField::Daddr, &mut dispatch_eg),
            ("in", &ep.ingress, AddrField::Saddr, &mut dispatch_in),
        ];
        for (prefix, dir, field, dispatch) in sides {
            let chain = format!("{prefix}_{}", ep.index);
            let out = direction(dir, ep.mode, &flat);
            let would_deny = ep.mode == Mode::Monitor;
            used.extend(out.denials().map(|rule| (rule, would_deny)));
            let verdict = |d: Decide| match d {
                Decide::Return => Verdict::Return,
                Decide::Deny(rule) => Verdict::Goto(rule_chain(rule, would_deny)),
            };
            let elements = |v: &[(ElementKey, Decide)]| -> Vec<Element> {
                let e = |(key, d): &(ElementKey, Decide)| Element {
                    key: *key,
                    verdict: verdict(*d),
                };
                v.iter().map(e).collect()
            };
            let mut rules = Vec::new();
            let maps = [
                ("peers", MapKey::AddrProtoPort, &out.peers),
                ("other", MapKey::AddrInterval, &out.other),
                ("any", MapKey::ProtoPort, &out.any),
            ];
            for (suffix, key, list) in maps {
                if list.is_empty() {
                    continue;
                }
                let map = format!("{chain}_{suffix}");
                rs.maps.insert(
                    map.clone(),
                    Map {
                        key,
                        elements: elements(list),
                    },
                );
                rules.push(match key {
                    MapKey::AddrProtoPort => Rule::PortVmap { field, map },
                    MapKey::AddrInterval => Rule::OtherVmap { field, map },
                    _ => Rule::AnyPortVmap { map },
                });
            }
            rules.extend(out.any_other.map(|d| Rule::OtherVerdict(verdict(d))));
            rules.extend(out.default.map(|d| Rule::Verdict(verdict(d))));
            if rules.is_empty() {
                continue; // nothing to check: no chain and no jump at all
            }
            for ip in &ep.ips {
                dispatch.push(Element {
                    key: ElementKey::Addr(*ip),
                    verdict: Verdict::Jump(chain.clone()),
                });
            }
            rs.chains.insert(chain, Chain { hook: None, rules });
        }
    }
    dispatch_eg.sort_by_key(|e| e.key);
    dispatch_in.sort_by_key(|e| e.key);
    for (name, elements) in [
        (EGRESS_DISPATCH, dispatch_eg),
        (INGRESS_DISPATCH, dispatch_in),
    ] {
        let key = MapKey::Addr;
        rs.maps.insert(name.into(), Map { key, elements });
    }
    for (rule, would_deny) in used {
        let prefix = LogPrefix {
            generation: stamps.of(rule),
            rule,
            would_deny,
        };
        let verdict = if would_deny {
            Verdict::Return
        } else {
            Verdict::Drop
        };
        let rules = vec![Rule::Log {
            prefix: prefix.format(),
            group: LOG_GROUP,
            verdict,
        }];
        rs.chains
            .insert(rule_chain(rule, would_deny), Chain { hook: None, rules });
    }
    rs
}

/// The chain a deny by `rule` goes to: it logs, then drops (or returns, when monitoring).
pub fn rule_chain(rule: RuleId, would_deny: bool) -> String {
    if would_deny {
        format!("monitor_{rule}")
    } else {
        format!("deny_{rule}")
    }
}

/// One endpoint direction, as the steps of its chain.
struct DirectionOut {
    /// `peers` entries that differ from what `any` (then the default) says.
    peers: Vec<(ElementKey, Decide)>,
    /// The protocol-0 part of `peers`, by address range.
    other: Vec<(ElementKey, Decide)>,
    /// `any` entries that differ from the default.
    any: Vec<(ElementKey, Decide)>,
    /// `any`'s protocol-0 entry, if it differs from the default.
    any_other: Option<Decide>,
    /// The verdict of a miss, unless it is `return`.
    default: Option<Decide>,
}

impl DirectionOut {
    fn denials(&self) -> impl Iterator<Item = RuleId> + '_ {
        let lists = [&self.peers, &self.other, &self.any];
        let listed = lists.into_iter().flatten().map(|e| e.1);
        let singles = self.any_other.into_iter().chain(self.default);
        listed.chain(singles).filter_map(|d| match d {
            Decide::Deny(rule) => Some(rule),
            Decide::Return => None,
        })
    }
}

/// Translates one endpoint direction. Each peer identity's table goes on that
/// identity's address ranges; adjacent ranges whose tables are equal merge.
fn direction(d: &DirectionProgram, mode: Mode, flat: &Flat) -> DirectionOut {
    // Learning never denies; a direction that does not isolate allows on a miss.
    let default = if d.isolated && mode != Mode::Learn {
        Decide::Deny(d.default_rule)
    } else {
        Decide::Return
    };
    let decide = |entries: &[PortEntry]| -> Table {
        let mut t = Table::new();
        for e in entries {
            let d = match (e.action, mode) {
                (Action::Deny, Mode::Enforce | Mode::Monitor) => Decide::Deny(e.rule),
                _ => Decide::Return,
            };
            intervals::push(&mut t, (e.protocol, e.first, e.last, d));
        }
        t
    };
    let any_full = decide(&d.any.entries);
    let any = intervals::minus(&any_full, &[], default);
    // Equal tables share an index, so their adjacent ranges merge.
    let mut tables: Vec<Table> = Vec::new();
    let mut index: HashMap<Table, usize> = HashMap::new();
    let mut ranges: Vec<(Range, usize)> = Vec::new();
    for (id, table) in &d.peers {
        let Some(own) = flat.by_identity.get(id) else {
            continue; // an identity without addresses: nothing can match it
        };
        let t = intervals::minus(&decide(&table.entries), &any_full, default);
        if t.is_empty() {
            continue;
        }
        let i = *index.entry(t).or_insert_with_key(|t| {
            tables.push(t.clone());
            tables.len() - 1
        });
        ranges.extend(own.iter().map(|r| (*r, i)));
    }
    ranges.sort_unstable();
    let mut merged: Vec<(Range, usize)> = Vec::with_capacity(ranges.len());
    for (r, t) in ranges {
        match merged.last_mut() {
            Some((p, pt)) if *pt == t && u64::from(p.1) + 1 == u64::from(r.0) => p.1 = r.1,
            _ => merged.push((r, t)),
        }
    }
    let mut out = DirectionOut {
        peers: Vec::new(),
        other: Vec::new(),
        any: Vec::new(),
        any_other: None,
        default: (default != Decide::Return).then_some(default),
    };
    for ((lo, hi), t) in merged {
        let addrs = (Ipv4Addr::from(lo), Ipv4Addr::from(hi));
        for &(protocol, first, last, decide) in &tables[t] {
            if protocol == 0 {
                push_other(&mut out.other, addrs.0, addrs.1, decide);
            } else {
                let ports = (first, last);
                let key = ElementKey::Concat {
                    addrs,
                    protocol,
                    ports,
                };
                out.peers.push((key, decide));
            }
        }
    }
    for (protocol, first, last, decide) in any {
        if protocol == 0 {
            out.any_other = Some(decide);
        } else {
            let ports = (first, last);
            out.any
                .push((ElementKey::ProtoPort { protocol, ports }, decide));
        }
    }
    out
}

/// Appends an address-range element, extending the previous one when it is adjacent and
/// decides the same.
fn push_other(v: &mut Vec<(ElementKey, Decide)>, a: Ipv4Addr, b: Ipv4Addr, d: Decide) {
    if let Some((ElementKey::AddrRange(_, hi), pd)) = v.last_mut()
        && *pd == d
        && u64::from(u32::from(*hi)) + 1 == u64::from(u32::from(a))
    {
        *hi = b;
        return;
    }
    v.push((ElementKey::AddrRange(a, b), d));
}
