//! The policy set in force, kept twice so that a revision edits a set in place instead
//! of copying one.
//!
//! The flow context shares the current set (`Arc`), so it cannot be edited; copying
//! 10,000 policies costs far more than the incremental compile. The set of the revision
//! before is usually no longer shared once the context moved on: it is brought up to
//! date by replaying the few names it is behind on, then edited. When something still
//! holds it, the current set is copied instead: slower, never wrong.

use bulkhead_policy::PolicySet;
use bulkhead_policy::ir::{Policy, PolicyName};
use std::sync::Arc;

#[derive(Default)]
pub(super) struct Sets {
    current: Arc<PolicySet>,
    /// The set before the last change, and the names where it differs from `current`.
    spare: Option<(Arc<PolicySet>, Vec<PolicyName>)>,
}

/// One policy added or edited (`Some`), or removed (`None`).
pub(super) type Edit = (PolicyName, Option<Policy>);

impl Sets {
    pub fn current(&self) -> &Arc<PolicySet> {
        &self.current
    }

    /// Makes the current set the previous one with `edits` applied. No edits: nothing
    /// moves (the spare stays one revision behind, as it is).
    pub fn advance(&mut self, edits: Vec<Edit>) {
        if edits.is_empty() {
            return;
        }
        let mut changed: Vec<PolicyName> = edits.iter().map(|(n, _)| n.clone()).collect();
        changed.sort();
        let mut next = match self.spare.take() {
            Some((mut spare, behind)) => match Arc::get_mut(&mut spare) {
                Some(set) => {
                    // The edits below overwrite their own names anyway.
                    for name in behind.iter().filter(|n| changed.binary_search(n).is_err()) {
                        put(set, name, find(&self.current, name).cloned());
                    }
                    spare
                }
                None => Arc::new(PolicySet::clone(&self.current)),
            },
            None => Arc::new(PolicySet::clone(&self.current)),
        };
        let set = Arc::make_mut(&mut next);
        for (name, policy) in edits {
            put(set, &name, policy);
        }
        let previous = std::mem::replace(&mut self.current, next);
        self.spare = Some((previous, changed));
    }
}

/// The policy named `name`; sets are sorted by name (`PolicySet::new`, and [`put`]).
fn find<'a>(set: &'a PolicySet, name: &PolicyName) -> Option<&'a Policy> {
    let i = set.policies.binary_search_by(|p| p.name.cmp(name)).ok()?;
    set.policies.get(i)
}

fn put(set: &mut PolicySet, name: &PolicyName, policy: Option<Policy>) {
    let at = set.policies.binary_search_by(|p| p.name.cmp(name));
    match (at, policy) {
        (Ok(i), Some(p)) => set.policies[i] = p,
        (Ok(i), None) => {
            set.policies.remove(i);
        }
        (Err(i), Some(p)) => set.policies.insert(i, p),
        (Err(_), None) => {}
    }
}
