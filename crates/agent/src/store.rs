//! The agent's local state directory (`/run/bulkhead/agent/<lab>-<node>/`): the last
//! desired state received, so a restarted agent enforces it before the server answers,
//! and a status file for people (what is in force, what was dropped).

use crate::Error;
use bulkhead_api::DesiredState;
use serde::Serialize;
use std::path::{Path, PathBuf};

pub const ROOT: &str = "/run/bulkhead/agent";

#[derive(Clone)]
pub struct StateDir {
    dir: PathBuf,
}

/// What `status.json` shows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    pub node: String,
    pub backend: String,
    /// The desired-state revision in force (null before the first apply).
    pub revision: Option<u64>,
    pub generation: u32,
    pub server_reachable: bool,
    pub last_error: Option<String>,
    pub events: u64,
    pub lost_events: u64,
    pub dropped_records: u64,
    pub shipped_records: u64,
}

impl StateDir {
    pub fn new(dir: impl Into<PathBuf>) -> Result<StateDir, Error> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(StateDir { dir })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The persisted desired state; `None` if there is none or it cannot be read (a
    /// broken file must not keep the agent from starting: the server resends it).
    pub fn load_desired(&self) -> Option<DesiredState> {
        let p = self.dir.join("desired.json");
        let text = std::fs::read_to_string(&p).ok()?;
        match serde_json::from_str(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!("{}: ignoring unreadable desired state: {e}", p.display());
                None
            }
        }
    }

    pub fn save_desired(&self, d: &DesiredState) -> Result<(), Error> {
        self.write("desired.json", d)
    }

    pub fn save_status(&self, s: &Status) -> Result<(), Error> {
        self.write("status.json", s)
    }

    /// Write-then-rename, so a reader (or a crash) never sees half a file.
    fn write<T: Serialize>(&self, name: &str, value: &T) -> Result<(), Error> {
        let p = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let text = serde_json::to_vec_pretty(value).map_err(|e| Error::Server(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &p).map_err(|e| Error::io(&p, e))
    }
}
