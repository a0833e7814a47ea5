//! The control plane as users run it: `bulkhead server` as a process, and the reading
//! commands against it. Not privileged (no namespaces): everything stays on loopback.

mod learn;
pub(crate) mod process;

use crate::harness::{TempDir, bulkhead};
use process::ServerProcess;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn flow(source: &str, destination: &str, port: u16, verdict: &str) -> Value {
    json!({"source": source, "destination": destination, "protocol": "TCP", "port": port,
           "verdict": verdict, "rule": if verdict == "allowed" { Value::Null } else { json!("shop/api default-deny ingress") },
           "packets": 4, "bytes": 240, "first_seen": "2025-01-01T00:00:00Z", "last_seen": "2025-01-01T00:00:03Z"})
}

#[test]
fn server_survives_a_kill_and_the_cli_reads_it() {
    let dir = TempDir::new("server");
    let server = ServerProcess::start(dir.path());
    let conn = server.args();
    let conn: Vec<&str> = conn.iter().map(String::as_str).collect();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let shop = format!("{root}/policies/examples/native-shop.yaml");

    let applied = bulkhead(&[&["policy", "apply", "-o", "json"], &conn[..], &[&shop]].concat());
    applied.success();
    let changes: Value = serde_json::from_str(&applied.stdout).unwrap();
    assert!(
        changes["policies"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["change"] == "created")
    );

    // A bad file is refused before it is sent, with its location, exit 1.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata: {name: x}\nspec: {ingres: []}\n",
    )
    .unwrap();
    let refused = bulkhead(&[&["policy", "apply"], &conn[..], &[bad.to_str().unwrap()]].concat());
    refused.failure(1);
    assert!(refused.stderr.contains("bad.yaml:4:"), "{refused}");

    let batch = json!({"records": [flow("shop/web", "shop/api", 8080, "allowed"), flow("jobs/report", "shop/api", 8080, "denied")]});
    assert_eq!(server.post("/api/v1/agents/node-1/flows", &batch).0, 200);
    let observed =
        bulkhead(&[&["observe", "-o", "json", "--verdict", "denied"], &conn[..]].concat());
    observed.success();
    let lines: Vec<Value> = observed
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{observed}");
    for field in [
        "source",
        "destination",
        "protocol",
        "port",
        "verdict",
        "rule",
        "packets",
        "bytes",
        "first_seen",
        "last_seen",
    ] {
        assert!(lines[0].get(field).is_some(), "missing {field}: {observed}");
    }
    assert_eq!(
        (lines[0]["source"].as_str(), lines[0]["verdict"].as_str()),
        (Some("jobs/report"), Some("denied"))
    );

    // SIGKILL: what was answered must already be on disk.
    let server = server.kill_and_restart();
    // A new port: `:0` picks another one.
    let conn = server.args();
    let conn: Vec<&str> = conn.iter().map(String::as_str).collect();
    let listed = bulkhead(&[&["policy", "list", "-o", "json"], &conn[..]].concat());
    listed.success();
    let names: Vec<String> = serde_json::from_str::<Vec<Value>>(&listed.stdout)
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"shop/api".to_string()), "{listed}");
    let graph = bulkhead(&[&["graph", "-o", "json"], &conn[..]].concat());
    graph.success();
    let g: Value = serde_json::from_str(&graph.stdout).unwrap();
    assert_eq!(g["edges"].as_array().unwrap().len(), 2, "{graph}");
    assert!(
        g["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == "shop/api")
    );
    let dot = bulkhead(&[&["graph", "-o", "dot"], &conn[..]].concat());
    assert!(
        dot.success()
            .stdout
            .contains("\"jobs/report\" -> \"shop/api\""),
        "{dot}"
    );
    // Replay: with an agent's inventory, which recorded flows would a lock-down deny?
    let report = json!({"workloads": [
        {"id": "shop/web", "labels": {"app": "web"}, "namespace_labels": {}, "ips": ["10.9.0.1"], "ports": [], "node": null},
        {"id": "shop/api", "labels": {"app": "api"}, "namespace_labels": {}, "ips": ["10.9.0.2"], "ports": [], "node": null},
        {"id": "jobs/report", "labels": {}, "namespace_labels": {}, "ips": ["10.9.0.3"], "ports": [], "node": null}
    ], "status": {"revision": null, "backend": "nft"}});
    assert_eq!(server.put("/api/v1/agents/node-1", &report).0, 200);
    let lock = dir.path().join("lock.yaml");
    std::fs::write(&lock, "apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata: {name: lock, namespace: shop}\n\
        spec:\n  selector: {matchLabels: {app: api}}\n  ingress:\n    - action: allow\n      from:\n        - selector: {matchLabels: {app: web}}\n").unwrap();
    let replayed = bulkhead(
        &[
            &[
                "policy",
                "replay",
                "-o",
                "json",
                "--policy",
                lock.to_str().unwrap(),
            ],
            &conn[..],
        ]
        .concat(),
    );
    replayed.success();
    let denied: Vec<Value> = replayed
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(denied.len(), 1, "{replayed}");
    assert_eq!(
        (denied[0]["source"].as_str(), denied[0]["verdict"].as_str()),
        (Some("jobs/report"), Some("would-deny"))
    );
    assert_eq!(
        denied[0]["rule"], "shop/lock default-deny ingress",
        "{replayed}"
    );

    let deleted =
        bulkhead(&[&["policy", "delete"], &conn[..], &["shop/api", "shop/nope"]].concat());
    deleted.failure(1);
    assert!(deleted.stderr.contains("shop/nope"), "{deleted}");
    drop(server);
}

#[test]
fn server_observe_follow_prints_live_flows() {
    let dir = TempDir::new("server-follow");
    let server = ServerProcess::start(dir.path());
    let mut follow = Command::new(crate::harness::bulkhead_bin())
        .args(["observe", "--follow", "-o", "json"])
        .args(server.args())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = process::KillOnDrop(follow.id());
    let stdout = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The stream is subscribed once `observe` has printed the (empty) history; keep
    // sending until a live line arrives.
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        assert!(Instant::now() < deadline, "no live flow printed");
        let batch = json!({"records": [flow("x/a", "x/b", 443, "would-deny")]});
        assert_eq!(server.post("/api/v1/agents/node-1/flows", &batch).0, 200);
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            break line;
        }
    };
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (
            v["destination"].as_str(),
            v["verdict"].as_str(),
            v["node"].as_str()
        ),
        (Some("x/b"), Some("would-deny"), Some("node-1"))
    );
    drop(guard);
    let _ = follow.wait();
}
