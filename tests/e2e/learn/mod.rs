//! Auto-learning end to end, for each backend: the shop lab with `bulkhead server` and
//! `bulkhead agent` processes; every workload in `learn` mode while real connections
//! (the lab's probes) make the shop's normal traffic; `baseline generate`; the baseline
//! applied and every workload switched to `enforce`. Then, with real packets:
//! - the learned connections keep passing (not one denial);
//! - a new lateral connection (the intruder to the database) is refused, and the server
//!   lists it as a violation (`GET /violations`, `/metrics`);
//! - the whole probe matrix equals `policy eval` of the baseline, and the exported
//!   NetworkPolicy gives the same verdicts under `policy eval`.

use crate::agent::process::{AgentProcess, graph, graph_all, wait_in_sync};
use crate::agent::remote;
use crate::harness::{LabGuard, TempDir, TestLab, bulkhead, diff, key, parse_probe};
use crate::server::process::ServerProcess;
use std::time::Duration;

/// `policies/labs/shop.yaml` without its `name:` (the test gives a unique one).
fn shop_body() -> String {
    let text = include_str!("../../../policies/labs/shop.yaml");
    text.lines()
        .filter(|l| !l.starts_with("name:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

const WORKLOADS: [&str; 6] = [
    "shop/frontend",
    "shop/api",
    "shop/db",
    "shop/cache",
    "jobs/report",
    "guest/intruder",
];

/// The shop's normal traffic: (from, to, port), all TCP.
const NORMAL: [(&str, &str, u16); 4] = [
    ("shop/frontend", "shop/api", 8080),
    ("jobs/report", "shop/api", 8080),
    ("shop/api", "shop/db", 5432),
    ("shop/api", "shop/cache", 6379),
];

fn probe_one(lab: &TestLab, from: &str, to: &str, port: u16) -> bool {
    let port = port.to_string();
    let m = lab.probe(&[
        "--from",
        from,
        "--to",
        to,
        "--port",
        &port,
        "--protocol",
        "TCP",
        "--timeout-ms",
        "500",
    ]);
    assert_eq!(m.len(), 1, "{m:?}");
    m.values().all(|a| *a)
}

/// How long the server may take to show what the agent reported.
const WAIT: Duration = Duration::from_secs(20);

fn scenario(backend: &str) {
    let lab = TestLab::new("lrn", &shop_body());
    let up = LabGuard::up(&lab);
    let dir = TempDir::new(&format!("learn-{backend}"));
    let server = ServerProcess::start(dir.path());
    let agent = AgentProcess::start(&server, &lab, backend, None, dir.path());
    wait_in_sync(&server, &["node"], WORKLOADS.len(), &[&agent]);

    // Learn: every workload allows and records; the shop does its normal work.
    for w in WORKLOADS {
        remote(&server, &["workload", "mode", w, "learn"]);
    }
    wait_in_sync(&server, &["node"], WORKLOADS.len(), &[&agent]);
    for (from, to, port) in NORMAL {
        assert!(
            probe_one(&lab, from, to, port),
            "{from} -> {to}:{port} refused while learning"
        );
    }
    agent.wait_for("the normal traffic recorded", WAIT, || {
        let g = graph(&server);
        NORMAL.iter().all(|(f, t, p)| {
            let id = (
                f.to_string(),
                t.to_string(),
                "TCP".to_string(),
                u64::from(*p),
            );
            g.get(&id).is_some_and(|s| s.verdict == "allowed")
        })
    });

    // Generate (both formats), apply the native one, enforce.
    let native = remote(&server, &["baseline", "generate", "-o", "yaml"]);
    let baseline = lab.file("baseline.yaml", &native);
    let k8s = remote(
        &server,
        &[
            "baseline",
            "generate",
            "-o",
            "yaml",
            "--format",
            "kubernetes",
        ],
    );
    let exported = lab.file("baseline-k8s.yaml", &k8s);
    remote(&server, &["policy", "apply", baseline.to_str().unwrap()]);
    for w in WORKLOADS {
        remote(&server, &["workload", "mode", w, "enforce"]);
    }
    wait_in_sync(&server, &["node"], WORKLOADS.len(), &[&agent]);

    // The learned traffic keeps passing: real connections, not one refused.
    for (from, to, port) in NORMAL {
        assert!(
            probe_one(&lab, from, to, port),
            "{from} -> {to}:{port} refused after enforce\n{native}"
        );
    }
    // A new lateral connection is refused, and shows up as a violation.
    assert!(
        !probe_one(&lab, "guest/intruder", "shop/db", 5432),
        "intruder reached the database\n{native}"
    );
    let mut violation = None;
    agent.wait_for(
        "the intruder's connection listed as a violation",
        WAIT,
        || {
            let (code, page) = server.get("/api/v1/violations?workload=guest/intruder");
            assert_eq!(code, 200, "{page}");
            violation = page["violations"].as_array().and_then(|v| {
                v.iter()
                    .find(|r| r["destination"] == "shop/db" && r["port"] == 5432)
                    .cloned()
            });
            violation.is_some()
        },
    );
    let v = violation.unwrap_or_default();
    assert_eq!(v["verdict"], "denied", "{v}");
    assert_eq!(
        v["rule"], "guest/baseline-intruder default-deny egress",
        "{v}"
    );
    let (code, text) = server.get_text("/metrics");
    assert_eq!(code, 200);
    let denied: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("bulkhead_violations_total{verdict=\"denied\"} "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(denied >= 1, "{text}");
    // No learned edge was ever denied: each is recorded allowed, first with no rule (no
    // policy while learning), then by the baseline's rule.
    let all = graph_all(&server);
    for (f, t, p) in NORMAL {
        let id = (
            f.to_string(),
            t.to_string(),
            "TCP".to_string(),
            u64::from(p),
        );
        let seen: Vec<_> = all
            .iter()
            .filter(|(k, _)| *k == id)
            .map(|(_, s)| s)
            .collect();
        assert!(
            seen.iter().all(|s| s.verdict == "allowed"),
            "{id:?}: {seen:?}"
        );
        assert!(
            seen.iter()
                .any(|s| s.rule.as_deref().is_some_and(|r| r.contains("/baseline-"))),
            "{id:?} never passed by a baseline rule: {seen:?}"
        );
    }

    // The whole matrix: the kernel gives the baseline's verdicts, and the exported
    // NetworkPolicy gives them too.
    let eval = |policy: &std::path::Path| {
        let run = bulkhead(&[
            "policy",
            "eval",
            "--lab",
            lab.path_str(),
            "--policy",
            policy.to_str().unwrap(),
            "-o",
            "json",
        ]);
        run.success();
        parse_probe(&run.stdout)
    };
    let (want, want_k8s) = (eval(&baseline), eval(&exported));
    assert_eq!(
        want,
        want_k8s,
        "NetworkPolicy verdicts differ:\n{}",
        diff(&want_k8s, &want)
    );
    let probed = up.probe(&["--timeout-ms", "300"]);
    assert_eq!(
        probed,
        want,
        "kernel and evaluator differ:\n{}",
        diff(&probed, &want)
    );
    assert!(probed[&key("shop/api", "shop/db", "TCP", 5432)]);
    assert!(!probed[&key("shop/frontend", "shop/db", "TCP", 5432)]);
}

#[test]
fn privileged_learn_baseline_enforced_nft() {
    scenario("nft");
}

#[test]
fn privileged_learn_baseline_enforced_ebpf() {
    scenario("ebpf");
}
