//! Planning an apply: which endpoints of the new program differ from the last one,
//! and the desired slot contents updated for those alone.
//!
//! The last program's endpoints are kept, in workload order, with what their entries
//! were built from ([`Cached`]). A new program is matched against them in one merge
//! pass (both are sorted by workload id); an endpoint whose fingerprint (the compiler's
//! content hash), endpoint id and interface index are the same keeps its entries, and only the others are rebuilt and
//! listed in [`Touched`] for the writer. So one workload's update costs a pass of
//! cheap comparisons plus that workload's entries, not a rebuild of the node's maps.

use super::EbpfDataplane;
use crate::Error;
use crate::slot::{Entries, Slot, Touched};
use bulkhead_compile::ebpf::{self as entries, check_capacity, ids::assign_kept};
use bulkhead_compile::{Endpoint, Program};
use bulkhead_ebpf_common::{EndpointValue, capacity};
use bulkhead_policy::WorkloadId;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One endpoint of the last planned program, and the entries made for it.
pub(super) struct Cached {
    pub(super) workload: WorkloadId,
    /// The compiler's content hash of the endpoint the entries were built from.
    fingerprint: u64,
    pub(super) interface: String,
    pub(super) ifindex: u32,
    id: u32,
    value: EndpointValue,
    entries: Arc<Entries>,
}

/// What a plan changed beyond the slot contents.
pub(super) struct Planned {
    pub(super) touched: Touched,
    /// Whether the set of interfaces changed (so links may need detaching).
    pub(super) interfaces_changed: bool,
}

/// Whether `e` is what `c` was built from: one `u64` comparison instead of two tables.
/// The fingerprint covers interface, mode and both tables (and the addresses and
/// identity, which do not enter the entries: a change there rebuilds entries that then
/// compare equal key by key, and nothing is written).
fn unchanged(c: &Cached, e: &Endpoint) -> bool {
    c.fingerprint == e.fingerprint
}

/// A program whose fingerprints do not match its endpoints (built or edited by hand
/// without [`Program::refresh_fingerprints`]) would have changes skipped: caught in
/// debug builds, which is where hand-built programs live.
fn debug_check_fingerprints(program: &Program) {
    if cfg!(debug_assertions) {
        for e in &program.endpoints {
            assert_eq!(
                e.fingerprint,
                e.content_fingerprint(),
                "endpoint {} has a stale fingerprint: call Program::refresh_fingerprints",
                e.workload
            );
        }
    }
}

/// For each endpoint of `program`, the index of the same workload in `cache`.
pub(super) fn previous(cache: &[Cached], program: &Program) -> Vec<Option<usize>> {
    // Both are sorted by workload id: one merge pass, no lookups, no copies.
    let mut out = Vec::with_capacity(program.endpoints.len());
    let mut j = 0;
    let mut last: Option<&WorkloadId> = None;
    for e in &program.endpoints {
        if last.is_some_and(|l| *l >= e.workload) {
            return previous_unsorted(cache, program);
        }
        last = Some(&e.workload);
        while cache.get(j).is_some_and(|c| c.workload < e.workload) {
            j += 1;
        }
        out.push(
            cache
                .get(j)
                .is_some_and(|c| c.workload == e.workload)
                .then_some(j),
        );
    }
    out
}

/// [`previous`] for a program not sorted by workload (never from the compiler).
fn previous_unsorted(cache: &[Cached], program: &Program) -> Vec<Option<usize>> {
    let by_workload: BTreeMap<&WorkloadId, usize> = cache
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.workload, i))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    program
        .endpoints
        .iter()
        .map(|e| {
            let j = by_workload.get(&e.workload).copied()?;
            seen.insert(j).then_some(j)
        })
        .collect()
}

impl EbpfDataplane {
    /// Brings the desired slot contents (`self.want`) in line with `program`, whose
    /// endpoints sit on `ifindexes` and matched `prev` (see [`previous`]), and says
    /// which keys changed. On error nothing is trusted any more: the next apply plans
    /// from scratch and compares whole slots (the kernel is untouched either way).
    pub(super) fn plan(
        &mut self,
        program: &Program,
        prev: &[Option<usize>],
        ifindexes: &[u32],
    ) -> Result<Planned, Error> {
        debug_check_fingerprints(program);
        let planned = self.plan_changes(program, prev, ifindexes);
        if planned.is_err() {
            self.cache.clear();
            self.want = Slot::default();
            self.ipcache_src = None;
            self.synced = false;
        }
        planned
    }

