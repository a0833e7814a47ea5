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
    let mut used = BTreeSet::new();
    let kept: Vec<Option<u32>> = program
        .endpoints
        .iter()
        .map(|e| previous(e).filter(|&id| used.insert(id)))
        .collect();
    let mut next = 0u32;
    kept.into_iter()
        .map(|k| {
            k.unwrap_or_else(|| {
                while used.contains(&next) {
                    next += 1;
                }
                used.insert(next);
                next
            })
        })
        .collect()
}
