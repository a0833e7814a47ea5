//! Endpoint ids that survive applies.

use crate::program::Program;
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
    let mut out = BTreeMap::new();
    let mut used = BTreeSet::new();
    for e in &program.endpoints {
        if let Some(&id) = previous.get(&e.workload)
            && used.insert(id)
        {
            out.insert(e.workload.clone(), id);
        }
    }
    let mut next = 0u32;
    for e in &program.endpoints {
        if out.contains_key(&e.workload) {
            continue;
        }
        while used.contains(&next) {
            next += 1;
        }
        used.insert(next);
        out.insert(e.workload.clone(), next);
    }
    out
}
