//! The chains: which rules read which maps, in the order the module docs describe, and
//! the log chains of the decisions in use. Chains and rules exist only for maps that
//! hold elements, so an empty program is three base chains of one rule each.

use super::decision::Decision;
use super::ir::{AddrField, Chain, ChainName, Dir, Hook, Level, MapId, Rule, Verdict};
use super::{LOG_GROUP, LogPrefix};
use crate::program::{Program, RuleId};
use bulkhead_policy::ir::Reason;
use std::collections::BTreeMap;

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

/// The chain a decision's verdict goes to (none for allow).
pub fn rule_chain(d: Decision) -> Option<ChainName> {
    match d.verdict() {
        Verdict::Goto(c) => Some(c),
        _ => None,
    }
}

/// Every chain, given the maps that hold elements and the decisions in use.
pub fn chains(
    maps: &[MapId],
    decisions: &[Decision],
    stamps: &Stamps,
) -> BTreeMap<ChainName, Chain> {
    let mut chains = BTreeMap::new();
    let has = |m: MapId| maps.contains(&m);
    let mut base = vec![Rule::AcceptEstablished];
    if has(MapId::Unknown) {
        base.push(Rule::DropUnknown(AddrField::Saddr));
        base.push(Rule::DropUnknown(AddrField::Daddr));
    }
    if has(MapId::Enforced) {
        base.push(Rule::DropUntracked(AddrField::Saddr));
        base.push(Rule::DropUntracked(AddrField::Daddr));
    }
    for dir in Dir::BOTH {
        let rules = check_rules(dir, maps);
        if rules.is_empty() {
            continue;
        }
        let name = match dir {
            Dir::Egress => ChainName::Egress,
            Dir::Ingress => ChainName::Ingress,
        };
        base.push(Rule::JumpIpv4(name));
        chains.insert(name, Chain { hook: None, rules });
    }
    if chains.contains_key(&ChainName::Egress) || chains.contains_key(&ChainName::Ingress) {
        // The mark was scratch for this packet's checks; leave the connection's clean.
        base.push(Rule::ResetMark);
    }
    for hook in Hook::ALL {
        let rules = base.clone();
        chains.insert(
            ChainName::Base(hook),
            Chain {
                hook: Some(hook),
                rules,
            },
        );
    }
    for &d in decisions {
        let (rule, would_deny, verdict) = match d {
            Decision::Allow => continue,
            Decision::Deny(r) => (r, false, Verdict::Drop),
            Decision::Monitor(r) => (r, true, Verdict::Return),
        };
        let prefix = LogPrefix {
            generation: stamps.of(rule),
            rule,
            would_deny,
        };
        let rules = vec![Rule::Log {
            prefix: prefix.format(),
            group: LOG_GROUP,
            verdict,
        }];
        if let Some(name) = rule_chain(d) {
            chains.insert(name, Chain { hook: None, rules });
        }
    }
    chains
}

/// One direction's checks: identity into the ct mark (only if a peer-level map
/// needs it), then each level's lookups followed by one look at the verdict map.
fn check_rules(dir: Dir, maps: &[MapId]) -> Vec<Rule> {
    let level = |l: Level| -> Vec<Rule> {
        maps.iter()
            .filter(|m| matches!(m, MapId::Check(d, ml, _) if *d == dir && *ml == l))
            .map(|m| Rule::Check(*m))
            .collect()
    };
    // A chain starts from a clean mark: what the other direction's checks left there
    // (an allow code, say) must not read as this direction's decision.
    let mut rules = vec![Rule::ResetMark];
    let peer = level(Level::Peer);
    if !peer.is_empty() {
        for map in [MapId::Ipcache, MapId::IpcacheExact] {
            if maps.contains(&map) {
                rules.push(Rule::MarkPeer {
                    field: dir.peer(),
                    map,
                });
            }
        }
        rules.extend(peer);
        rules.push(Rule::Decide);
    }
    let any = level(Level::Any);
    if !any.is_empty() {
        rules.extend(any);
        rules.push(Rule::Decide);
    }
    if maps.contains(&MapId::Default(dir)) {
        rules.push(Rule::Check(MapId::Default(dir)));
        rules.push(Rule::Decide);
    }
    if rules.len() == 1 {
        rules.clear(); // nothing to check in this direction
    }
    rules
}
