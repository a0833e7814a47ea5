//! [`NftBackend`]: the [`Dataplane`] of one node, over nftables.

use crate::conntrack::Conntrack;
use crate::socket::Socket;
use crate::{Error, encode};
use bulkhead_compile::Program;
use bulkhead_compile::nft::{self, Builder, PartKey, Ruleset, Stamps};
use bulkhead_dataplane::{ApplyReport, Dataplane, Guard, netns};
use bulkhead_policy::WorkloadId;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Sysctls of the node's namespace the ruleset relies on: bridged IPv4 traffic must
/// traverse the inet hooks (the lab's workloads share a bridge), and conntrack must
/// count packets and bytes for flow records.
const SYSCTLS: [(&str, &str); 2] = [
    ("/proc/sys/net/bridge/bridge-nf-call-iptables", "1"),
    ("/proc/sys/net/netfilter/nf_conntrack_acct", "1"),
];

/// What this backend last put in force.
#[derive(Clone, Debug)]
pub struct Applied {
    pub ruleset: Ruleset,
    pub stamps: Stamps,
}

pub struct NftBackend {
    netns: Option<PathBuf>,
    socket: Socket,
    conntrack: Conntrack,
    /// Keeps identity numbers, endpoints' elements and map sizes from one apply to the
    /// next, so that an update differs from what is in force only where it must.
    builder: Builder,
    generation: u32,
    applied: Option<Applied>,
    /// Whose connections the next conntrack sweep must judge: the endpoints whose
    /// elements the last apply changed (`None`: everyone).
    sweep: Option<Vec<WorkloadId>>,
}

impl NftBackend {
    /// A backend for the node whose network namespace is at `netns` (for example
    /// `/run/netns/np-node`). The socket is opened inside it, so every later apply
    /// programs that namespace whatever thread calls it.
    pub fn new(netns: impl AsRef<Path>) -> Result<NftBackend, Error> {
        let path = netns.as_ref().to_path_buf();
        let enter = |source| Error::Netns {
            path: path.display().to_string(),
            source,
        };
        let (socket, conntrack) = netns::run_in(&path, || {
            set_sysctls();
            Ok::<_, Error>((Socket::open()?, Conntrack::open()?))
        })
        .map_err(enter)??;
        Ok(NftBackend {
            netns: Some(path),
            socket,
            conntrack,
            builder: Builder::default(),
            generation: 0,
            applied: None,
            sweep: None,
        })
    }

    /// A backend for the calling thread's own network namespace.
    pub fn here() -> Result<NftBackend, Error> {
        set_sysctls();
        Ok(NftBackend {
            netns: None,
            socket: Socket::open()?,
            conntrack: Conntrack::open()?,
            builder: Builder::default(),
            generation: 0,
            applied: None,
            sweep: None,
        })
    }

    pub fn netns(&self) -> Option<&Path> {
        self.netns.as_deref()
    }

    /// What is in force, as far as this backend knows.
    pub fn applied(&self) -> Option<&Applied> {
        self.applied.as_ref()
    }

    /// The ruleset `apply(program)` would put in force next. (Planning remembers what
    /// it built, so that the next plan stays close to it; that never changes what a
    /// plan holds, only how much of it is shared with the last one.)
    pub fn plan(&mut self, program: &Program) -> Result<(Ruleset, Stamps), Error> {
        let prev = self.applied.as_ref().map(|a| &a.stamps);
        let stamps = Stamps::next(prev, program, self.generation + 1);
        Ok((self.builder.build(program, &stamps)?, stamps))
    }

    /// Deletes the conntrack entries of connections `program` denies (admitted under
    /// an earlier program); returns how many. After an incremental apply that changed
    /// only some endpoints' elements (the ipcache and identities as they were), only
    /// connections of those endpoints can have become denied, and only theirs are judged.
    pub fn delete_denied_connections(&mut self, program: &Program) -> Result<usize, Error> {
        let scope = self.sweep.as_deref().map(|w| addresses(program, w));
        self.conntrack.delete_denied(program, scope.as_ref())
    }

