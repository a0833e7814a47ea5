//! `bulkhead agent` as a child process (stopped by PID on drop), and what the tests
//! read back from the server it reports to.

use crate::harness::{Run, TestLab, bulkhead, bulkhead_bin};
use crate::server::process::ServerProcess;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct AgentProcess {
    child: Child,
    pub log: PathBuf,
    pub state: PathBuf,
}

impl AgentProcess {
    /// Starts an agent for `node` (None: the lab's only node); its stderr goes to a log
    /// file in `dir`, shown by [`log_text`](Self::log_text) when a test fails.
    pub fn start(
        server: &ServerProcess,
        lab: &TestLab,
        backend: &str,
        node: Option<&str>,
        dir: &Path,
    ) -> AgentProcess {
        Self::start_with(&server.url(), &server.token_file(), lab, backend, node, dir)
    }

    /// Like [`start`](Self::start), for a server given by URL (it may be down).
    pub fn start_with(
        url: &str,
        token_file: &Path,
        lab: &TestLab,
        backend: &str,
        node: Option<&str>,
        dir: &Path,
    ) -> AgentProcess {
        let tag = node.unwrap_or("node");
        let log = dir.join(format!("agent-{tag}.log"));
        let state = dir.join(format!("agent-{tag}"));
        let mut cmd = Command::new(bulkhead_bin());
        cmd.args(["agent", "--server", url, "--token-file"])
            .arg(token_file)
            .args(["--lab", lab.path_str(), "--backend", backend, "--state-dir"])
            .arg(&state);
        if let Some(n) = node {
            cmd.args(["--node", n]);
        }
        let child = cmd
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        AgentProcess { child, log, state }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `done` until it holds; after `within`, fails naming `what`, with the log.
    #[track_caller]
    pub fn wait_for(&self, what: &str, within: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + within;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "{what}: timed out\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn status(&self) -> Value {
        std::fs::read_to_string(self.state.join("status.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        // SIGTERM by PID (the agent ships what it holds), then make sure it is gone.
        crate::harness::terminate(&mut self.child, Duration::from_secs(5));
    }
}

/// Waits until every agent of `nodes` reports `workloads` workloads in total and runs
/// the server's latest revision.
#[track_caller]
pub fn wait_in_sync(
    server: &ServerProcess,
    nodes: &[&str],
    workloads: usize,
    agents: &[&AgentProcess],
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, list) = server.get("/api/v1/agents");
        let rows = list.as_array().cloned().unwrap_or_default();
        let synced = nodes
            .iter()
            .all(|n| rows.iter().any(|a| a["node"] == *n && a["in_sync"] == true));
        let count: u64 = rows.iter().filter_map(|a| a["workloads"].as_u64()).sum();
        if code == 200 && synced && count == workloads as u64 {
            return;
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = agents.iter().map(|a| a.log_text()).collect();
            panic!("agents never in sync: {list}\n{}", logs.join("\n---\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What identifies an edge: (source, destination, protocol, port).
pub type EdgeId = (String, String, String, u64);

/// An edge's verdict and rule, and its counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub verdict: String,
    pub rule: Option<String>,
    pub packets: u64,
    pub bytes: u64,
    pub node: Option<String>,
}

fn seen(v: &Value) -> (EdgeId, Seen) {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let id = (
        s("source"),
        s("destination"),
        s("protocol"),
        v["port"].as_u64().unwrap_or(0),
    );
    let seen = Seen {
        verdict: s("verdict"),
        rule: v["rule"].as_str().map(str::to_string),
        packets: v["packets"].as_u64().unwrap_or(0),
        bytes: v["bytes"].as_u64().unwrap_or(0),
        node: v["node"].as_str().map(str::to_string),
    };
    (id, seen)
}

/// `bulkhead COMMAND -o json` against `server` with its admin token; must succeed.
#[track_caller]
fn read_json(server: &ServerProcess, command: &str) -> Run {
    let url = server.url();
    let token = server.token_file();
    let run = bulkhead(&[
        command,
        "-o",
        "json",
        "--server",
        &url,
        "--token-file",
        token.to_str().unwrap(),
    ]);
    run.success();
    run
}

/// Every edge of `bulkhead graph -o json` (one id may appear with several verdicts or
/// rules when the policies changed in between).
#[track_caller]
pub fn graph_all(server: &ServerProcess) -> Vec<(EdgeId, Seen)> {
    let run = read_json(server, "graph");
    let g: Value = serde_json::from_str(&run.stdout).unwrap();
    g["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(seen)
        .collect()
}

/// `bulkhead graph -o json` as a map; an edge id seen twice (two verdicts or rules for
/// one connection pattern) is a failure.
#[track_caller]
pub fn graph(server: &ServerProcess) -> BTreeMap<EdgeId, Seen> {
    let mut out = BTreeMap::new();
    for (id, s) in graph_all(server) {
        if let Some(prev) = out.insert(id.clone(), s.clone()) {
            panic!("edge {id:?} twice: {prev:?} and {s:?}");
        }
    }
    out
}

/// `bulkhead observe -o json`, one record per line, as a map (records of one edge from
/// several minutes are summed).
#[track_caller]
pub fn observe(server: &ServerProcess) -> BTreeMap<EdgeId, Seen> {
    let run = read_json(server, "observe");
    let mut out: BTreeMap<EdgeId, Seen> = BTreeMap::new();
    for line in run.stdout.lines() {
        let (id, s) = seen(&serde_json::from_str(line).unwrap());
        match out.get_mut(&id) {
            Some(p) => {
                assert_eq!(
                    (&p.verdict, &p.rule),
                    (&s.verdict, &s.rule),
                    "{}",
                    run.stdout
                );
                p.packets += s.packets;
                p.bytes += s.bytes;
            }
            None => {
                out.insert(id, s);
            }
        }
    }
    out
}

/// The agent's "in force" log lines in `log` (one per program applied), without the
/// colour codes the logger may write even to a file.
pub fn in_force_lines(log: &str) -> Vec<String> {
    let plain = |l: &str| {
        let mut out = String::new();
        let mut chars = l.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // CSI sequences end with a letter (`m` for colours).
                chars.by_ref().find(|c| c.is_ascii_alphabetic());
            } else {
                out.push(c);
            }
        }
        out
    };
    log.lines()
        .map(plain)
        .filter(|l| l.contains("in force") && l.contains("revision="))
        .collect()
}
