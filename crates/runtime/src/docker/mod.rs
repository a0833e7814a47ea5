//! [`DockerSource`]: the containers of one Docker engine as workloads, followed live.
//!
//! # Why a hand-written HTTP client, not `bollard`
//!
//! The agent is a handful of blocking threads with no async runtime (see
//! `bulkhead-agent`), and this source needs three `GET`s and one streamed `GET` over a
//! unix socket. `bollard` would bring tokio, hyper, hyper-util, tower and their kin into
//! the agent's dependency tree and a runtime to drive them, for four requests; the
//! ~150 lines of [`http`] (`Content-Length` and chunked bodies, nothing else) are
//! tested here and easier to audit than that tree.
//!
//! # How it works
//!
//! - [`events`]: one thread holds `GET /events` (container and network events) open and
//!   counts what it hears; [`WorkloadSource::wait_change`] waits for the count to move.
//!   A broken stream (engine restarted) counts as a change, then is re-opened.
//! - [`WorkloadSource::snapshot`]: `GET /networks` (bridge subnets are the cluster
//!   ranges, their gateways the node's addresses), `GET /containers/json?all=1`
//!   (every container with an address on a bridge network is a workload, see
//!   [`model`]), and for a container not seen before, `GET /containers/{id}/json` for
//!   its network namespace, where [`links`] finds the host-side veth.
//! - A container is reported only once its veth is known: the eBPF backend attaches
//!   there, and a workload without its interface could not be enforced.
//! - The bridges' subnets are reported as guarded ranges ([`Snapshot::guarded`]): a
//!   container that starts sending before its event reached the agent is dropped
//!   (by backends with that guard) until it is known.
//! - Only the primary network's veth is reported (the compiler takes one interface per
//!   workload); the container's addresses on other bridge networks still identify it.

mod events;
mod http;
pub mod links;
pub mod model;
mod snapshot;

use crate::{Error, Snapshot, WorkloadSource};
use events::Events;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How a [`DockerSource`] is set up.
#[derive(Clone, Debug)]
pub struct DockerConfig {
    /// The engine's unix socket (`/var/run/docker.sock`).
    pub socket: PathBuf,
    /// The network namespace the engine's bridges live in.
    pub node_netns: PathBuf,
    /// The node name the workloads are reported on.
    pub node: String,
    /// The namespace of containers that belong to no compose project.
    pub default_namespace: String,
    /// Report the bridges' subnets as guarded ranges ([`Snapshot::guarded`]).
    pub guard: bool,
}

impl DockerConfig {
    /// `unix:///path` or a bare path → the socket path.
    pub fn socket_from_host(host: &str) -> Result<PathBuf, Error> {
        match host.strip_prefix("unix://") {
            Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
            None if host.starts_with('/') => Ok(PathBuf::from(host)),
            _ => Err(Error::Invalid(format!(
                "--docker-host `{host}`: only unix sockets are supported (unix:///path)"
            ))),
        }
    }
}

pub struct DockerSource {
    config: DockerConfig,
    events: Arc<Events>,
    seen: u64,
    /// Host-side veth by Docker endpoint id (an endpoint keeps its veth for its life).
    veths: HashMap<String, String>,
    /// A container whose veth could not be found yet (its sandbox is still being set
    /// up): look again after this delay, doubling while it lasts.
    retry: Option<Duration>,
}

/// The first delay before looking again at a container that is not plugged in yet.
const RETRY_FIRST: Duration = Duration::from_millis(20);
const RETRY_MAX: Duration = Duration::from_secs(2);

impl DockerSource {
    /// Connects to the engine (an unreachable engine is an error) and starts following
    /// its events before anything is read, so no change can slip in between.
    pub fn open(config: DockerConfig) -> Result<DockerSource, Error> {
        let ping = get_json::<serde_json::Value>(&config.socket, "/version");
        ping.map_err(|e| docker(&config.socket, "GET /version", e))?;
        let events = Events::start(&config.socket)?;
        let seen = events.count();
        Ok(DockerSource {
            config,
            events,
            seen,
            veths: HashMap::new(),
            retry: None,
        })
    }
}

fn docker(socket: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Docker {
        socket: socket.display().to_string(),
        what: what.to_string(),
        message: e.to_string(),
    }
}

/// Answers take milliseconds; a slow one (an inspect waits for a starting container's
/// lock) must not hold the inventory up for long.
const TIMEOUT: Duration = Duration::from_secs(5);

fn get_json<T: serde::de::DeserializeOwned>(socket: &Path, path: &str) -> Result<T, String> {
    let r = http::get(socket, path, Some(TIMEOUT)).map_err(|e| e.to_string())?;
    let status = r.status;
    let body = r.body().map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!(
            "status {status}: {}",
            String::from_utf8_lossy(&body).trim()
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("unexpected answer: {e}"))
}

impl WorkloadSource for DockerSource {
    fn node(&self) -> &str {
        &self.config.node
    }

    fn node_netns(&self) -> PathBuf {
        self.config.node_netns.clone()
    }

    fn snapshot(&mut self) -> Result<Snapshot, Error> {
        self.take_snapshot()
    }

    fn wait_change(&mut self, timeout: Duration) -> Result<bool, Error> {
        match self.retry {
            Some(r) if r <= timeout => {
                self.events.wait_past(self.seen, r);
                Ok(true)
            }
            _ => Ok(self.events.wait_past(self.seen, timeout).is_some()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hosts_must_be_unix_sockets() {
        let ok = DockerConfig::socket_from_host("unix:///run/d.sock").unwrap();
        assert_eq!(ok, PathBuf::from("/run/d.sock"));
        assert!(DockerConfig::socket_from_host("/run/d.sock").is_ok());
        let err = DockerConfig::socket_from_host("tcp://1.2.3.4:2375").unwrap_err();
        assert!(err.to_string().contains("unix"), "{err}");
    }

    #[test]
    fn an_absent_engine_is_a_clear_error() {
        let err = DockerSource::open(DockerConfig {
            socket: PathBuf::from("/nonexistent/bh-docker.sock"),
            node_netns: PathBuf::from("/proc/self/ns/net"),
            node: "n".into(),
            default_namespace: "default".into(),
            guard: true,
        })
        .err()
        .unwrap();
        assert!(
            err.to_string().contains("/nonexistent/bh-docker.sock"),
            "{err}"
        );
    }
}
