//! [`EbpfDataplane`]: one node's eBPF enforcement, as a [`Dataplane`].

use crate::attach;
use crate::maps::Maps;
use crate::object;
use crate::pins::{Lock, PinDir};
use crate::slot::{self, Entries, Slot};
use crate::sys::Grace;
use crate::{Error, pins};
use aya::Ebpf;
use bulkhead_compile::ebpf::{self as entries, check_capacity};
use bulkhead_compile::{Endpoint, Program};
use bulkhead_dataplane::{ApplyReport, Dataplane, netns};
use bulkhead_ebpf_common::{EndpointValue, capacity, names};
use bulkhead_policy::WorkloadId;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long [`EbpfDataplane::open`] waits for a previous owner to let go.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The eBPF backend for the node whose network namespace is `/run/netns/{netns}`.
pub struct EbpfDataplane {
    netns: String,
    netns_path: PathBuf,
    dir: PinDir,
    ebpf: Ebpf,
    maps: Maps,
    grace: Grace,
    prog_ids: [u32; 2],
    generation: u32,
    /// What each slot of the maps holds.
    slots: [Slot; 2],
    /// Per workload: the endpoint last applied and its entries, reused while unchanged.
    cache: BTreeMap<WorkloadId, Cached>,
    /// Interfaces whose two links are known to run this process's programs.
    attached: BTreeMap<String, u32>,
    removed: bool,
    _lock: Lock,
}

