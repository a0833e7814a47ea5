//! Which policies isolate which local endpoint, per direction.

use super::rules::Rules;
use super::select::{Scopes, Selector};

/// For each direction and local endpoint: the policies (ascending) that select it and
/// isolate that direction.
pub(crate) fn subjects<'a>(
    rules: &Rules<'a>,
    selector: &Selector<'a>,
    local: &[u32],
) -> [Vec<Vec<u32>>; 2] {
    let mut slot_of = vec![usize::MAX; selector.workloads.len()];
    for (l, &pos) in local.iter().enumerate() {
        slot_of[pos as usize] = l;
    }
    let mut scopes = Scopes::default();
    let mut out = [vec![Vec::new(); local.len()], vec![Vec::new(); local.len()]];
    for (p, policy) in rules.policies.iter().enumerate() {
        let ranges = &rules.ranges[p];
        if ranges.iter().all(Option::is_none) {
            continue;
        }
        let subject = &policy.subject;
        for pos in selector.select(&mut scopes, &subject.namespaces, Some(&subject.workloads)) {
            let l = slot_of[pos as usize];
            if l == usize::MAX {
                continue;
            }
            for (slot, range) in ranges.iter().enumerate() {
                if range.is_some() {
                    out[slot][l].push(p as u32);
                }
            }
        }
    }
    out
}
