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
    /// Per direction slot.
    defaults: [Defaults; 2],
}

/// One direction's default denies, numbered from 0: built apart from the rules'
/// reasons and from the other direction's (on other threads), since only their counts
/// tie them together.
#[derive(Default)]
pub(crate) struct Defaults {
    reasons: Vec<Reason>,
    /// `of[endpoint]`: the (relative) id of its default deny; meaningless when not
    /// isolated. Looked up once per distinct table; also the tables' sharing key, since
    /// it names (direction, isolating policies) exactly.
    of: Vec<RuleId>,
}

impl Defaults {
    /// `selecting[slot][endpoint]`: the policies isolating each local endpoint.
    pub fn new(rules: &Rules<'_>, selecting: &[Vec<Vec<u32>>; 2], slot: usize) -> Self {
        let lists = &selecting[slot];
        let mut isolated: Vec<u32> = (0..lists.len() as u32)
            .filter(|&l| !lists[l as usize].is_empty())
            .collect();
        // Policy numbers follow name order, so this is policy names order.
        isolated.sort_unstable_by(|&a, &b| lists[a as usize].cmp(&lists[b as usize]));
        let mut reasons = Vec::new();
        let mut of = vec![NO_RULE; lists.len()];
        for group in isolated.chunk_by(|&a, &b| lists[a as usize] == lists[b as usize]) {
            let id = reasons.len() as RuleId;
            reasons.push(Reason::DefaultDeny {
                direction: [Direction::Ingress, Direction::Egress][slot],
                policies: lists[group[0] as usize]
                    .iter()
                    .map(|&p| rules.policies[p as usize].name.clone())
                    .collect(),
            });
            for &l in group {
                of[l as usize] = id;
            }
        }
        Defaults { reasons, of }
    }
}

impl Book {
    /// The rules' reasons, then `defaults`'.
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
        Book {
            reasons,
            rule_ids,
            defaults: Default::default(),
        }
    }

    /// Joins the default denies of each direction, built beside the rules' reasons.
    pub fn with(mut self, defaults: [Defaults; 2]) -> Self {
        self.defaults = defaults;
        self
    }

    /// The id of the default deny of local endpoint `l`, isolated in `slot`: after the
    /// rules, ingress before egress.
    pub fn default_id(&self, slot: usize, l: usize) -> RuleId {
        let before: usize = self.defaults[..slot].iter().map(|d| d.reasons.len()).sum();
        (self.reasons.len() + before) as RuleId + self.defaults[slot].of[l]
    }

    /// The whole rule table and the rules' ids.
    pub fn finish(self) -> (Vec<Reason>, Vec<RuleId>) {
        let Book {
            mut reasons,
            rule_ids,
            defaults,
        } = self;
        for d in defaults {
            reasons.extend(d.reasons);
        }
        (reasons, rule_ids)
    }
}
