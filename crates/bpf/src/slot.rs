//! One generation slot's contents as user space models them, and bringing a slot in
//! line with the desired contents by writing only the differences.
//!
//! Policy entries are grouped per endpoint id behind an `Arc`: an endpoint whose
//! entries did not change shares the very same `Arc` between the desired state and
//! both slots, so its diff costs one pointer comparison. That is what keeps one
//! workload's update at the cost of that workload's entries, whatever the node holds.

use crate::Error;
use crate::maps::{Maps, endpoint_key, policy_key};
use bulkhead_compile::ebpf::PolicyEntry;
use bulkhead_ebpf_common::{EndpointValue, PolicyValue};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub type Entries = BTreeMap<PolicyEntry, PolicyValue>;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    pub ipcache: BTreeMap<Ipv4Net, u32>,
    /// By ifindex.
    pub endpoints: BTreeMap<u32, EndpointValue>,
    /// By endpoint id.
    pub policy: BTreeMap<u32, Arc<Entries>>,
}

impl Slot {
    pub fn policy_entries(&self) -> usize {
        self.policy.values().map(|e| e.len()).sum()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub written: usize,
    pub removed: usize,
}

/// The keys of the desired contents that an apply changed: every other key already
/// holds what it should in a slot that was in line with the previous contents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    /// Endpoint ids whose policy entries changed (or appeared, or went).
    pub ids: BTreeSet<u32>,
    /// Interfaces whose endpoint value changed (or appeared, or went).
    pub ifindexes: BTreeSet<u32>,
    /// Whether the ipcache changed at all.
    pub ipcache: bool,
}

/// Makes slot `slot` of the maps (modelled by `have`) equal `want`, comparing every
/// key. `have` follows every successful write, so after an error it still says exactly
/// what the kernel holds and a later call finishes the job.
pub fn write(maps: &mut Maps, slot: u8, have: &mut Slot, want: &Slot) -> Result<Counts, Error> {
    let touched = Touched {
        ids: have
            .policy
            .keys()
            .chain(want.policy.keys())
            .copied()
            .collect(),
        ifindexes: have
            .endpoints
            .keys()
            .chain(want.endpoints.keys())
            .copied()
            .collect(),
        ipcache: true,
    };
    write_touched(maps, slot, have, want, &touched)
}

/// [`write`], looking only at the keys in `touched`: exact when `have` equalled the
/// previous desired contents and `want` differs from them only there. This is what
/// keeps one workload's update at the cost of that workload's entries.
pub fn write_touched(
    maps: &mut Maps,
    slot: u8,
    have: &mut Slot,
    want: &Slot,
    touched: &Touched,
) -> Result<Counts, Error> {
    let mut n = Counts::default();
    // Policy first removes, then adds, so a full map never blocks a replacement.
    for &id in &touched.ids {
        let (old, new) = (have.policy.get(&id), want.policy.get(&id));
        if let (Some(a), Some(b)) = (old, new)
            && Arc::ptr_eq(a, b)
        {
            continue;
        }
        let empty = Entries::new();
        let old_entries = old.map_or(&empty, |a| a.as_ref());
        let new_entries = new.map_or(&empty, |b| b.as_ref());
        let mut cur = old_entries.clone();
        let result = policy_diff(maps, slot, id, &mut cur, new_entries, &mut n);
        match (result, new) {
            (Ok(()), Some(b)) => {
                have.policy.insert(id, Arc::clone(b));
            }
            (Ok(()), None) => {
                have.policy.remove(&id);
            }
            (Err(e), _) => {
                have.policy.insert(id, Arc::new(cur));
                return Err(e);
            }
        }
    }
    // Endpoints: a removed endpoint's entries are gone already; a new one's are there.
    for &ifindex in &touched.ifindexes {
        if have.endpoints.contains_key(&ifindex) && !want.endpoints.contains_key(&ifindex) {
            maps.endpoints
                .remove(&endpoint_key(slot, ifindex))
                .map_err(|e| Error::map("delete from BH_ENDPOINTS", e))?;
            have.endpoints.remove(&ifindex);
            n.removed += 1;
        }
    }
    for &ifindex in &touched.ifindexes {
        let Some(v) = want.endpoints.get(&ifindex) else {
            continue;
        };
        if have.endpoints.get(&ifindex) != Some(v) {
            maps.endpoints
                .insert(endpoint_key(slot, ifindex), v, 0)
                .map_err(|e| Error::map("write BH_ENDPOINTS", e))?;
            have.endpoints.insert(ifindex, *v);
            n.written += 1;
        }
    }
    if touched.ipcache {
        write_ipcache(maps, slot, have, want, &mut n)?;
    }
    Ok(n)
}