struct Cached {
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
    /// Loads the programs against the node's pinned maps (taking over what a previous
    /// process left: enforcement continues unchanged until the next apply).
    pub fn open(netns: &str) -> Result<EbpfDataplane, Error> {
        let netns_path = netns::named(netns);
        if !netns_path.exists() {
            return Err(Error::Netns {
                path: netns_path.display().to_string(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let dir = PinDir::for_netns(netns);
        dir.create()?;
        let lock = Lock::acquire(&dir, LOCK_TIMEOUT)?;
        let mut ebpf = object::load(&dir)?;
        let maps = Maps::take(&mut ebpf)?;
        let prog_ids = attach::program_ids(&mut ebpf)?;
        let generation = maps.generation()?;
        let slots = maps.read_slots()?;
        let grace = Grace::new().map_err(|e| Error::io("create the grace-period map", e))?;
        // A predecessor killed right after its flip may not have waited for packets
        // still reading the slot that is now inactive; wait once here, before the
        // first apply writes into that slot.
        grace
            .synchronize()
            .map_err(|e| Error::io("wait for an RCU grace period", e))?;
        Ok(EbpfDataplane {
            netns: netns.to_string(),
            netns_path,
            dir,
            ebpf,
            maps,
            grace,
            prog_ids,
            generation,
            slots,
            cache: BTreeMap::new(),
            attached: BTreeMap::new(),
            removed: false,
            _lock: lock,
        })
    }

    /// [`open`](Self::open) by the namespace's path, `/run/netns/{name}` (the name
    /// names the pin directory).
    pub fn open_path(netns: &std::path::Path) -> Result<EbpfDataplane, Error> {
        let name = netns
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Netns {
                path: netns.display().to_string(),
                source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
            })?;
        if netns != netns::named(name) {
            return Err(Error::Netns {
                path: netns.display().to_string(),
                source: std::io::Error::other("not a named namespace under /run/netns"),
            });
        }
        Self::open(name)
    }

    pub fn pin_dir(&self) -> &PinDir {
        &self.dir
    }

    /// The generation in force.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The programs' kernel ids (from-workload, to-workload), e.g. for `BPF_PROG_TEST_RUN`.
    pub fn program_ids(&self) -> [u32; 2] {
        self.prog_ids
    }

    /// The loaded program of `hook`, e.g. for `BPF_PROG_TEST_RUN`.
    pub fn program(&mut self, hook: pins::Hook) -> Result<&aya::programs::SchedClassifier, Error> {
        let name = match hook {
            pins::Hook::FromWorkload => names::PROG_FROM_WORKLOAD,
            pins::Hook::ToWorkload => names::PROG_TO_WORKLOAD,
        };
        object::program_mut(&mut self.ebpf, name).map(|p| &*p)
    }

    /// The slot contents `program` asks for, with endpoints keyed by `ifindexes`.
    fn desired(
        &mut self,
        program: &Program,
        ifindexes: &BTreeMap<String, u32>,
    ) -> Result<Slot, Error> {
        let active = &self.slots[(self.generation & 1) as usize];
        let mut previous = BTreeMap::new();
        for e in &program.endpoints {
            let known = self.cache.get(&e.workload).map(|c| c.id).or_else(|| {
                let ifindex = e.interface.as_ref().and_then(|i| ifindexes.get(i))?;
                active.endpoints.get(ifindex).map(|v| v.id)
            });
            if let Some(id) = known {
                previous.insert(e.workload.clone(), id);
            }
        }
        let ids = entries::assign_ids(&previous, program);
        let mut want = Slot {
            ipcache: entries::ipcache(program),
            ..Slot::default()
        };
        let mut owner: BTreeMap<u32, &WorkloadId> = BTreeMap::new();
        let mut cache = BTreeMap::new();
        for e in &program.endpoints {
            let id =
                ids.get(&e.workload)
                    .copied()
                    .ok_or_else(|| entries::EbpfError::NoEndpointId {
                        workload: e.workload.clone(),
                    })?;
            let reuse = self
                .cache
                .remove(&e.workload)
                .filter(|c| c.id == id && same_entries(&c.endpoint, e));
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
            cache.insert(e.workload.clone(), c);
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
    fn resolve_and_attach(&mut self, program: &Program) -> Result<BTreeMap<String, u32>, Error> {
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
        netns::run_in(netns_path, run).map_err(|source| Error::Netns {
            path: netns_path.display().to_string(),
            source,
        })?
    }
}

/// The next generation: never 0 (which means "nothing applied"), parity alternating.
fn next_generation(g: u32) -> u32 {
    match g.wrapping_add(1) {
        0 => 2,
        n => n,
    }
}

impl Dataplane for EbpfDataplane {
    fn name(&self) -> &'static str {
        "ebpf"
    }

    fn apply(&mut self, program: &Program) -> Result<ApplyReport, bulkhead_dataplane::Error> {
        if self.removed {
            return Err(Error::Removed.into());
        }
        let start = Instant::now();
        // New interfaces get the programs before the flip: until then their endpoints
        // are absent from the active slot, which the programs treat as "not enforced",
        // exactly what the old program says about them.
        let ifindexes = self.resolve_and_attach(program)?;
        let want = self.desired(program, &ifindexes)?;
        let next = next_generation(self.generation);
        let s = (next & 1) as usize;
        let counts = slot::write(&mut self.maps, s as u8, &mut self.slots[s], &want)?;
        self.maps.set_generation(next)?;
        self.generation = next;
        let duration = start.elapsed();
        // Packets that read the old generation may still be looking at the old slot:
        // wait them out, then bring that slot in line for the next apply.
        self.grace
            .synchronize()
            .map_err(|e| Error::io("wait for an RCU grace period", e))?;
        let o = s ^ 1;
        slot::write(&mut self.maps, o as u8, &mut self.slots[o], &want)?;
        let detached = attach::remove_others(&self.dir, &ifindexes)?;
        self.attached.retain(|name, _| ifindexes.contains_key(name));
        tracing::debug!(
            generation = next,
            written = counts.written,
            removed = counts.removed,
            detached,
            "ebpf apply"
        );
        Ok(ApplyReport {
            generation: next,
            elements_written: counts.written,
            elements_removed: counts.removed,
            duration,
        })
    }

    fn remove(&mut self) -> Result<(), bulkhead_dataplane::Error> {
        remove_pins(&self.dir)?;
        self.removed = true;
        self.attached.clear();
        Ok(())
    }
}

/// Unpins every link (detaching the programs) and map of `dir`, then the directory.
/// Idempotent; also what `bulkhead lab down` amounts to for eBPF.
pub fn remove_pins(dir: &PinDir) -> Result<(), Error> {
    let gone = |r: std::io::Result<()>, what: &std::path::Path| match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(format!("remove {}", what.display()), e))
        }
        _ => Ok(()),
    };
    for (_, _, path) in dir.pinned_links()? {
        gone(std::fs::remove_file(&path), &path)?;
    }
    for name in names::ALL {
        let path = dir.map(name);
        gone(std::fs::remove_file(&path), &path)?;
    }
    gone(std::fs::remove_dir(dir.links()), &dir.links())?;
    gone(std::fs::remove_dir(dir.path()), dir.path())
}
