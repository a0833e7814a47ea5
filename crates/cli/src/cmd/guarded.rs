//! [`Guarded`]: a backend without an unknown-address guard of its own (eBPF), paired
//! with an nftables table that holds only the guard.
//!
//! The eBPF programs run on a workload's veth only once the agent knows the workload,
//! so a container that sends before its start event reached the agent would pass
//! unchecked (the start-gap benchmark saw 4–10 connections pass in the ~40–60 ms
//! before the agent knew a new container, docs/bench/docker.md). On
//! Docker's bridges (`bridge-nf-call-iptables=1`) every packet between containers
//! also crosses the node's netfilter forward hook, where the guard drops addresses
//! not known yet; the eBPF programs still make every policy decision.
//!
//! Order on each apply: the eBPF program first, then the guard, so the guard is lifted
//! for a new container only once its own checks run. The two steps are each atomic but
//! not one step together: if the guard's apply fails after the programs', the new
//! programs stay in force with the previous guard (which fails closed: a container it
//! does not know yet stays held), and the error is reported like any failed apply.

use bulkhead_compile::Program;
use bulkhead_dataplane::{ApplyReport, Dataplane, Error, Guard};
use bulkhead_nft::NftBackend;

pub struct Guarded<D> {
    inner: D,
    guard: NftBackend,
}

impl<D: Dataplane> Guarded<D> {
    pub fn new(inner: D, guard: NftBackend) -> Guarded<D> {
        Guarded { inner, guard }
    }
}

/// A program with no endpoint: no checks, so the guard's table holds the guard only.
fn checks_free(program: &Program) -> Program {
    Program {
        rules: program.rules.iter().take(1).cloned().collect(),
        identities: program.identities.iter().take(1).cloned().collect(),
        ipcache: vec![(ipnet::Ipv4Net::default(), 0)],
        endpoints: Vec::new(),
    }
}

impl<D: Dataplane> Dataplane for Guarded<D> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn apply(&mut self, program: &Program) -> Result<ApplyReport, Error> {
        let report = self.inner.apply(program)?;
        self.guard.apply(&checks_free(program))?;
        Ok(report)
    }

    fn remove(&mut self) -> Result<(), Error> {
        self.inner.remove()?;
        self.guard.remove()
    }

    fn set_guard(&mut self, guard: &Guard) -> bool {
        self.guard.set_guard(guard)
    }
}
