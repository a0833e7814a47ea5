//! Each rule's peers as the identities they match, resolved once per compile.
//!
//! Kept by the incremental compiler: an update that keeps every rule's peers and the
//! identities keeps these too.

use super::csr::Csr;
use super::par;
use super::rules::Rules;
use crate::program::{IdentityId, NO_RULE, RuleId};
use std::ops::Range;

/// The identities a rule's peers match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PeerSet {
    /// Every identity: the rule names no peers, or its peers cover everything.
    All,
    /// Exactly one peer's set, shared rather than copied.
    One(usize),
    /// Several peers' sets merged: a run of [`PeerSets`]'s items (one buffer for all
    /// rules rather than a vector each: tens of thousands of rules name a few peers).
    Union(Range<usize>),
}

/// Every rule's [`PeerSet`] (by global number), and the merged sets' identities.
pub(crate) struct PeerSets {
    sets: Vec<PeerSet>,
    items: Vec<IdentityId>,
}

impl PeerSets {
    /// The identities rule `global` applies to; `None`: every identity.
    pub fn get<'s>(
        &'s self,
        global: usize,
        by_peer: &'s Csr<IdentityId>,
    ) -> Option<&'s [IdentityId]> {
        match &self.sets[global] {
            PeerSet::All => None,
            PeerSet::One(p) => Some(by_peer.get(*p)),
            PeerSet::Union(r) => Some(&self.items[r.clone()]),
        }
    }
}

/// Each rule's peer set. Depends only on the rules' peers, the identities and which
/// rules are numbered, so an update that keeps those keeps these. Large sets of rules
/// are split in two halves computed side by side: a rule's set reads nothing but its
/// own peers.
pub(crate) fn peer_sets(
    rules: &Rules<'_>,
    by_peer: &Csr<IdentityId>,
    all: usize,
    rule_ids: &[RuleId],
) -> PeerSets {
    let n = rules.rules.len();
    let range = |r: Range<usize>| range_sets(rules, by_peer, all, rule_ids, r);
    let half = n / 2;
    let (mut first, second) = par::both(
        n >= par::PARALLEL_FROM,
        || range(0..half),
        || range(half..n),
    );
    let offset = first.items.len();
    first.items.extend(second.items);
    first.sets.extend(second.sets.into_iter().map(|s| match s {
        PeerSet::Union(r) => PeerSet::Union(r.start + offset..r.end + offset),
        other => other,
    }));
    first
}

/// The peer sets of the rules numbered in `range`.
fn range_sets(
    rules: &Rules<'_>,
    by_peer: &Csr<IdentityId>,
    all: usize,
    rule_ids: &[RuleId],
    range: Range<usize>,
) -> PeerSets {
    let mut items: Vec<IdentityId> = Vec::new();
    let sets = rules.rules[range.clone()]
        .iter()
        .zip(&rule_ids[range])
        .map(|(r, &id)| match rules.peers_of(r) {
            // No local endpoint can hit the rule (its policy isolates none here).
            _ if id == NO_RULE => PeerSet::All,
            None => PeerSet::All,
            Some([p]) if by_peer.get(*p as usize).len() == all => PeerSet::All,
            Some([p]) => PeerSet::One(*p as usize),
            Some(list) => {
                let start = items.len();
                for &p in list {
                    items.extend_from_slice(by_peer.get(p as usize));
                }
                let end = start + sort_dedup(&mut items[start..]);
                items.truncate(end);
                if end - start == all {
                    items.truncate(start);
                    PeerSet::All
                } else {
                    PeerSet::Union(start..end)
                }
            }
        })
        .collect();
    PeerSets { sets, items }
}

/// Sorts `run` and moves its distinct values to the front; returns how many there are.
fn sort_dedup(run: &mut [IdentityId]) -> usize {
    run.sort_unstable();
    let mut kept = 0;
    for i in 0..run.len() {
        if kept == 0 || run[i] != run[kept - 1] {
            run[kept] = run[i];
            kept += 1;
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_sorted_and_deduplicated_in_place() {
        let mut run = [5, 1, 5, 3, 1, 9];
        let kept = sort_dedup(&mut run);
        assert_eq!(run[..kept], [1, 3, 5, 9]);
        assert_eq!(sort_dedup(&mut []), 0);
    }
}
