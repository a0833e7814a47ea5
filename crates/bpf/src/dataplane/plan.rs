//! The two steps of an apply before anything is written: resolving and attaching the
//! endpoints' interfaces, and planning the slot's contents (reusing the entries of
//! every endpoint that did not change).

use super::EbpfDataplane;
use crate::Error;
use crate::attach;
use crate::slot::{Entries, Slot};
use bulkhead_compile::ebpf::{self as entries, check_capacity};
use bulkhead_compile::{Endpoint, Program};
use bulkhead_dataplane::netns;
use bulkhead_ebpf_common::{EndpointValue, capacity};
use bulkhead_policy::WorkloadId;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) struct Cached {
    endpoint: Endpoint,
    id: u32,
    value: EndpointValue,
    entries: Arc<Entries>,
}

/// Whether two endpoints give the same map entries (the dense index does not matter).
fn same_entries(a: &Endpoint, b: &Endpoint) -> bool {
    a.interface == b.interface && a.mode == b.mode && a.ingress == b.ingress && a.egress == b.egress
}

impl EbpfDataplane {
    /// The slot contents `program` asks for, with endpoints keyed by `ifindexes`.
    pub(super) fn desired(
        &mut self,
        program: &Program,
        ifindexes: &BTreeMap<String, u32>,
    ) -> Result<Slot, Error> {
        let active = &self.slots[(self.generation & 1) as usize];
        let cache_ids = &self.cache;
        let ids = entries::ids::assign_in_order(program, |e| {
            cache_ids.get(&e.workload).map(|c| c.id).or_else(|| {
                let ifindex = e.interface.as_ref().and_then(|i| ifindexes.get(i))?;
                active.endpoints.get(ifindex).map(|v| v.id)
            })
        });
        let mut want = Slot {
            ipcache: entries::ipcache(program),
            ..Slot::default()
        };
        let mut owner: BTreeMap<u32, &WorkloadId> = BTreeMap::new();
        let mut cache = BTreeMap::new();
        for (e, &id) in program.endpoints.iter().zip(&ids) {
            // The cached workload id moves over: no copy for unchanged endpoints.
            let (key, reuse) = match self.cache.remove_entry(&e.workload) {
                Some((key, c)) => (key, Some(c)),
                None => (e.workload.clone(), None),
            };
            let reuse = reuse.filter(|c| c.id == id && same_entries(&c.endpoint, e));
            let c = match reuse {
                Some(c) => c,
                None => {
                    let m = entries::endpoint_maps(e, id)?;
                    Cached {
                        endpoint: e.clone(),
                        id,
                        value: m.value,
                        entries: Arc::new(m.policy),
                    }
                }
            };
            let interface = e.interface.as_deref().unwrap_or_default();
            let ifindex = *ifindexes.get(interface).ok_or_else(|| Error::NoInterface {
                interface: interface.to_string(),
                netns: self.netns.clone(),
            })?;
            if let Some(first) = owner.insert(ifindex, &e.workload) {
                return Err(Error::SharedInterface {
                    interface: interface.to_string(),
                    first: first.to_string(),
                    second: e.workload.to_string(),
                });
            }
            want.endpoints.insert(ifindex, c.value);
            want.policy.insert(id, Arc::clone(&c.entries));
            cache.insert(key, c);
        }
        self.cache = cache;
        check_capacity("ipcache", want.ipcache.len(), capacity::IPCACHE_PER_SLOT)?;
        check_capacity(
            "endpoints",
            want.endpoints.len(),
            capacity::ENDPOINTS_PER_SLOT,
        )?;
        check_capacity("policy", want.policy_entries(), capacity::POLICY_PER_SLOT)?;
        Ok(want)
    }

    /// Inside the node's namespace: resolves every endpoint's interface and makes sure
    /// the programs run on all of them.
    pub(super) fn resolve_and_attach(
        &mut self,
        program: &Program,
    ) -> Result<BTreeMap<String, u32>, Error> {
        let mut wanted = Vec::new();
        for e in &program.endpoints {
            let interface = e
                .interface
                .clone()
                .ok_or_else(|| entries::EbpfError::NoInterface {
                    workload: e.workload.clone(),
                })?;
            wanted.push(interface);
        }
        // No link of the node changed since the last resolve and every interface is
        // attached already: the known indexes hold, no need to list the node's links.
        let changed = self.watch.changed() || self.links_dirty;
        if !changed {
            let known: Option<BTreeMap<String, u32>> = wanted
                .iter()
                .map(|n| self.attached.get(n).map(|i| (n.clone(), *i)))
                .collect();
            if let Some(found) = known {
                return Ok(found);
            }
        }
        self.links_dirty = true;
        let EbpfDataplane {
            ebpf,
            dir,
            attached,
            prog_ids,
            netns,
            netns_path,
            ..
        } = self;
        let prog_ids = *prog_ids;
        let run = || -> Result<BTreeMap<String, u32>, Error> {
            let all = nix::net::if_::if_nameindex()
                .map_err(|e| Error::io("list interfaces", e.into()))?;
            let index: BTreeMap<String, u32> = all
                .iter()
                .map(|i| (i.name().to_string_lossy().to_string(), i.index()))
                .collect();
            let mut found = BTreeMap::new();
            for name in wanted {
                let ifindex = *index.get(&name).ok_or_else(|| Error::NoInterface {
                    interface: name.clone(),
                    netns: netns.clone(),
                })?;
                found.insert(name, ifindex);
            }
            let new: BTreeMap<String, u32> = found
                .iter()
                .filter(|(n, i)| attached.get(*n) != Some(*i))
                .map(|(n, i)| (n.clone(), *i))
                .collect();
            attach::ensure(ebpf, dir, &new, prog_ids)?;
            attached.extend(new);
            Ok(found)
        };
        let found = netns::run_in(netns_path, run).map_err(|source| Error::Netns {
            path: netns_path.display().to_string(),
            source,
        })??;
        self.links_dirty = false;
        Ok(found)
    }
}