    /// Puts an arbitrary ruleset in force: incrementally if `full` is false and it
    /// differs from the last applied one only in objects' contents, else by replacing
    /// the table. On error the kernel state and this backend are unchanged.
    pub fn apply_ruleset(
        &mut self,
        ruleset: Ruleset,
        stamps: Stamps,
        full: bool,
    ) -> Result<ApplyReport, Error> {
        let start = Instant::now();
        let seq = self.socket.seq();
        let prev = self.applied.as_ref().filter(|_| !full);
        let step = prev.and_then(|p| nft::diff(&p.ruleset, &ruleset));
        // `None`: a full apply, or the shared part changed: sweep everyone.
        let sweep = step
            .as_ref()
            .and_then(|d| changed_endpoints(&d.changed_parts));
        let (batch, written, removed) = match step {
            Some(d) => (
                encode::incremental(&d, seq),
                d.elements_written(),
                d.elements_removed(),
            ),
            None => (encode::full(&ruleset, seq), ruleset.element_count(), 0),
        };
        self.socket.commit(&batch)?;
        self.sweep = sweep;
        self.generation = self.generation.max(stamps.generation);
        let generation = stamps.generation;
        tracing::debug!(
            generation,
            written,
            removed,
            messages = batch.what.len(),
            "nft apply"
        );
        self.applied = Some(Applied { ruleset, stamps });
        Ok(ApplyReport {
            generation,
            elements_written: written,
            elements_removed: removed,
            duration: start.elapsed(),
        })
    }

    /// Like [`Dataplane::apply`], but always replaces the whole table.
    pub fn apply_full(&mut self, program: &Program) -> Result<ApplyReport, Error> {
        let (ruleset, stamps) = self.plan(program)?;
        let report = self.apply_ruleset(ruleset, stamps, true)?;
        self.forget_denied(program);
        Ok(report)
    }

    /// After an apply: connections the program denies must not live on in conntrack.
    /// The ruleset is in force either way, so a failure here is logged, not returned.
    fn forget_denied(&mut self, program: &Program) {
        match self.delete_denied_connections(program) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(deleted = n, "conntrack entries of denied connections"),
            Err(e) => tracing::warn!("cannot delete denied connections from conntrack: {e}"),
        }
    }

    /// Removes the Bulkhead table from the kernel. Idempotent.
    pub fn remove_table(&mut self) -> Result<(), Error> {
        let batch = encode::remove(self.socket.seq());
        self.socket.commit(&batch)?;
        self.applied = None;
        Ok(())
    }
}

/// The endpoints among a diff's changed parts, or `None` if anything else (the ipcache,
/// the verdicts, the guard) changed: then any connection's verdict may have.
fn changed_endpoints(parts: &[&PartKey]) -> Option<Vec<WorkloadId>> {
    parts
        .iter()
        .map(|key| match key {
            PartKey::Endpoint(w) => Some(w.clone()),
            PartKey::Shared | PartKey::Guard => None,
        })
        .collect()
}

/// The addresses of the endpoints `workloads` (those still in `program`).
fn addresses(program: &Program, workloads: &[WorkloadId]) -> HashSet<Ipv4Addr> {
    workloads
        .iter()
        .filter_map(|w| {
            // Endpoints are sorted by workload id.
            let i = program
                .endpoints
                .binary_search_by(|e| e.workload.cmp(w))
                .ok()?;
            Some(program.endpoints[i].ips.iter().copied())
        })
        .flatten()
        .collect()
}

/// Best effort: a namespace without a bridge has no `bridge-nf-call-iptables`, and the
/// ruleset still works there (routed traffic needs no such switch).
fn set_sysctls() {
    for (path, value) in SYSCTLS {
        if let Err(e) = std::fs::write(path, value) {
            tracing::warn!("cannot set {path} to {value}: {e}");
        }
    }
}

impl Dataplane for NftBackend {
    fn name(&self) -> &'static str {
        "nft"
    }

    fn apply(&mut self, program: &Program) -> Result<ApplyReport, bulkhead_dataplane::Error> {
        let (ruleset, stamps) = self.plan(program)?;
        let report = self.apply_ruleset(ruleset, stamps, false)?;
        self.forget_denied(program);
        Ok(report)
    }

    fn remove(&mut self) -> Result<(), bulkhead_dataplane::Error> {
        Ok(self.remove_table()?)
    }

    fn set_guard(&mut self, guard: &Guard) -> bool {
        let ranges = nft::guard::unknown_ranges(&guard.ranges, &guard.known);
        self.builder.set_guard(&ranges);
        true
    }
}
