//! Endpoint ids that survive applies.

use crate::program::{Endpoint, Program};
use bulkhead_policy::WorkloadId;
use std::collections::{BTreeMap, BTreeSet};

/// An id for every endpoint of `program`: the one in `previous` if it had one, else the
/// smallest id no endpoint uses. Ids of workloads that left are freed for reuse (their
/// entries are removed in the same apply). Deterministic: new workloads get ids in
/// workload-id order.
pub fn assign(
    previous: &BTreeMap<WorkloadId, u32>,
    program: &Program,
) -> BTreeMap<WorkloadId, u32> {
    let ids = assign_in_order(program, |e| previous.get(&e.workload).copied());
    program
        .endpoints
        .iter()
        .map(|e| e.workload.clone())
        .zip(ids)
        .collect()
}

/// [`assign`] with the previous ids asked of `previous` and the result in the order of
/// `program.endpoints`: no workload id is copied, which matters when one workload's
/// update must not cost a pass of allocations over a thousand others.
pub fn assign_in_order(program: &Program, previous: impl Fn(&Endpoint) -> Option<u32>) -> Vec<u32> {
    assign_kept(program.endpoints.iter().map(previous).collect())
}

/// The ids of [`assign_in_order`] from each endpoint's previous id (`None`: it had
/// none). A previous id claimed twice goes to the first claimant only. Used ids live in
/// a bit set, not a tree: with a thousand endpoints this runs on every apply.
pub fn assign_kept(mut kept: Vec<Option<u32>>) -> Vec<u32> {
    let mut used = IdSet::default();
    for k in &mut kept {
        *k = k.filter(|&id| used.insert(id));
    }
    let mut next = 0u32;
    kept.into_iter()
        .map(|k| {
            k.unwrap_or_else(|| {
                while used.contains(next) {
                    next += 1;
                }
                used.insert(next);
                next
            })
        })
        .collect()
}

/// A set of ids: one bit each below [`IdSet::DENSE`] (where assigned ids live), a tree
/// above (only ids handed in from elsewhere can be that large).
#[derive(Default)]
struct IdSet {
    words: Vec<u64>,
    sparse: BTreeSet<u32>,
}

impl IdSet {
    const DENSE: u32 = 1 << 20;

    fn contains(&self, id: u32) -> bool {
        if id >= Self::DENSE {
            return self.sparse.contains(&id);
        }
        let (w, b) = ((id / 64) as usize, id % 64);
        self.words.get(w).is_some_and(|x| x & (1 << b) != 0)
    }

    /// Whether `id` was absent (and is now present).
    fn insert(&mut self, id: u32) -> bool {
        if id >= Self::DENSE {
            return self.sparse.insert(id);
        }
        let (w, b) = ((id / 64) as usize, id % 64);
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        let fresh = self.words[w] & (1 << b) == 0;
        self.words[w] |= 1 << b;
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::assign_kept;

    #[test]
    fn kept_ids_stay_duplicates_and_newcomers_take_the_smallest_free() {
        let ids = assign_kept(vec![Some(3), None, Some(3), Some(1 << 30), None, Some(0)]);
        assert_eq!(ids, vec![3, 1, 2, 1 << 30, 4, 0]);
    }
}
