//! `lab up`: bring the machine to the lab file's state, whatever state it is in now
//! (nothing, an earlier version of the file, a half-finished earlier `up`).
//!
//! The namespaces about to be made are recorded *before* they are made, so a `down`
//! after any failure still finds everything.

use crate::error::{LabError, Result};
use crate::serve::{self, ListenerSpec};
use crate::state::{self, Recorded};
use crate::topology::Topology;
use crate::{netns, nodes, workloads};
use bulkhead_policy::lab::LabFile;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Default)]
pub struct UpOptions {
    /// The lab file: its path is recorded and its text kept in the state directory, so
    /// `lab down` works even once the file is gone or broken.
    pub source: Option<PathBuf>,
    /// The `bulkhead` binary that runs the listener daemon (`EXE lab serve LAB`).
    /// Default: `$BULKHEAD_BIN`, else the running program if it is `bulkhead`.
    pub serve_exe: Option<PathBuf>,
}

/// What an `up` changed, for logs and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpReport {
    pub created_netns: usize,
    pub removed_netns: usize,
    pub listeners: usize,
    pub duration: Duration,
}

/// Brings the lab up, or to the file's state if it already is. Idempotent.
pub fn up(lab: &LabFile, opts: &UpOptions) -> Result<UpReport> {
    let started = Instant::now();
    let t = Topology::of(lab);
    let listeners = listener_specs(&t);
    let exe = if listeners.is_empty() {
        PathBuf::new()
    } else {
        serve_exe(opts)?
    };
    let prev = Recorded::load(&lab.name)?.unwrap_or_default();
    let wanted: BTreeSet<String> = t.netns_names().into_iter().collect();
    let existed = wanted.iter().filter(|n| netns::exists(n)).count();

    let mut rec = prev.clone();
    rec.lab = lab.name.clone();
    rec.source = match &opts.source {
        Some(p) => Some(std::path::absolute(p).map_err(LabError::io("resolve the lab file path"))?),
        None => prev.source.clone(),
    };
    rec.netns.extend(wanted.iter().cloned());
    rec.node_netns
        .extend(t.nodes.iter().map(|n| n.netns.clone()));
    rec.save()?;
    if let Some(src) = &opts.source {
        let copy = std::fs::read(src).map_err(LabError::io(format!("read {}", src.display())))?;
        state::write_atomic(&state::recorded_lab_file(&lab.name), &copy)?;
    }

    let phase = |what: &str, t0: Instant| tracing::debug!(lab = %lab.name, "{what} in {:.1?}", t0.elapsed());
    let t0 = Instant::now();
    nodes::ensure(&t)?;
    phase("nodes", t0);
    let t0 = Instant::now();
    workloads::ensure(&t)?;
    phase("workloads", t0);
    let t0 = Instant::now();
    serve::ensure(&lab.name, &listeners, &exe)?;
    phase("listeners", t0);

    // Only now that the daemon has let go of their sockets: what the file dropped.
    let stale: Vec<&String> = rec.netns.difference(&wanted).collect();
    for ns in &stale {
        netns::remove(ns)?;
        if rec.node_netns.contains(*ns) {
            crate::down::remove_pins(ns)?;
        }
    }
    let removed = stale.len();
    rec.netns = wanted;
    rec.node_netns = t.nodes.iter().map(|n| n.netns.clone()).collect();
    rec.save()?;
    Ok(UpReport {
        created_netns: rec.netns.len() - existed,
        removed_netns: removed,
        listeners: listeners.len(),
        duration: started.elapsed(),
    })
}

fn listener_specs(t: &Topology) -> Vec<ListenerSpec> {
    t.workloads
        .iter()
        .flat_map(|w| {
            w.ports.iter().map(|p| ListenerSpec {
                netns: w.netns.clone(),
                port: p.port,
                protocol: p.protocol,
            })
        })
        .collect()
}

/// The binary to run `lab serve` with. Refuses to guess: a test binary re-running
/// itself with `lab serve` would run its tests instead.
fn serve_exe(opts: &UpOptions) -> Result<PathBuf> {
    if let Some(p) = &opts.serve_exe {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os("BULKHEAD_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(LabError::io("find the running program"))?;
    if exe.file_name().is_some_and(|n| n == "bulkhead") {
        Ok(exe)
    } else {
        Err(LabError::Invalid(format!(
            "{} is not the bulkhead binary: set BULKHEAD_BIN (or UpOptions::serve_exe) so the lab can start its listeners",
            exe.display()
        )))
    }
}
