//! Each rule's peers as the identities they match, resolved once per compile.
//!
//! Kept by the incremental compiler: an update that keeps every rule's peers and the
//! identities keeps these too.

use super::csr::Csr;
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
pub(crate) fn peer_sets(
    rules: &Rules<'_>,
    peer_sets: &Csr<IdentityId>,
    all: usize,
    rule_ids: &[RuleId],
) -> Vec<PeerSet> {
    rules
        .rules
        .iter()
        .zip(rule_ids)
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
