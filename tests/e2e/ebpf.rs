//! `bulkhead enforce --backend ebpf` against its contract: `lab probe` prints what
//! `policy eval` prints, updates happen in place, pins outlive the process and `lab
//! down` removes every pin and link.

use crate::harness::{self, LabGuard, TempDir, TestLab, bulkhead, diff, parse_probe};
use std::path::Path;

pub const LAB: &str = "subnet: 10.0.0.0/16
namespaces:
  x: {labels: {ns: x}}
  y: {labels: {ns: y}}
workloads:
  - {name: a, namespace: x, labels: {app: web}, ip: 10.0.1.10, ports: [{name: http, port: 80, protocol: TCP}, {port: 81, protocol: UDP}]}
  - {name: b, namespace: x, labels: {app: api}, ip: 10.0.1.11, ports: [{name: http, port: 8080, protocol: TCP}, {port: 81, protocol: UDP}]}
  - {name: c, namespace: y, labels: {app: db}, ip: 10.0.2.10, ports: [{port: 5432, protocol: TCP}, {port: 81, protocol: UDP}]}
";

/// web → api on the named port `http`; api → db 5432; db accepts nothing else; a
/// cluster-wide native policy denies UDP 81 into x/b.
pub const POLICIES: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: x}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: http}, {port: 81, protocol: UDP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: y}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
    - from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {app: api}}}]
      ports: [{port: 5432}]
---
apiVersion: bulkhead.dev/v1
kind: Policy
metadata: {name: no-udp-81-to-api}
spec:
  selector: {matchLabels: {app: api}}
  ingress:
    - action: deny
      ports: [{port: 81, protocol: UDP}]
";

/// Writes `text` as `name` in `dir`; returns the path as a string.
pub fn write(dir: &TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// `enforce --backend BACKEND` with `policies` (no paths: nothing isolated); must succeed.
#[track_caller]
pub fn enforce(lab: &TestLab, backend: &str, policies: &[&str]) {
    let mut args = vec![
        "enforce",
        "--lab",
        lab.path_str(),
        "--backend",
        backend,
        "--policy",
    ];
    args.extend_from_slice(policies);
    bulkhead(&args).success();
}

/// `lab probe` must equal `policy eval` for the same files; returns the verdicts.
#[track_caller]
pub fn assert_probe_is_eval(lab: &TestLab, policies: &[&str]) -> harness::ProbeMap {
    let mut args = vec![
        "policy",
        "eval",
        "--lab",
        lab.path_str(),
        "-o",
        "json",
        "--policy",
    ];
    args.extend_from_slice(policies);
    let eval = bulkhead(&args);
    let want = parse_probe(&eval.success().stdout);
    let got = lab.probe(&[]);
    assert_eq!(
        got,
        want,
        "lab probe differs from policy eval:\n{}",
        diff(&got, &want)
    );
    got
}

fn pin_dir(lab: &TestLab) -> std::path::PathBuf {
    Path::new("/sys/fs/bpf/bulkhead").join(lab.node_netns("node"))
}

/// The TCX links pinned for the lab's node: `(link id, program id)` as bpftool shows them.
fn pinned_links(lab: &TestLab) -> Vec<(u64, u64)> {
    let dir = pin_dir(lab).join("links");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let run = std::process::Command::new("bpftool")
            .args(["-j", "link", "show", "pinned"])
            .arg(e.path())
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        out.push((v["id"].as_u64().unwrap(), v["prog_id"].as_u64().unwrap()));
    }
    out.sort();
    out
}

