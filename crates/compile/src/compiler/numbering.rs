//! The rule table, numbered before any port table is built, so that tables are written
//! with their final rule ids in one pass (no renumbering walk over every entry).
//!
//! The table holds, in [`Reason`] order: `NotIsolated` (id 0); every rule of every policy
//! that isolates some local endpoint in that rule's direction, by (policy, direction,
//! index); then one default deny per distinct (direction, isolating policies), by
//! (direction, policies). Rules no local endpoint can hit are left out, so the ids
//! depend only on what this node enforces.

use super::rules::{Rules, direction_slot};
use crate::program::{NO_RULE, RuleId};
use bulkhead_policy::Direction;
use bulkhead_policy::ir::Reason;

pub(crate) struct Book<'s> {
    pub reasons: Vec<Reason>,
    /// Per global rule number: its id, or [`NO_RULE`] when no local endpoint can hit it.
    pub rule_ids: Vec<RuleId>,
    /// (direction slot, isolating policies), sorted; id = `first_default` + position.
    defaults: Vec<(usize, &'s [u32])>,
    first_default: usize,
}

impl<'s> Book<'s> {
    /// `selecting[slot][endpoint]`: the policies isolating each local endpoint.
    pub fn new(rules: &Rules<'_>, selecting: &'s [Vec<Vec<u32>>; 2]) -> Self {
        let mut active = vec![[false; 2]; rules.policies.len()];
        for (slot, lists) in selecting.iter().enumerate() {
            for &p in lists.iter().flatten() {
                active[p as usize][slot] = true;
            }
        }
        let mut reasons = vec![Reason::NotIsolated];
        let rule_ids = rules
            .rules
            .iter()
            .map(|r| {
                if !active[r.policy as usize][direction_slot(r.direction)] {
                    return NO_RULE;
                }
                reasons.push(Reason::Rule {
                    policy: rules.policies[r.policy as usize].name.clone(),
                    direction: r.direction,
                    index: r.index,
                    action: r.action,
                });
                (reasons.len() - 1) as RuleId
            })
            .collect();
        let mut defaults: Vec<(usize, &[u32])> = selecting
            .iter()
            .enumerate()
            .flat_map(|(slot, lists)| lists.iter().map(move |l| (slot, l.as_slice())))
            .filter(|(_, l)| !l.is_empty())
            .collect();
        // Policy numbers follow name order, so this is (direction, policy names) order.
        defaults.sort_unstable();
        defaults.dedup();
        let first_default = reasons.len();
        for (slot, policies) in &defaults {
            reasons.push(Reason::DefaultDeny {
                direction: [Direction::Ingress, Direction::Egress][*slot],
                policies: policies
                    .iter()
                    .map(|&p| rules.policies[p as usize].name.clone())
                    .collect(),
            });
        }
        Book {
            reasons,
            rule_ids,
            defaults,
            first_default,
        }
    }

    /// The id of the default deny for endpoints isolated in `slot` by `policies`.
    pub fn default_id(&self, slot: usize, policies: &[u32]) -> RuleId {
        let i = self
            .defaults
            .binary_search(&(slot, policies))
            .unwrap_or_default();
        (self.first_default + i) as RuleId
    }
}
