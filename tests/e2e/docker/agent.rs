//! `bulkhead agent --runtime docker` as a child process, stopped by PID on drop, and a
//! server with that agent for an engine.

use crate::agent::process::wait_in_sync;
use crate::harness::bulkhead_bin;
use crate::harness::docker::DockerEngine;
use crate::server::process::ServerProcess;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct DockerAgent {
    child: Child,
    log: std::path::PathBuf,
}

impl DockerAgent {
    pub fn start(server: &ServerProcess, engine: &DockerEngine, backend: &str, dir: &Path) -> Self {
        let log = dir.join(format!("agent-docker-{backend}.log"));
        let child = Command::new(bulkhead_bin())
            .args(["agent", "--server", &server.url(), "--token-file"])
            .arg(server.token_file())
            .args(["--runtime", "docker", "--docker-host", &engine.host()])
            .arg("--docker-netns")
            .arg(engine.netns_path())
            .args(["--backend", backend, "--state-dir"])
            .arg(dir.join(format!("agent-state-{backend}")))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        DockerAgent { child, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the server lists `workloads` workloads on the engine's node, in sync.
    #[track_caller]
    pub fn wait_in_sync(&self, server: &ServerProcess, engine: &DockerEngine, workloads: usize) {
        if let Ok(Some(status)) = self.child_status() {
            panic!("the agent exited ({status}):\n{}", self.log_text());
        }
        wait_in_sync(server, &[engine.netns.as_str()], workloads, &[]);
    }

    fn child_status(&self) -> std::io::Result<Option<String>> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        Ok(stat.contains(") Z ").then(|| "zombie".to_string()))
    }
}

impl Drop for DockerAgent {
    fn drop(&mut self) {
        crate::harness::terminate(&mut self.child, Duration::from_secs(5));
    }
}
