//! Each rule's peers as the identities they match, resolved once per compile.
//!
//! Kept by the incremental compiler: an update that keeps every rule's peers and the
//! identities keeps these too.

use super::csr::Csr;
use super::par;
use super::rules::Rules;
use crate::program::{IdentityId, NO_RULE, RuleId};

/// The identities a rule's peers match.
pub(crate) enum PeerSet {
    /// Every identity: the rule names no peers, or its peers cover everything.
    All,
    /// Exactly one peer's set, shared rather than copied.
    One(usize),
    Union(Vec<IdentityId>),
}

/// Each rule's peer set (by global number). Depends only on the rules' peers, the
/// identities and which rules are numbered, so an update that keeps those keeps these.
/// Large sets of rules are split in two halves computed side by side: a rule's set
/// reads nothing but its own peers.
pub(crate) fn peer_sets(
    rules: &Rules<'_>,
    peer_sets: &Csr<IdentityId>,
    all: usize,
    rule_ids: &[RuleId],
) -> Vec<PeerSet> {
    let n = rules.rules.len();
    let range = |r: std::ops::Range<usize>| range_sets(rules, peer_sets, all, rule_ids, r);
    let half = n / 2;
    let (mut first, second) = par::both(
        n >= par::PARALLEL_FROM,
        || range(0..half),
        || range(half..n),
    );
    first.extend(second);
    first
}

/// The peer sets of the rules numbered in `range`.
fn range_sets(
    rules: &Rules<'_>,
    peer_sets: &Csr<IdentityId>,
    all: usize,
    rule_ids: &[RuleId],
    range: std::ops::Range<usize>,
) -> Vec<PeerSet> {
    rules.rules[range.clone()]
        .iter()
        .zip(&rule_ids[range])
        .map(|(r, &id)| match rules.peers_of(r) {
            // No local endpoint can hit the rule (its policy isolates none here).
            _ if id == NO_RULE => PeerSet::All,
            None => PeerSet::All,
            Some([p]) if peer_sets.get(*p as usize).len() == all => PeerSet::All,
            Some([p]) => PeerSet::One(*p as usize),
            Some(list) => {
                let mut set: Vec<IdentityId> = list
                    .iter()
                    .flat_map(|&p| peer_sets.get(p as usize).iter().copied())
                    .collect();
                set.sort_unstable();
                set.dedup();
                if set.len() == all {
                    PeerSet::All
                } else {
                    PeerSet::Union(set)
                }
            }
        })
        .collect()
}
