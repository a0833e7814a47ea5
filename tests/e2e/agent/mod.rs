//! The node agent end to end: a lab, `bulkhead server` and `bulkhead agent` processes,
//! real connections from the lab's probes, and what the server then shows.
//!
//! For each backend: the graph holds exactly the edges of the traffic sent, with the
//! verdicts, deciding rules and counters the kernel saw, and `observe` prints the same;
//! a policy stored through the API reaches the kernel, and an edit of one port reaches it
//! through the agent's incremental update; the kernel keeps enforcing while
//! the server is down; a restarted server has lost no policy, flow or audit entry; a
//! restarted agent enforces its persisted state before the server answers.

mod multinode;
pub mod process;

use crate::harness::{LabGuard, TempDir, TestLab, bulkhead};
use crate::server::process::ServerProcess;
use process::{
    AgentProcess, EdgeId, Seen, graph, graph_all, in_force_lines, observe, wait_in_sync,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const LAB: &str = "\
subnet: 10.0.0.0/24
namespaces:
  x: {labels: {team: x}}
workloads:
  - {name: a, namespace: x, labels: {app: a}, ip: 10.0.0.10, ports: [{port: 80}, {port: 53, protocol: UDP}]}
  - {name: b, namespace: x, labels: {app: b}, ip: 10.0.0.11, ports: [{port: 80}, {port: 53, protocol: UDP}]}
  - {name: c, namespace: x, labels: {app: c}, ip: 10.0.0.12, ports: [{port: 80}]}
  - {name: d, namespace: x, labels: {app: d}, ip: 10.0.0.13, ports: [{port: 80}]}
";

/// b and d accept only a; d runs in monitor mode, so what d would refuse passes as
/// would-deny.
const POLICY: &str = "\
apiVersion: bulkhead.dev/v1
kind: Policy
metadata: {name: only-a, namespace: x}
spec:
  selector: {matchExpressions: [{key: app, operator: In, values: [b, d]}]}
  ingress:
    - action: allow
      from:
        - selector: {matchLabels: {app: a}}
";

/// Applied later: a may no longer reach c on port 80; everything else still may (the
/// policy isolates c, so the last rule lets the rest in).
const LOCK_C: &str = "\
apiVersion: bulkhead.dev/v1
kind: Policy
metadata: {name: lock-c, namespace: x}
spec:
  selector: {matchLabels: {app: c}}
  ingress:
    - action: deny
      from:
        - selector: {matchLabels: {app: a}}
      ports: [80]
    - action: allow
";

/// `--server URL --token-file FILE`.
pub fn conn(server: &ServerProcess) -> Vec<String> {
    vec![
        "--server".into(),
        server.url(),
        "--token-file".into(),
        server.token_file().display().to_string(),
    ]
}

/// Runs `bulkhead ARGS --server ... --token-file ...`, which must succeed.
#[track_caller]
pub fn remote(server: &ServerProcess, args: &[&str]) -> String {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(conn(server));
    let run = bulkhead(&all);
    run.success();
    run.stdout.clone()
}

/// The edges the reference evaluator expects for the probes of `lab` under
/// `policies`: verdict (with `monitor` workloads passing what they would deny) and
/// deciding rule, from `policy eval --explain`.
pub fn expected(
    lab: &TestLab,
    policies: &[&Path],
    monitor: &[&str],
) -> BTreeMap<EdgeId, (String, Option<String>)> {
    let mut args = vec![
        "policy",
        "eval",
        "--lab",
        lab.path_str(),
        "-o",
        "json",
        "--explain",
        "--policy",
    ];
    args.extend(policies.iter().map(|p| p.to_str().unwrap()));
    let run = bulkhead(&args);
    run.success();
    let rows: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    let passes =
        |r: &str| matches!(r, "not isolated" | "not a workload" | "self") || r.ends_with("(allow)");
    rows.iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            let id = (
                s("from"),
                s("to"),
                s("protocol"),
                r["port"].as_u64().unwrap(),
            );
            let reason = s("reason");
            let verdict = if r["allowed"] == true {
                "allowed"
            } else {
                let side = if passes(&s("egress")) {
                    s("to")
                } else {
                    s("from")
                };
                if monitor.contains(&side.as_str()) {
                    "would-deny"
                } else {
                    "denied"
                }
            };
            let rule = (!matches!(reason.as_str(), "not isolated" | "not a workload" | "self"))
                .then_some(reason);
            (id, (verdict.to_string(), rule))
        })
        .collect()
}

