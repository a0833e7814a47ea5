//! [`Program`] → [`Ruleset`]: the translation the module docs describe.

use super::intervals::{self, Flat, Range};
use super::{
    AddrField, BASE_PRIORITY, Chain, EGRESS_DISPATCH, Element, ElementKey, Hook, INGRESS_DISPATCH,
    LOG_GROUP, LogPrefix, Map, MapKey, Rule, Ruleset, Verdict,
};
use crate::program::{ANY_IDENTITY, DirectionProgram, PortEntry, Program, RuleId};
use bulkhead_policy::{Action, Mode};
use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;

const _: () = assert!(BASE_PRIORITY < 0);

/// What one map element decides, before chain names are spelled out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Decide {
    Return,
    Deny(RuleId),
}

/// One resolved, disjoint port table: (protocol, first port, last port, decision).
type Table = Vec<(u8, u16, u16, Decide)>;

/// Builds the ruleset that enforces `program`, stamping `generation` into log prefixes.
pub fn build(program: &Program, generation: u32) -> Ruleset {
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
            let busy = !out.ports.is_empty() || !out.other.is_empty() || out.default.is_some();
            let would_deny = ep.mode == Mode::Monitor;
            let verdict = |d: Decide| match d {
                Decide::Return => Verdict::Return,
                Decide::Deny(rule) => Verdict::Goto(rule_chain(rule, would_deny)),
            };
            for d in out.decisions() {
                if let Decide::Deny(rule) = d {
                    used.insert((rule, would_deny));
                }
            }
            let ports = out.ports.iter().map(|(key, d)| Element {
                key: *key,
                verdict: verdict(*d),
            });
            let other = out.other.iter().map(|(key, d)| Element {
                key: *key,
                verdict: verdict(*d),
            });
            let ports_map = format!("{chain}_ports");
            let other_map = format!("{chain}_other");
            rs.maps.insert(ports_map.clone(), map(MapKey::AddrProtoPort, ports.collect()));
            rs.maps.insert(other_map.clone(), map(MapKey::AddrInterval, other.collect()));
            let mut rules = vec![
                Rule::PortVmap {
                    field,
                    map: ports_map,
                },
                Rule::OtherVmap {
                    field,
                    map: other_map,
                },
            ];
            rules.extend(out.default.map(|d| Rule::Verdict(verdict(d))));
            if busy {
                // Nothing to check (not isolated, nothing denied): no jump at all.
                for ip in &ep.ips {
                    dispatch.push(Element {
                        key: ElementKey::Addr(*ip),
                        verdict: Verdict::Jump(chain.clone()),
                    });
                }
            }
            rs.chains.insert(chain, Chain { hook: None, rules });
        }
    }
    dispatch_eg.sort_by_key(|e| e.key);
    dispatch_in.sort_by_key(|e| e.key);
    rs.maps.insert(EGRESS_DISPATCH.into(), map(MapKey::Addr, dispatch_eg));
    rs.maps.insert(INGRESS_DISPATCH.into(), map(MapKey::Addr, dispatch_in));
    for (rule, would_deny) in used {
        let prefix = LogPrefix {
            generation,
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

fn map(key: MapKey, elements: Vec<Element>) -> Map {
    Map { key, elements }
}

struct DirectionOut {
    ports: Vec<(ElementKey, Decide)>,
    other: Vec<(ElementKey, Decide)>,
    default: Option<Decide>,
}

impl DirectionOut {
    fn decisions(&self) -> impl Iterator<Item = Decide> + '_ {
        let p = self.ports.iter().map(|e| e.1);
        p.chain(self.other.iter().map(|e| e.1)).chain(self.default)
    }
}

/// One endpoint direction's elements: each peer identity's resolved table on its
/// address ranges, the `any` table on every other address, adjacent ranges with equal
/// tables merged.
fn direction(d: &DirectionProgram, mode: Mode, flat: &Flat) -> DirectionOut {
    // Learning never denies; a direction that does not isolate allows on a miss.
    let default_allows = !d.isolated || mode == Mode::Learn;
    let resolve = |entries: &[PortEntry]| -> Table {
        let mut t: Table = Vec::new();
        for e in entries {
            let decide = match (e.action, mode) {
                (Action::Deny, Mode::Enforce | Mode::Monitor) => Decide::Deny(e.rule),
                _ if default_allows => continue, // same as a miss: leave it out
                _ => Decide::Return,
            };
            match t.last_mut() {
                Some(l) if l.0 == e.protocol && l.3 == decide && u32::from(l.2) + 1 == u32::from(e.first) => {
                    l.2 = e.last;
                }
                _ => t.push((e.protocol, e.first, e.last, decide)),
            }
        }
        t
    };
    // Table 0 is `any`; equal tables share an index, so their ranges merge.
    let mut tables: Vec<Table> = vec![resolve(&d.any.entries)];
    let mut index: HashMap<Table, usize> = HashMap::new();
    index.insert(tables[0].clone(), 0);
    let mut ranges: Vec<(Range, usize)> = Vec::new();
    for (id, table) in &d.peers {
        let Some(own) = flat.by_identity.get(id) else {
            continue; // an identity without addresses: nothing can match it
        };
        let t = resolve(&intervals::overlay(&table.entries, &d.any.entries));
        let next = tables.len();
        let i = *index.entry(t.clone()).or_insert(next);
        if i == next {
            tables.push(t);
        }
        if i != 0 {
            ranges.extend(own.iter().map(|r| (*r, i)));
        }
    }
    ranges.sort_unstable();
    let mut out = DirectionOut {
        ports: Vec::new(),
        other: Vec::new(),
        default: (!default_allows).then_some(Decide::Deny(d.default_rule)),
    };
    let mut emit = |lo: u32, hi: u32, t: usize| {
        for &(protocol, first, last, decide) in &tables[t] {
            let (a, b) = (Ipv4Addr::from(lo), Ipv4Addr::from(hi));
            if protocol == 0 {
                push_other(&mut out.other, a, b, decide);
            } else {
                let key = ElementKey::Concat {
                    addrs: (a, b),
                    protocol,
                    ports: (first, last),
                };
                out.ports.push((key, decide));
            }
        }
    };
    // The peers' ranges with the gaps between them filled by `any` (table 0).
    let mut all: Vec<(Range, usize)> = Vec::with_capacity(ranges.len() * 2 + 1);
    let mut cursor: u64 = 0;
    for ((lo, hi), t) in ranges {
        if u64::from(lo) > cursor {
            all.push(((cursor as u32, lo - 1), 0));
        }
        all.push(((lo, hi), t));
        cursor = u64::from(hi) + 1;
    }
    if cursor <= u64::from(u32::MAX) {
        all.push(((cursor as u32, u32::MAX), 0));
    }
    let mut pending: Option<(u32, u32, usize)> = None;
    for ((lo, hi), t) in all {
        match &mut pending {
            Some(p) if p.2 == t && u64::from(p.1) + 1 == u64::from(lo) => p.1 = hi,
            _ => {
                if let Some((a, b, pt)) = pending.take() {
                    emit(a, b, pt);
                }
                pending = Some((lo, hi, t));
            }
        }
    }
    if let Some((a, b, pt)) = pending {
        emit(a, b, pt);
    }
    out
}

/// Appends an address-range element, extending the previous one when it is adjacent and
/// decides the same.
fn push_other(v: &mut Vec<(ElementKey, Decide)>, a: Ipv4Addr, b: Ipv4Addr, d: Decide) {
    if let Some((ElementKey::AddrRange(_, hi), pd)) = v.last_mut() {
        if *pd == d && u64::from(u32::from(*hi)) + 1 == u64::from(u32::from(a)) {
            *hi = b;
            return;
        }
    }
    v.push((ElementKey::AddrRange(a, b), d));
}
