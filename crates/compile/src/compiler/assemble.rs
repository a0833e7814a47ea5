//! A chunk of endpoints assembled from the tables computed for it.
//!
//! Done on the chunk's own thread: cloning each workload's id and addresses and hashing
//! the endpoint is per-endpoint work like the tables, and tables are only ever shared
//! within one chunk, so no chunk needs another's.

use super::Input;
use super::select::Selector;
use crate::program::{DirectionProgram, Endpoint, IdentityId, direction_fingerprint};

/// What a chunk of endpoints is assembled from besides its tables.
pub(crate) struct Shared<'s, 'a> {
    pub input: &'s Input<'a>,
    pub selector: &'s Selector<'a>,
    /// Selector positions of the local endpoints, in endpoint order.
    pub local: &'s [u32],
    /// Per workload position: the identity of its primary address.
    pub workload_identity: &'s [IdentityId],
}

/// The endpoints `start..` (as many as `uses`), whose directions use `tables` (each
/// with its fingerprint) as `uses` says; `None`: not isolated.
pub(crate) fn endpoints(
    shared: &Shared<'_, '_>,
    start: usize,
    mut tables: Vec<DirectionProgram>,
    fingerprints: &[u64],
    uses: &[[Option<usize>; 2]],
) -> Vec<Endpoint> {
    // Most tables serve one endpoint: move those instead of copying them.
    let mut left = vec![0usize; tables.len()];
    for t in uses.iter().flatten().flatten() {
        left[*t] += 1;
    }
    let open = direction_fingerprint(&DirectionProgram::default());
    let Input {
        interfaces, modes, ..
    } = shared.input;
    (start..)
        .zip(uses)
        .map(|(index, slots)| {
            let pos = shared.local[index] as usize;
            let w = shared.selector.workloads[pos];
            let mut table = |s: Option<usize>| match s {
                None => DirectionProgram::default(),
                Some(t) => {
                    left[t] -= 1;
                    if left[t] == 0 {
                        std::mem::take(&mut tables[t])
                    } else {
                        tables[t].clone()
                    }
                }
            };
            let print = |s: Option<usize>| s.map_or(open, |t| fingerprints[t]);
            let mut e = Endpoint {
                workload: w.id.clone(),
                index: index as u32,
                ips: w.ips.clone(),
                interface: interfaces.get(&w.id).cloned(),
                identity: shared.workload_identity[pos],
                mode: modes.get(&w.id).copied().unwrap_or_default(),
                ingress: table(slots[0]),
                egress: table(slots[1]),
                fingerprint: 0,
            };
            e.fingerprint = e.fingerprint_with(print(slots[0]), print(slots[1]));
            e
        })
        .collect()
}
