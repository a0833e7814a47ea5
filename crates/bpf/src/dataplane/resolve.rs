//! The first step of an apply: every endpoint's interface index, with the programs
//! attached to any interface that lacks them.

use super::EbpfDataplane;
use crate::Error;
use crate::attach;
use bulkhead_compile::Program;
use bulkhead_compile::ebpf as entries;
use bulkhead_dataplane::netns;
use std::collections::BTreeMap;

impl EbpfDataplane {
    /// The ifindex of each endpoint of `program` (in its order), making sure the
    /// programs run on all of them. `prev` matches the endpoints with the last plan's.
    pub(super) fn resolve_and_attach(
        &mut self,
        program: &Program,
        prev: &[Option<usize>],
    ) -> Result<Vec<u32>, Error> {
        let mut wanted = Vec::with_capacity(program.endpoints.len());
        for e in &program.endpoints {
            let interface =
                e.interface
                    .as_deref()
                    .ok_or_else(|| entries::EbpfError::NoInterface {
                        workload: e.workload.clone(),
                    })?;
            wanted.push(interface);
        }
        // No link of the node changed since the last resolve: the known indexes hold.
        // An endpoint on the same interface as last time takes its index from the
        // last plan (one string comparison), any other asks the attached set.
        let changed = self.watch.changed() || self.links_dirty;
        if !changed {
            let known: Option<Vec<u32>> = wanted
                .iter()
                .zip(prev)
                .map(|(name, p)| match p.map(|j| &self.cache[j]) {
                    Some(c) if c.interface == *name => Some(c.ifindex),
                    _ => self.attached.get(*name).copied(),
                })
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
        let run = || -> Result<Vec<u32>, Error> {
            let all = nix::net::if_::if_nameindex()
                .map_err(|e| Error::io("list interfaces", e.into()))?;
            let index: BTreeMap<String, u32> = all
                .iter()
                .map(|i| (i.name().to_string_lossy().to_string(), i.index()))
                .collect();
            let mut found = Vec::with_capacity(wanted.len());
            let mut new = BTreeMap::new();
            for name in &wanted {
                let ifindex = *index.get(*name).ok_or_else(|| Error::NoInterface {
                    interface: name.to_string(),
                    netns: netns.clone(),
                })?;
                found.push(ifindex);
                if attached.get(*name) != Some(&ifindex) {
                    new.insert(name.to_string(), ifindex);
                }
            }
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
