//! The listener daemon: one process per lab (`bulkhead lab serve LAB`) that serves the
//! TCP and UDP echo listeners of every workload, from `lab up` until `lab down`.
//!
//! A socket keeps the network namespace it was created in, so each listener is created
//! on a thread that entered its workload's namespace, then handed to one async runtime
//! that serves them all. The daemon takes orders on a Unix socket in the lab's state
//! directory: `reload` makes it re-read `listeners.json` and open and close listeners to
//! match, leaving unchanged ones (and their connections) alone; it answers `ok` or
//! `error: ...` once done, so `lab up` returns only when every listener is ready.

mod client;
mod echo;

pub(crate) use client::{ensure, stop};

use crate::error::{LabError, Result};
use crate::state::state_dir;
use bulkhead_policy::Protocol;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::task::AbortHandle;

/// One listener: a port of a workload, inside the workload's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ListenerSpec {
    pub netns: String,
    pub port: u16,
    pub protocol: Protocol,
}

/// How long the daemon waits for a connected client to say what it wants.
const ORDER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The role under which the daemon's PID is recorded.
pub(crate) const ROLE: &str = "serve";

pub(crate) fn config_path(lab: &str) -> PathBuf {
    state_dir(lab).join("listeners.json")
}

pub(crate) fn socket_path(lab: &str) -> PathBuf {
    state_dir(lab).join("serve.sock")
}

/// A listener as served: the namespace is named *and* identified by inode, so that a
/// workload namespace deleted and made again under the same name gets fresh sockets.
type Key = (ListenerSpec, u64);

/// Runs the daemon of `lab` until it is killed.
pub fn run(lab: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LabError::io("start the listener runtime"))?;
    rt.block_on(serve(lab))
}

async fn serve(lab: &str) -> Result<()> {
    let sock = socket_path(lab);
    // A socket file left by a daemon that died would make bind fail.
    let _ = std::fs::remove_file(&sock);
    let control =
        UnixListener::bind(&sock).map_err(LabError::io(format!("bind {}", sock.display())))?;
    let mut active: HashMap<Key, AbortHandle> = HashMap::new();
    loop {
        let Ok((stream, _)) = control.accept().await else {
            continue;
        };
        let (r, mut w) = stream.into_split();
        let mut line = String::new();
        // Orders are served one at a time: a client that connects and says nothing
        // must not hold up the next `lab up`.
        let mut reader = BufReader::new(r);
        let read = reader.read_line(&mut line);
        if !matches!(tokio::time::timeout(ORDER_TIMEOUT, read).await, Ok(Ok(_))) {
            continue;
        }
        let reply = match line.trim() {
            "reload" => match reload(lab, &mut active).await {
                Ok(()) => "ok\n".to_string(),
                Err(e) => format!("error: {e}\n"),
            },
            other => format!("error: unknown command `{other}`\n"),
        };
        let _ = w.write_all(reply.as_bytes()).await;
    }
}

/// Makes the served listeners those of `listeners.json`.
async fn reload(lab: &str, active: &mut HashMap<Key, AbortHandle>) -> Result<()> {
    let path = config_path(lab);
    let bytes = std::fs::read(&path).map_err(LabError::io(format!("read {}", path.display())))?;
    let specs: Vec<ListenerSpec> = serde_json::from_slice(&bytes).map_err(|e| LabError::State {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let mut wanted = Vec::with_capacity(specs.len());
    for s in specs {
        let ino = std::fs::metadata(crate::netns::path(&s.netns))
            .map_err(LabError::io(format!("stat namespace {}", s.netns)))?
            .ino();
        wanted.push((s, ino));
    }
    active.retain(|k, task| {
        let keep = wanted.contains(k);
        if !keep {
            task.abort();
        }
        keep
    });
    let missing: Vec<Key> = wanted
        .into_iter()
        .filter(|k| !active.contains_key(k))
        .collect();
    // Binding enters namespaces on threads: keep that off the runtime's only thread.
    let opened = tokio::task::spawn_blocking(move || echo::open_all(&missing))
        .await
        .map_err(|e| LabError::Serve {
            lab: lab.into(),
            message: format!("opening listeners failed: {e}"),
        })??;
    for (key, socket) in opened {
        active.insert(key, echo::spawn(socket)?);
    }
    Ok(())
}