fn write_ipcache(
    maps: &mut Maps,
    slot: u8,
    have: &mut Slot,
    want: &Slot,
    n: &mut Counts,
) -> Result<(), Error> {
    let gone: Vec<Ipv4Net> = have
        .ipcache
        .keys()
        .filter(|k| !want.ipcache.contains_key(k))
        .copied()
        .collect();
    for net in gone {
        maps.remove_ipcache(slot, &net)?;
        have.ipcache.remove(&net);
        n.removed += 1;
    }
    for (net, &identity) in &want.ipcache {
        if have.ipcache.get(net) != Some(&identity) {
            maps.set_ipcache(slot, net, identity)?;
            have.ipcache.insert(*net, identity);
            n.written += 1;
        }
    }
    Ok(())
}

/// Brings one endpoint's entries from `cur` to `want`, updating `cur` as it goes.
fn policy_diff(
    maps: &mut Maps,
    slot: u8,
    id: u32,
    cur: &mut Entries,
    want: &Entries,
    n: &mut Counts,
) -> Result<(), Error> {
    let gone: Vec<PolicyEntry> = cur
        .keys()
        .filter(|k| !want.contains_key(k))
        .copied()
        .collect();
    for k in gone {
        maps.policy
            .remove(&policy_key(slot, id, &k))
            .map_err(|e| Error::map("delete from BH_POLICY", e))?;
        cur.remove(&k);
        n.removed += 1;
    }
    for (k, v) in want {
        if cur.get(k) != Some(v) {
            insert_retrying(|| maps.policy.insert(policy_key(slot, id, k), v, 0))
                .map_err(|e| Error::map("write BH_POLICY", e))?;
            cur.insert(*k, *v);
            n.written += 1;
        }
    }
    Ok(())
}

/// How often an insert that found no free element is tried again.
const NOMEM_RETRIES: u32 = 200;

/// Runs `insert` again after a short pause when it fails with `ENOMEM`. The policy map
/// is not preallocated: the kernel hands out elements from per-CPU caches that it
/// refills asynchronously, so a burst of a hundred thousand inserts (a node's first
/// apply) can find the cache empty for a moment although memory is plentiful.
fn insert_retrying(
    mut insert: impl FnMut() -> Result<(), aya::maps::MapError>,
) -> Result<(), aya::maps::MapError> {
    let mut tries = 0;
    loop {
        match insert() {
            Err(aya::maps::MapError::SyscallError(e))
                if e.io_error.raw_os_error() == Some(libc::ENOMEM) && tries < NOMEM_RETRIES =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::insert_retrying;
    use aya::maps::MapError;
    use aya::sys::SyscallError;

    fn failed(errno: i32) -> MapError {
        MapError::SyscallError(SyscallError {
            call: "bpf_map_update_elem",
            io_error: std::io::Error::from_raw_os_error(errno),
        })
    }

    #[test]
    fn enomem_is_retried_and_other_errors_are_not() {
        let mut calls = 0;
        let r = insert_retrying(|| {
            calls += 1;
            if calls < 3 {
                Err(failed(libc::ENOMEM))
            } else {
                Ok(())
            }
        });
        assert!(r.is_ok());
        assert_eq!(calls, 3);
        let mut calls = 0;
        let r = insert_retrying(|| {
            calls += 1;
            Err(failed(libc::E2BIG))
        });
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }
}
