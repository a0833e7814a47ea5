//! [`EbpfDataplane`]: one node's eBPF enforcement, as a [`Dataplane`].

use crate::attach;
use crate::maps::Maps;
use crate::object;
use crate::pins::{Lock, PinDir};
use crate::slot::{self, Slot};
use crate::sys::Grace;
use crate::watch::LinkWatch;
use crate::{Error, pins};
use aya::Ebpf;
use bulkhead_compile::{IdentityId, Program};
use bulkhead_dataplane::{ApplyReport, Dataplane, netns};
use bulkhead_ebpf_common::names;
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
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
    /// What the last planned program asks the slots to hold.
    want: Slot,
    /// The last planned program's endpoints (in workload order) and their entries,
    /// reused while unchanged.
    cache: Vec<Cached>,
    /// The last planned program's ipcache, as the compiler gave it.
    ipcache_src: Option<Vec<(Ipv4Net, IdentityId)>>,
    /// Both slots hold `want`, so an apply need only write what its plan touched.
    synced: bool,
    /// Links of interfaces that left the program may still be pinned.
    detach_pending: bool,
    /// Interfaces whose two links are known to run this process's programs.
    attached: BTreeMap<String, u32>,
    /// Link changes in the node since `attached` was last checked against it.
    watch: LinkWatch,
    /// Set while a resolve is under way: one that failed must be done again.
    links_dirty: bool,
    removed: bool,
    phases: Phases,
    _lock: Lock,
}

/// Where the last apply spent its time until the new generation was in force.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Phases {
    /// Resolving interfaces in the node and attaching programs to new ones.
    pub attach: Duration,
    /// Computing the slot's desired contents (reusing unchanged endpoints' entries).
    pub plan: Duration,
    /// Writing the differences into the inactive slot, and the flip.
    pub write: Duration,
}

mod plan;
mod resolve;

use plan::Cached;

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
        let watch = netns::run_in(&netns_path, LinkWatch::here)
            .and_then(|r| r)
            .map_err(|e| Error::io("watch the node's links", e))?;
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
            want: Slot::default(),
            cache: Vec::new(),
            ipcache_src: None,
            synced: false,
            detach_pending: true,
            attached: BTreeMap::new(),
            watch,
            links_dirty: true,
            removed: false,
            phases: Phases::default(),
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

    /// Where the last apply spent its time.
    pub fn last_phases(&self) -> Phases {
        self.phases
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
        let prev = plan::previous(&self.cache, program);
        let ifindexes = self.resolve_and_attach(program, &prev)?;
        let resolved = start.elapsed();
        let planned_apply = self.plan(program, &prev, &ifindexes)?;
        let touched = &planned_apply.touched;
        let planned = start.elapsed();
        let next = next_generation(self.generation);
        let s = (next & 1) as usize;
        // Only slots known to hold the previous plan can be brought in line by the
        // touched keys alone; after a failure or a restart, whole slots are compared.
        let synced = std::mem::replace(&mut self.synced, false);
        let write = |maps: &mut Maps, slot: usize, have: &mut Slot, want: &Slot| {
            if synced {
                slot::write_touched(maps, slot as u8, have, want, touched)
            } else {
                slot::write(maps, slot as u8, have, want)
            }
        };
        let counts = write(&mut self.maps, s, &mut self.slots[s], &self.want)?;
        self.maps.set_generation(next)?;
        self.generation = next;
        let duration = start.elapsed();
        self.phases = Phases {
            attach: resolved,
            plan: planned - resolved,
            write: duration - planned,
        };
        // Packets that read the old generation may still be looking at the old slot:
        // wait them out, then bring that slot in line for the next apply.
        self.grace
            .synchronize()
            .map_err(|e| Error::io("wait for an RCU grace period", e))?;
        let o = s ^ 1;
        write(&mut self.maps, o, &mut self.slots[o], &self.want)?;
        self.synced = true;
        let mut detached = 0;
        if planned_apply.interfaces_changed || self.detach_pending {
            self.detach_pending = true;
            let keep: BTreeSet<&str> = self.cache.iter().map(|c| c.interface.as_str()).collect();
            detached = attach::remove_others(&self.dir, |name| keep.contains(name))?;
            self.attached.retain(|name, _| keep.contains(name.as_str()));
            self.detach_pending = false;
        }
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