fn link_exists(id: u64) -> bool {
    std::process::Command::new("bpftool")
        .args(["link", "show", "id", &id.to_string()])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether link `id` is gone within 3 s: an unpinned link is freed by a kernel work
/// item, a moment after the unpin returns.
fn link_goes_away(id: u64) -> bool {
    (0..60).any(|_| {
        let gone = !link_exists(id);
        if !gone {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        gone
    })
}

#[test]
fn privileged_ebpf_enforce_matches_policy_eval() {
    let lab = TestLab::new("eb", LAB);
    let up = LabGuard::up(&lab);
    let dir = TempDir::new("ebpf-pol");
    let pol = write(&dir, "p.yaml", POLICIES);
    enforce(&up, "ebpf", &[&pol]);
    let got = assert_probe_is_eval(&up, &[&pol]);
    // The policies must have bitten: some flows denied, some allowed.
    assert!(
        got.values().any(|a| !a) && got.values().any(|a| *a),
        "{got:?}"
    );
    assert!(got[&harness::key("x/a", "x/b", "TCP", 8080)]);
    assert!(
        !got[&harness::key("x/a", "x/b", "UDP", 81)],
        "deny beats allow"
    );
    assert!(got[&harness::key("x/b", "y/c", "TCP", 5432)]);
    assert!(!got[&harness::key("x/a", "y/c", "TCP", 5432)]);
}

#[test]
fn privileged_ebpf_updates_in_place() {
    let lab = TestLab::new("eu", LAB);
    let up = LabGuard::up(&lab);
    let dir = TempDir::new("ebpf-upd");
    let pol = write(&dir, "p.yaml", POLICIES);
    enforce(&up, "ebpf", &[&pol]);
    assert_probe_is_eval(&up, &[&pol]);
    let links = pinned_links(&up);
    assert_eq!(links.len(), 6, "two hooks on each of three veths");

    // Another policy set: only the db policy.
    let db_only = POLICIES.split("---").nth(1).unwrap();
    let pol2 = write(&dir, "p2.yaml", db_only);
    enforce(&up, "ebpf", &[&pol2]);
    let got = assert_probe_is_eval(&up, &[&pol2]);
    assert!(got[&harness::key("x/a", "x/b", "UDP", 81)]);

    // Edited labels: x/a becomes an api, so it may reach the db.
    up.rewrite(&LAB.replace("labels: {app: web}", "labels: {app: api}"));
    enforce(&up, "ebpf", &[&pol2]);
    let got = assert_probe_is_eval(&up, &[&pol2]);
    assert!(got[&harness::key("x/a", "y/c", "TCP", 5432)]);

    // No policies: nothing is isolated.
    enforce(&up, "ebpf", &[]);
    assert!(harness::all_allowed(&assert_probe_is_eval(&up, &[])));
    // Every update took the links over in place: the same link ids throughout.
    let ids = |l: &[(u64, u64)]| l.iter().map(|x| x.0).collect::<Vec<_>>();
    assert_eq!(ids(&pinned_links(&up)), ids(&links));
}

#[test]
fn privileged_ebpf_pins_outlive_the_process_and_lab_down_removes_them() {
    let lab = TestLab::new("ep", LAB);
    let dir = TempDir::new("ebpf-pin");
    let pol = write(&dir, "p.yaml", POLICIES);
    let links = {
        let up = LabGuard::up(&lab);
        enforce(&up, "ebpf", &[&pol]);
        // `enforce` has exited: the pins hold the programs in place.
        for map in [
            "BH_CONFIG",
            "BH_POLICY",
            "BH_IPCACHE",
            "BH_ENDPOINTS",
            "BH_CONNTRACK",
            "BH_EVENTS",
            "BH_LOST",
        ] {
            assert!(pin_dir(&up).join(map).exists(), "{map} pinned");
        }
        let links = pinned_links(&up);
        assert_eq!(links.len(), 6);
        assert!(links.iter().all(|l| link_exists(l.0)));
        assert_probe_is_eval(&up, &[&pol]);
        links
    };
    // `lab down` (the guard's drop) removed the pins: the links are gone.
    assert!(!pin_dir(&lab).exists());
    assert!(links.iter().all(|l| link_goes_away(l.0)), "{links:?}");
}
