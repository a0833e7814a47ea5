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

pub(crate) struct Book {
    pub reasons: Vec<Reason>,
    /// Per global rule number: its id, or [`NO_RULE`] when no local endpoint can hit it.
    pub rule_ids: Vec<RuleId>,
    /// `default_of[slot][endpoint]`: the id of its default deny ([`NO_RULE`] when not
    /// isolated). Looked up once per distinct table; also the tables' sharing key, since
    /// it names (direction, isolating policies) exactly.
    default_of: [Vec<RuleId>; 2],
}

impl Book {
    /// `selecting[slot][endpoint]`: the policies isolating each local endpoint.
    pub fn new(rules: &Rules<'_>, selecting: &[Vec<Vec<u32>>; 2]) -> Self {
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
        let list = |&(slot, l): &(usize, u32)| (slot, selecting[slot][l as usize].as_slice());
        let mut isolated: Vec<(usize, u32)> = selecting
            .iter()
            .enumerate()
            .flat_map(|(slot, lists)| (0..lists.len() as u32).map(move |l| (slot, l)))
            .filter(|d| !list(d).1.is_empty())
            .collect();
        // Policy numbers follow name order, so this is (direction, policy names) order.
        isolated.sort_unstable_by(|a, b| list(a).cmp(&list(b)));
        let mut default_of = selecting.each_ref().map(|lists| vec![NO_RULE; lists.len()]);
        for group in isolated.chunk_by(|a, b| list(a) == list(b)) {
            let id = reasons.len() as RuleId;
            let (slot, policies) = list(&group[0]);
            reasons.push(Reason::DefaultDeny {
                direction: [Direction::Ingress, Direction::Egress][slot],
                policies: policies
                    .iter()
                    .map(|&p| rules.policies[p as usize].name.clone())
                    .collect(),
            });
            for &(slot, l) in group {
                default_of[slot][l as usize] = id;
            }
        }
        Book {
            reasons,
            rule_ids,
            default_of,
        }
    }

    /// The id of the default deny of local endpoint `l` in `slot`.
    pub fn default_id(&self, slot: usize, l: usize) -> RuleId {
        self.default_of[slot][l]
    }
}
