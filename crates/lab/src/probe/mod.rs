//! `lab probe`: real connection attempts between workloads.
//!
//! Which attempts: [`plan`], shared with `policy eval` so both print the same rows:
//! every ordered pair of workloads with `from != to`, on each port *listed on the
//! destination* (`--port`/`--protocol` narrow that list; a port the destination does not
//! list is never probed, since nothing would answer it), sorted by (from, to, protocol,
//! port) in the types' own order ([`WorkloadId`] by namespace then name; TCP before UDP).
//!
//! How: per source workload, one thread enters its namespace and runs all its attempts
//! at once (see [`engine`]); sources run side by side, so a probe takes about one timeout
//! however large the lab.

mod engine;
mod render;

pub use render::{to_json, to_table};

use crate::error::{LabError, Result};
use crate::{netns, parallel};
use bulkhead_policy::lab::LabFile;
use bulkhead_policy::{Protocol, WorkloadId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::time::Duration;

/// The default time an attempt may take. An allowed attempt on a lab's veths answers in
/// well under a millisecond; the margin is for a loaded two-core machine (compiles,
/// other labs) where a thread may wait hundreds of milliseconds to run. A denied attempt
/// costs the full timeout, but all attempts run in parallel, so a probe costs one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1500);

/// Which attempts to make, and how long each may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeOptions {
    pub from: Option<WorkloadId>,
    pub to: Option<WorkloadId>,
    pub port: Option<u16>,
    pub protocol: Option<Protocol>,
    pub timeout: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            from: None,
            to: None,
            port: None,
            protocol: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// One verdict, in the JSON shape of the contract (fields in this order).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProbeResult {
    pub from: WorkloadId,
    pub to: WorkloadId,
    pub port: u16,
    pub protocol: Protocol,
    pub allowed: bool,
}

/// One attempt to make. Fields are in sort order, so the derived `Ord` is the order of
/// the output.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attempt {
    pub from: WorkloadId,
    pub to: WorkloadId,
    pub protocol: Protocol,
    pub port: u16,
}

impl Attempt {
    pub fn result(&self, allowed: bool) -> ProbeResult {
        ProbeResult {
            from: self.from.clone(),
            to: self.to.clone(),
            port: self.port,
            protocol: self.protocol,
            allowed,
        }
    }
}

/// The attempts a probe (or an evaluation) covers, sorted. Unknown `from`/`to` are errors.
pub fn plan(lab: &LabFile, opts: &ProbeOptions) -> Result<Vec<Attempt>> {
    for id in [&opts.from, &opts.to].into_iter().flatten() {
        if lab.workload(id).is_none() {
            return Err(LabError::UnknownWorkload {
                lab: lab.name.clone(),
                id: id.to_string(),
            });
        }
    }
    let wanted =
        |id: &WorkloadId, filter: &Option<WorkloadId>| filter.as_ref().is_none_or(|f| f == id);
    let mut out = Vec::new();
    for src in lab.workloads.iter().filter(|w| wanted(&w.id, &opts.from)) {
        for dst in lab.workloads.iter().filter(|w| wanted(&w.id, &opts.to)) {
            if src.id == dst.id {
                continue;
            }
            for p in &dst.ports {
                let port_ok = opts.port.is_none_or(|n| n == p.port);
                let proto_ok = opts.protocol.is_none_or(|x| x == p.protocol);
                if port_ok && proto_ok {
                    out.push(Attempt {
                        from: src.id.clone(),
                        to: dst.id.clone(),
                        protocol: p.protocol,
                        port: p.port,
                    });
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Probes the lab (which must be up) and returns one result per planned attempt, in
/// [`plan`]'s order.
pub fn probe(lab: &LabFile, opts: &ProbeOptions) -> Result<Vec<ProbeResult>> {
    let attempts = plan(lab, opts)?;
    if let Some(w) = lab
        .workloads
        .iter()
        .find(|w| !netns::exists(&lab.workload_netns(&w.id)))
    {
        tracing::debug!("namespace of {} is missing", w.id);
        return Err(LabError::NotUp {
            lab: lab.name.clone(),
        });
    }
    engine::raise_fd_limit();
    let mut by_source: BTreeMap<&WorkloadId, Vec<(usize, SocketAddrV4, Protocol)>> =
        BTreeMap::new();
    for (i, a) in attempts.iter().enumerate() {
        let ip = lab.workload(&a.to).map(|w| w.ip).ok_or_else(|| {
            LabError::Invalid(format!("planned a probe to unknown workload {}", a.to))
        })?;
        by_source
            .entry(&a.from)
            .or_default()
            .push((i, SocketAddrV4::new(ip, a.port), a.protocol));
    }
    let sources: Vec<_> = by_source.into_iter().collect();
    let verdicts = parallel::try_map(&sources, engine::MAX_SOURCES, |(src, list)| {
        let targets: Vec<_> = list.iter().map(|(_, addr, p)| (*addr, *p)).collect();
        let allowed = netns::run_in(&lab.workload_netns(src), || {
            engine::run(&targets, opts.timeout)
        })?;
        Ok::<_, LabError>(
            list.iter()
                .map(|(i, ..)| *i)
                .zip(allowed)
                .collect::<Vec<_>>(),
        )
    })?;
    let mut allowed = vec![false; attempts.len()];
    for (i, ok) in verdicts.into_iter().flatten() {
        allowed[i] = ok;
    }
    Ok(attempts
        .iter()
        .zip(allowed)
        .map(|(a, ok)| a.result(ok))
        .collect())
}

#[cfg(test)]
mod tests;