    fn plan_changes(
        &mut self,
        program: &Program,
        prev: &[Option<usize>],
        ifindexes: &[u32],
    ) -> Result<Planned, Error> {
        // Ids survive applies; after a restart they are read back from the active slot.
        let active = &self.slots[(self.generation & 1) as usize];
        let kept = prev
            .iter()
            .zip(ifindexes)
            .map(|(p, ifindex)| match p {
                Some(j) => Some(self.cache[*j].id),
                None => active.endpoints.get(ifindex).map(|v| v.id),
            })
            .collect();
        let ids = assign_kept(kept);
        let mut old: Vec<Option<Cached>> = std::mem::take(&mut self.cache)
            .into_iter()
            .map(Some)
            .collect();
        let mut cache = Vec::with_capacity(program.endpoints.len());
        // Entries that leave the desired contents, and positions in `cache` of rebuilt ones.
        let (mut stale, mut fresh) = (Vec::new(), Vec::new());
        let mut interfaces_changed = false;
        for (i, e) in program.endpoints.iter().enumerate() {
            let (id, ifindex) = (ids[i], ifindexes[i]);
            match prev[i].and_then(|j| old[j].take()) {
                Some(c) if c.id == id && c.ifindex == ifindex && unchanged(&c, e) => {
                    cache.push(c);
                    continue;
                }
                Some(c) => {
                    interfaces_changed |= Some(c.interface.as_str()) != e.interface.as_deref();
                    stale.push(c);
                }
                None => interfaces_changed = true,
            }
            let m = entries::endpoint_maps(e, id)?;
            fresh.push(cache.len());
            cache.push(Cached {
                workload: e.workload.clone(),
                fingerprint: e.fingerprint,
                interface: m.interface,
                ifindex,
                id,
                value: m.value,
                entries: Arc::new(m.policy),
            });
        }
        let before = stale.len();
        stale.extend(old.into_iter().flatten());
        interfaces_changed |= stale.len() > before;

        let mut touched = Touched::default();
        // Removals first: an id or interface that one endpoint left may be another's now.
        for c in &stale {
            self.want.policy.remove(&c.id);
            self.want.endpoints.remove(&c.ifindex);
            touched.ids.insert(c.id);
            touched.ifindexes.insert(c.ifindex);
        }
        for &k in &fresh {
            let c = &cache[k];
            if self.want.endpoints.insert(c.ifindex, c.value).is_some() {
                let first = cache
                    .iter()
                    .find(|o| o.ifindex == c.ifindex && o.workload != c.workload)
                    .map_or_else(String::new, |o| o.workload.to_string());
                return Err(Error::SharedInterface {
                    interface: c.interface.clone(),
                    first,
                    second: c.workload.to_string(),
                });
            }
            self.want.policy.insert(c.id, Arc::clone(&c.entries));
            touched.ids.insert(c.id);
            touched.ifindexes.insert(c.ifindex);
        }
        if self.ipcache_src.as_deref() != Some(program.ipcache.as_slice()) {
            self.want.ipcache = entries::ipcache(program);
            self.ipcache_src = Some(program.ipcache.clone());
            touched.ipcache = true;
        }
        let want = &self.want;
        check_capacity("ipcache", want.ipcache.len(), capacity::IPCACHE_PER_SLOT)?;
        check_capacity(
            "endpoints",
            want.endpoints.len(),
            capacity::ENDPOINTS_PER_SLOT,
        )?;
        check_capacity("policy", want.policy_entries(), capacity::POLICY_PER_SLOT)?;
        if !cache.is_sorted_by(|a, b| a.workload < b.workload) {
            cache.sort_by(|a, b| a.workload.cmp(&b.workload));
        }
        self.cache = cache;
        Ok(Planned {
            touched,
            interfaces_changed,
        })
    }
}
