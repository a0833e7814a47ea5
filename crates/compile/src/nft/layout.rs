//! The chains: which rules read which maps, in the order the module docs describe, and
//! the log chains (`deny`, `monitored`) of the decision kinds in use. Chains and rules exist only for maps that
//! hold elements, so an empty program is three base chains of one rule each.

use super::decision::Decision;
use super::ir::{AddrField, Chain, ChainName, Dir, Hook, Level, LogMark, MapId, Rule, Verdict};
use super::{LOG_GROUP, LogPrefix};
use crate::program::Program;
use bulkhead_policy::ir::Reason;
use std::collections::BTreeMap;

/// Which generation the log prefixes name.
///
/// A prefix names a generation whose program has the same rule table as the one in
/// force: the flow reader resolves the rule id from the ct mark in that generation's
/// table. While the rule table stays the same, the stamp stays too, so an update that
/// changes no rule numbering leaves the log chains as they are; when it changes, the
/// two log chains are rewritten with the new generation (two one-rule chains).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stamps {
    /// The generation of the program these stamps go with.
    pub generation: u32,
    /// The generation stamped into the log prefixes.
    pub rules: u32,
    /// A hash of the program's rule table: what the next stamps compare, so a backend
    /// keeps no copy of 20,000 [`Reason`]s to tell whether they changed.
    pub table: u64,
}

impl Stamps {
    /// Stamps for `program` as generation `generation`, keeping the stamp of `prev`
    /// (the stamps of the program in force) if the rule table is unchanged.
    pub fn next(prev: Option<&Stamps>, program: &Program, generation: u32) -> Stamps {
        let table = table_hash(&program.rules);
        let rules = match prev {
            Some(s) if s.table == table => s.rules,
            _ => generation,
        };
        Stamps {
            generation,
            rules,
            table,
        }
    }
}

/// SipHash (fixed keys) of a rule table: a collision would only let log prefixes name
/// an older generation with a different table, i.e. misname a rule in flow records.
fn table_hash(rules: &[Reason]) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    rules.hash(&mut h);
    h.finish()
}

/// Every chain, given the maps that hold elements and the decision kinds in use (one
/// decision of each kind, as [`super::build`] reduces them).
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
        let log = |would_deny, attributed, verdict, mark| Rule::Log {
            prefix: LogPrefix {
                generation: stamps.rules,
                would_deny,
                attributed,
            }
            .format(),
            group: LOG_GROUP,
            verdict,
            mark,
        };
        let rules = match d {
            Decision::Allow => continue,
            Decision::Deny(_) => vec![log(false, true, Verdict::Drop, LogMark::FromCt)],
            // The packet goes on: its own mark must come out as it went in.
            Decision::Monitor(_) => vec![
                log(true, false, Verdict::Return, LogMark::OnlyIfMarked),
                log(true, true, Verdict::Return, LogMark::FromCtThenClear),
            ],
        };
        if let Verdict::Goto(name) = d.verdict() {
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
