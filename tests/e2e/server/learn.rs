//! `bulkhead baseline generate` against a server process: the shop lab's inventory as an
//! agent reports it, recorded flows, then the learned policies checked by the CLI's own
//! tools (`policy check`, `policy eval`, `policy replay`). Not privileged: loopback only.
//! The kernel half of the loop (learn mode, enforce, real probes) is in
//! `privileged_learn_*`.

use super::process::ServerProcess;
use crate::harness::{TempDir, bulkhead};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SHOP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/labs/shop.yaml");

fn flow(source: &str, destination: &str, port: u16, verdict: &str) -> Value {
    json!({"source": source, "destination": destination, "protocol": "TCP", "port": port,
           "verdict": verdict, "rule": if verdict == "allowed" { Value::Null } else { json!("shop/x default-deny ingress") },
           "packets": 4, "bytes": 240, "connections": 2,
           "first_seen": "2025-01-01T00:00:00Z", "last_seen": "2025-01-01T00:00:03Z"})
}

/// The shop's normal traffic, as an agent in learn mode reports it.
pub fn shop_traffic() -> Vec<Value> {
    vec![
        flow("10.20.0.1", "shop/frontend", 80, "allowed"),
        flow("shop/frontend", "shop/api", 8080, "allowed"),
        flow("jobs/report", "shop/api", 8080, "allowed"),
        flow("10.20.0.1", "shop/api", 9090, "allowed"),
        flow("shop/api", "shop/db", 5432, "allowed"),
        flow("shop/api", "shop/cache", 6379, "allowed"),
    ]
}

/// (from, to, port, protocol) → allowed, from `policy eval -o json`.
fn verdicts(policy: &str) -> BTreeMap<(String, String, u64, String), bool> {
    let run = bulkhead(&[
        "policy", "eval", "--lab", SHOP, "--policy", policy, "-o", "json",
    ]);
    run.success();
    let rows: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    rows.iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (
                (
                    s("from"),
                    s("to"),
                    r["port"].as_u64().unwrap(),
                    s("protocol"),
                ),
                r["allowed"] == true,
            )
        })
        .collect()
}

#[test]
fn baseline_generate_prints_policies_that_keep_learned_traffic_and_nothing_else() {
    let dir = TempDir::new("learn-cli");
    let server = ServerProcess::start(dir.path());
    let conn = server.args();
    let conn: Vec<&str> = conn.iter().map(String::as_str).collect();
    let lab =
        bulkhead_policy::lab::LabFile::parse("shop.yaml", &std::fs::read_to_string(SHOP).unwrap())
            .unwrap();
    let inv = lab.inventory();
    let report = json!({"workloads": inv.workloads, "cluster_cidrs": inv.cluster_cidrs,
                        "host_ips": inv.host_ips, "status": {"revision": null, "backend": "nft"}});
    // The lab's one node reports every workload (they carry its name).
    let node = inv.workloads[0].node.clone().unwrap();
    let put = server.put(&format!("/api/v1/agents/{node}"), &report);
    assert_eq!(put.0, 200, "{}", put.1);
    let mut records = shop_traffic();
    records.push(flow("guest/intruder", "shop/db", 5432, "denied"));
    assert_eq!(
        server
            .post("/api/v1/agents/node-1/flows", &json!({"records": records}))
            .0,
        200
    );

    let native = bulkhead(
        &[
            &["baseline", "generate", "-o", "yaml", "--since", "100000d"],
            &conn[..],
        ]
        .concat(),
    );
    native.success();
    assert!(
        native
            .stdout
            .contains("# 2 flows, first seen 2025-01-01T00:00:00.000Z"),
        "{native}"
    );
    let native_file = dir.path().join("native.yaml");
    std::fs::write(&native_file, &native.stdout).unwrap();
    let k8s = bulkhead(
        &[
            &["baseline", "generate", "--format", "kubernetes"],
            &conn[..],
        ]
        .concat(),
    );
    k8s.success();
    assert!(k8s.stdout.contains("kind: NetworkPolicy"), "{k8s}");
    let k8s_file = dir.path().join("k8s.yaml");
    std::fs::write(&k8s_file, &k8s.stdout).unwrap();
    // Each alone: together they define every policy twice (same names, both kinds).
    for f in [&native_file, &k8s_file] {
        bulkhead(&["policy", "check", f.to_str().unwrap()]).success();
    }

    // Same verdicts for every pair and port of the lab, in both formats.
    let (n, k) = (
        verdicts(native_file.to_str().unwrap()),
        verdicts(k8s_file.to_str().unwrap()),
    );
    assert_eq!(n, k);
    let allowed: Vec<_> = n
        .iter()
        .filter(|(_, a)| **a)
        .map(|(key, _)| key.clone())
        .collect();
    let want: Vec<(String, String, u64, String)> = [
        ("jobs/report", "shop/api", 8080),
        ("shop/api", "shop/cache", 6379),
        ("shop/api", "shop/db", 5432),
        ("shop/frontend", "shop/api", 8080),
    ]
    .iter()
    .map(|(a, b, p)| (a.to_string(), b.to_string(), *p, "TCP".to_string()))
    .collect();
    assert_eq!(
        allowed, want,
        "exactly the learned workload-to-workload flows"
    );

    // Replayed over the recording, only the flow that was denied stays denied.
    let replay = bulkhead(
        &[
            &[
                "policy",
                "replay",
                "-o",
                "json",
                "--policy",
                native_file.to_str().unwrap(),
            ],
            &conn[..],
        ]
        .concat(),
    );
    replay.success();
    let denied: Vec<Value> = replay
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(denied.len(), 1, "{replay}");
    assert_eq!(denied[0]["source"], "guest/intruder");
    assert_eq!(
        denied[0]["rule"], "guest/baseline-intruder default-deny egress",
        "{replay}"
    );

    let json_out = bulkhead(
        &[
            &[
                "baseline",
                "generate",
                "-o",
                "json",
                "--workload",
                "shop/db",
            ],
            &conn[..],
        ]
        .concat(),
    );
    json_out.success();
    let v: Value = serde_json::from_str(&json_out.stdout).unwrap();
    assert_eq!(v["baseline"]["policies"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["baseline"]["policies"][0]["ingress"][0]["evidence"]["flows"],
        2
    );
    assert_eq!(v["denied_edges"], 1);

    let unknown = bulkhead(
        &[
            &["baseline", "generate", "--workload", "shop/nope"],
            &conn[..],
        ]
        .concat(),
    );
    unknown.failure(1);
    assert!(unknown.stderr.contains("shop/nope"), "{unknown}");
}
