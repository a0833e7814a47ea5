//! What a lab left on the machine, recorded under `/run/bulkhead/labs/{lab}/` so that
//! `lab down` can undo it even when the lab file is gone or no longer valid, and so a
//! reconcile knows what an earlier `lab up` made.
//!
//! - `state.json`: the namespaces the lab may have created (written *before* creating
//!   them), and which of them are nodes.
//! - `lab.yaml`: a copy of the lab file last brought up.
//! - `*.pid`: processes that belong to the lab (the listener daemon, and any other
//!   component that calls [`record_process`]); `lab down` stops them all.

use crate::error::{LabError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The parent of every lab's state directory.
pub const STATE_ROOT: &str = "/run/bulkhead/labs";

/// The state directory of a lab.
pub fn state_dir(lab: &str) -> PathBuf {
    Path::new(STATE_ROOT).join(lab)
}

/// The copy of the lab file last brought up.
pub fn recorded_lab_file(lab: &str) -> PathBuf {
    state_dir(lab).join("lab.yaml")
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Recorded {
    pub lab: String,
    /// The lab file's absolute path, to find a lab whose file no longer parses.
    pub source: Option<PathBuf>,
    /// Every namespace the lab may have created.
    pub netns: BTreeSet<String>,
    /// The node namespaces among them (their eBPF pins go too).
    pub node_netns: BTreeSet<String>,
}

impl Recorded {
    pub fn load(lab: &str) -> Result<Option<Recorded>> {
        let p = state_dir(lab).join("state.json");
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| LabError::State {
                    path: p,
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LabError::io(format!("read {}", p.display()))(e)),
        }
    }

    pub fn save(&self) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| LabError::State {
            path: state_dir(&self.lab),
            message: e.to_string(),
        })?;
        write_atomic(&state_dir(&self.lab).join("state.json"), &bytes)
    }
}

/// Finds the lab last brought up from `file` (by absolute path).
pub fn lab_from_source(file: &Path) -> Option<String> {
    let want = std::path::absolute(file).ok()?;
    let dir = std::fs::read_dir(STATE_ROOT).ok()?;
    dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find(
            |lab| matches!(Recorded::load(lab), Ok(Some(r)) if r.source.as_deref() == Some(&want)),
        )
}

/// Writes `bytes` to `path` so readers see the old or the new file, never half of one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(LabError::io(format!("create {}", dir.display())))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(LabError::io(format!("write {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(LabError::io(format!("write {}", path.display())))
}

/// A process of the lab, identified by PID *and* command line so that a PID the kernel
/// has since given to another process is never signalled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub pid: i32,
    pub cmdline: Vec<String>,
}

impl ProcessRecord {
    /// Whether this very process still runs (a zombie has an empty command line).
    pub fn alive(&self) -> bool {
        cmdline(self.pid).is_some_and(|c| c == self.cmdline)
    }
}

impl ProcessRecord {
    /// A record of a process already running: its command line is read from `/proc`.
    /// (Right after a fork the child still shows its parent's command line, so a
    /// spawner should build the record from the arguments it passed instead.)
    pub fn of_running(pid: u32) -> Result<ProcessRecord> {
        let pid = i32::try_from(pid).map_err(|_| LabError::Invalid(format!("bad pid {pid}")))?;
        let cmdline = cmdline(pid)
            .ok_or_else(|| LabError::Invalid(format!("process {pid} is not running")))?;
        Ok(ProcessRecord { pid, cmdline })
    }
}

/// Records a process of `lab` under `role` (a file name: `serve`, `agent-n1`, ...);
/// `lab down` stops it.
pub fn record_process(lab: &str, role: &str, rec: &ProcessRecord) -> Result<()> {
    let bytes = serde_json::to_vec(rec).map_err(|e| LabError::Invalid(e.to_string()))?;
    write_atomic(&state_dir(lab).join(format!("{role}.pid")), &bytes)
}

/// The process recorded under `role`, if any.
pub fn recorded_process(lab: &str, role: &str) -> Option<ProcessRecord> {
    let bytes = std::fs::read(state_dir(lab).join(format!("{role}.pid"))).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Stops every recorded process of the lab: SIGTERM, then SIGKILL if it lingers.
pub(crate) fn stop_processes(lab: &str) -> Result<()> {
    let Ok(dir) = std::fs::read_dir(state_dir(lab)) else {
        return Ok(());
    };
    for entry in dir.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(role) = name.strip_suffix(".pid") {
            if let Some(rec) = recorded_process(lab, role) {
                stop(&rec);
            }
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Stops one process and waits until it is gone.
pub(crate) fn stop(rec: &ProcessRecord) {
    use nix::sys::signal::{Signal, kill};
    let pid = nix::unistd::Pid::from_raw(rec.pid);
    for (signal, wait) in [
        (Signal::SIGTERM, Duration::from_secs(3)),
        (Signal::SIGKILL, Duration::from_secs(3)),
    ] {
        if !rec.alive() {
            break;
        }
        let _ = kill(pid, signal);
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            // Reap it if it is our own child (a long-lived caller of `up`), else this
            // is a harmless ECHILD.
            let _ = nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
            if !rec.alive() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if raw.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&raw);
    Some(
        text.trim_end_matches('\0')
            .split('\0')
            .map(str::to_string)
            .collect(),
    )
}