/// Polls the graph until its edges are exactly `want` (same verdicts and rules) with
/// non-zero counters; panics with both sides and the agents' logs otherwise.
#[track_caller]
pub fn wait_for_edges(
    server: &ServerProcess,
    want: &BTreeMap<EdgeId, (String, Option<String>)>,
    agents: &[&AgentProcess],
) -> BTreeMap<EdgeId, Seen> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = graph(server);
        let shape: BTreeMap<EdgeId, (String, Option<String>)> = got
            .iter()
            .map(|(k, v)| (k.clone(), (v.verdict.clone(), v.rule.clone())))
            .collect();
        let counted = got.values().all(|s| s.packets > 0 && s.bytes > 0);
        if &shape == want && counted {
            return got;
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = agents.iter().map(|a| a.log_text()).collect();
            let mut diff = String::new();
            for (k, w) in want {
                if shape.get(k) != Some(w) {
                    diff.push_str(&format!("{k:?}: want {w:?}, got {:?}\n", got.get(k)));
                }
            }
            for k in shape.keys().filter(|k| !want.contains_key(*k)) {
                diff.push_str(&format!("{k:?}: unexpected {:?}\n", got[k]));
            }
            panic!(
                "graph never matched (counted: {counted}):\n{diff}\n{got:#?}\n{}",
                logs.join("\n---\n")
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A free loopback port (bound and released): the restarted server must reuse it.
fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn probe_denied(lab: &TestLab, from: &str, to: &str) -> bool {
    let m = lab.probe(&[
        "--from",
        from,
        "--to",
        to,
        "--port",
        "80",
        "--protocol",
        "TCP",
        "--timeout-ms",
        "300",
    ]);
    m.values().all(|a| !a)
}

fn scenario(backend: &str) {
    let lab = TestLab::new("ag", LAB);
    let up = LabGuard::up(&lab);
    let dir = TempDir::new(&format!("agent-{backend}"));
    let server = ServerProcess::start_on(dir.path(), &free_addr());
    let agent = AgentProcess::start(&server, &lab, backend, None, dir.path());
    wait_in_sync(&server, &["node"], 4, &[&agent]);

    // The policy and the monitor mode, through the API; then a known traffic pattern.
    let policy = lab.file("only-a.yaml", POLICY);
    remote(&server, &["workload", "mode", "x/d", "monitor"]);
    remote(&server, &["policy", "apply", policy.to_str().unwrap()]);
    wait_in_sync(&server, &["node"], 4, &[&agent]);
    let probed = up.probe(&["--timeout-ms", "500"]);
    let want = expected(&lab, &[&policy], &["x/d"]);
    for (k, allowed) in &probed {
        let id = (k.0.clone(), k.1.clone(), k.2.clone(), u64::from(k.3));
        assert_eq!(
            *allowed,
            want[&id].0 != "denied",
            "probe {k:?} disagrees with {:?}",
            want[&id]
        );
    }
    assert!(want.values().any(|w| w.0 == "denied") && want.values().any(|w| w.0 == "would-deny"));
    wait_for_edges(&server, &want, &[&agent]);
    let observed = observe(&server);
    let strip = |m: &BTreeMap<EdgeId, Seen>| -> BTreeMap<EdgeId, (String, Option<String>)> {
        m.iter()
            .map(|(k, v)| (k.clone(), (v.verdict.clone(), v.rule.clone())))
            .collect()
    };
    assert_eq!(
        strip(&observed),
        want,
        "observe shows other flows than the graph"
    );

    // A second policy reaches the kernel: a → c is refused once `policy apply` returns
    // and the agent has applied it (the time this takes is measured in the benchmark).
    let lock = lab.file("lock-c.yaml", LOCK_C);
    remote(&server, &["policy", "apply", lock.to_str().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !probe_denied(&lab, "x/a", "x/c") {
        assert!(
            Instant::now() < deadline,
            "lock-c never in force:\n{}",
            agent.log_text()
        );
    }
    // Only lock-c's port changes, there and back: the agent reparses that document
    // alone and updates its program incrementally, and the kernel follows each time.
    for (port, denied) in [("81", false), ("80", true)] {
        let since = agent.log_text().len();
        let edited = lab.file("lock-c.yaml", &LOCK_C.replace("[80]", &format!("[{port}]")));
        remote(&server, &["policy", "apply", edited.to_str().unwrap()]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while probe_denied(&lab, "x/a", "x/c") != denied {
            assert!(
                Instant::now() < deadline,
                "lock-c on {port} never in force:\n{}",
                agent.log_text()
            );
        }
        // The kernel may follow before the apply returns (eBPF maps change one element
        // at a time) and the agent logs it.
        let incremental = || {
            let log = agent.log_text();
            let applied = in_force_lines(&log[since..]);
            applied.iter().any(|l| l.contains("incremental=true"))
        };
        let what = format!("lock-c on {port}: an incremental update in force");
        agent.wait_for(
            &what,
            deadline.saturating_duration_since(Instant::now()),
            incremental,
        );
    }
    let audit_before = server.get("/api/v1/audit").1;
    let policies_before = remote(&server, &["policy", "list", "-o", "json"]);

    // The server dies: the kernel keeps enforcing. A restarted agent starts from its
    // persisted state while the server is still away.
    let revision = agent.status()["revision"].clone();
    let (url, token, addr) = (server.url(), server.token_file(), server.addr.clone());
    let state = agent.state.clone();
    drop(agent);
    // Everything the server has acknowledged, the moment before it is killed.
    let edges = graph_all(&server);
    server.kill();
    std::fs::remove_file(state.join("status.json")).unwrap();
    assert!(probe_denied(&lab, "x/c", "x/b") && probe_denied(&lab, "x/a", "x/c"));
    let agent = AgentProcess::start_with(&url, &token, &lab, backend, None, dir.path());
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.status()["revision"] != revision {
        assert!(
            Instant::now() < deadline,
            "persisted state never in force: {}\n{}",
            agent.status(),
            agent.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(agent.status()["server_reachable"], false);
    assert!(probe_denied(&lab, "x/c", "x/b"));

    // The server comes back on its port: nothing it had answered is lost.
    let server = ServerProcess::start_on(dir.path(), &addr);
    assert_eq!(
        remote(&server, &["policy", "list", "-o", "json"]),
        policies_before
    );
    let audit_after = server.get("/api/v1/audit").1;
    assert_eq!(
        audit_after["entries"], audit_before["entries"],
        "audit entries lost"
    );
    // An edge is one (source, destination, protocol, port, verdict) whose rule is that
    // of its latest traffic: the rule may only have moved if traffic arrived since.
    let after = graph_all(&server);
    for (k, v) in &edges {
        let same = |(id, s): &&(EdgeId, Seen)| id == k && s.verdict == v.verdict;
        let a = after
            .iter()
            .find(same)
            .unwrap_or_else(|| panic!("edge {k:?} {v:?} lost: {after:#?}"));
        assert!(a.1.packets >= v.packets, "{k:?}: {v:?} then {a:?}");
        assert!(
            a.1.rule == v.rule || a.1.packets > v.packets,
            "{k:?}: rule {:?} became {:?} without new traffic",
            v.rule,
            a.1.rule
        );
    }
    // The agent finds the server again and reports what is in force.
    wait_in_sync(&server, &["node"], 4, &[&agent]);
}

#[test]
fn privileged_agent_nft_flows_graph_and_restarts() {
    scenario("nft");
}

#[test]
fn privileged_agent_ebpf_flows_graph_and_restarts() {
    scenario("ebpf");
}
