//! `lab down`: remove everything a lab made. Processes go first (they hold sockets, and
//! so namespaces, alive); then the namespaces, which takes their links, addresses and
//! nft tables with them; then the eBPF pins (which would keep programs and maps alive
//! after their links are gone); then the state directory. Idempotent.

use crate::error::{LabError, Result};
use crate::state::{self, Recorded, state_dir};
use crate::topology::Topology;
use crate::{netns, serve};
use bulkhead_policy::lab::LabFile;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where the eBPF backend pins a node's programs and maps.
pub const BPF_PIN_ROOT: &str = "/sys/fs/bpf/bulkhead";

/// The pin directory of a node namespace.
pub fn pin_dir(node_netns: &str) -> PathBuf {
    Path::new(BPF_PIN_ROOT).join(node_netns)
}

/// What a `down` removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DownReport {
    pub removed_netns: Vec<String>,
    /// False if the lab had left nothing to remove.
    pub was_up: bool,
}

/// Takes the lab named `lab` down, from its recorded state and, if given, its file
/// (which covers a state directory lost or never written).
pub fn down(lab: &str, file: Option<&LabFile>) -> Result<DownReport> {
    if let Some(f) = file.filter(|f| f.name != lab) {
        return Err(LabError::Invalid(format!(
            "lab file names lab `{}`, not `{lab}`",
            f.name
        )));
    }
    let rec = Recorded::load(lab).unwrap_or_else(|e| {
        // A corrupt state file must not stop a down: the file (if any) still helps.
        tracing::warn!("{e}");
        None
    });
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut nodes: BTreeSet<String> = BTreeSet::new();
    if let Some(r) = &rec {
        names.extend(r.netns.iter().cloned());
        nodes.extend(r.node_netns.iter().cloned());
    }
    if let Some(f) = file {
        let t = Topology::of(f);
        names.extend(t.netns_names());
        nodes.extend(t.nodes.iter().map(|n| n.netns.clone()));
    }
    let dir = state_dir(lab);
    let had_state = dir.exists();
    let t0 = std::time::Instant::now();
    serve::stop(lab)?;
    state::stop_processes(lab)?;
    tracing::debug!(lab, "processes stopped in {:.1?}", t0.elapsed());
    let mut removed = Vec::new();
    for ns in &names {
        let present = netns::path(ns).exists();
        netns::remove(ns)?;
        if present {
            removed.push(ns.clone());
        }
    }
    let mut pins = false;
    for node in &nodes {
        pins |= remove_pins(node)?;
    }
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(LabError::io(format!("remove {}", dir.display()))(e)),
    }
    Ok(DownReport {
        was_up: had_state || pins || !removed.is_empty(),
        removed_netns: removed,
    })
}

/// Removes a node's eBPF pins; true if there were any.
pub(crate) fn remove_pins(node_netns: &str) -> Result<bool> {
    let dir = pin_dir(node_netns);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(LabError::io(format!("remove eBPF pins {}", dir.display()))(
            e,
        )),
    }
}
