//! `bulkhead enforce --backend nft` against its contract: every conformance case holds
//! through nftables, and bad input (each kind issue 2 lists) exits 1 with
//! `file:line:col: message` while the ruleset in force stays exactly as it was, both in
//! the kernel's listing and in what packets get through.

use crate::ebpf::{LAB, POLICIES, assert_probe_is_eval, enforce, write};
use crate::ebpf_conformance::run_conformance;
use crate::harness::{LabGuard, TempDir, TestLab, bulkhead, nsenter};

#[test]
fn privileged_nft_conformance() {
    run_conformance("nft");
}

/// `nft list table inet bulkhead` in the lab's node namespace.
fn listing(lab: &TestLab) -> String {
    let run = nsenter(
        &lab.node_netns("node"),
        &["nft", "list", "table", "inet", "bulkhead"],
        "",
    );
    run.success();
    run.stdout
}

/// Each bad input: (what it is, file name, text, where the error must point, words the
/// message must hold). Every one is a policy file except the lab file with an address
/// outside its subnet.
const BAD_POLICIES: [(&str, &str, &str, &str); 6] = [
    (
        "malformed YAML",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: x\nspec: {}\n",
        ":4:",
        "",
    ),
    (
        "unknown field",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: x}\nspec:\n  podSelector: {}\n  ingres: []\n",
        ":6:3:",
        "ingres",
    ),
    (
        "bad CIDR",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: x}\nspec:\n  podSelector: {}\n  egress:\n    - to: [{ipBlock: {cidr: 10.0.0.300/24}}]\n",
        ":7:",
        "10.0.0.300/24",
    ),
    (
        "endPort below port",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: x}\nspec:\n  podSelector: {}\n  ingress:\n    - ports: [{port: 80, endPort: 70}]\n",
        ":7:",
        "endPort",
    ),
    (
        "endPort with a named port",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: x}\nspec:\n  podSelector: {}\n  ingress:\n    - ports: [{port: http, endPort: 90}]\n",
        ":7:",
        "endPort",
    ),
    (
        "unknown selector operator",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: x}\nspec:\n  podSelector:\n    matchExpressions: [{key: app, operator: Near, values: [web]}]\n  ingress: []\n",
        ":6:",
        "Near",
    ),
];

/// Exit 1, one `file:line:col: message` line naming the file, nothing on stdout.
#[track_caller]
fn assert_rejected(what: &str, run: &crate::harness::Run, file: &str, at: &str, word: &str) {
    assert_eq!(run.code, 1, "{what}: {run}");
    let first = run.stderr.lines().find(|l| l.contains(file));
    let Some(line) = first else {
        panic!("{what}: no error naming {file}:\n{run}");
    };
    let rest = &line[line.find(file).map_or(0, |i| i + file.len())..];
    assert!(rest.starts_with(at), "{what}: `{line}` is not {file}{at}…");
    // line:col: message
    let mut parts = rest.trim_start_matches(':').splitn(3, ':');
    let (l, c) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    assert!(
        l.parse::<u32>().is_ok() && c.parse::<u32>().is_ok(),
        "{what}: `{line}` has no line:col"
    );
    assert!(
        parts.next().is_some_and(|m| !m.trim().is_empty()),
        "{what}: `{line}` has no message"
    );
    assert!(
        line.contains(word),
        "{what}: `{line}` does not name `{word}`"
    );
}

#[test]
fn privileged_nft_bad_input_changes_nothing() {
    let lab = TestLab::new("nbd", LAB);
    let _up = LabGuard::up(&lab);
    let dir = TempDir::new("nft-bad");
    let good = write(&dir, "good.yaml", POLICIES);
    enforce(&lab, "nft", &[&good]);
    let probes = assert_probe_is_eval(&lab, &[&good]);
    // The policy must isolate something, or "unchanged" could not be told from "gone".
    assert!(
        probes.values().any(|v| !v),
        "the good policy denies nothing"
    );
    let before = listing(&lab);

    let unchanged = |what: &str| {
        assert_eq!(listing(&lab), before, "{what}: the ruleset changed");
        assert_eq!(lab.probe(&[]), probes, "{what}: verdicts changed");
    };
    for (what, text, at, word) in BAD_POLICIES {
        let name = format!("bad-{}.yaml", what.replace(' ', "-"));
        let bad = write(&dir, &name, text);
        // The good file and the bad one together: nothing of either may be applied.
        let run = bulkhead(&[
            "enforce",
            "--lab",
            lab.path_str(),
            "--backend",
            "nft",
            "--policy",
            &good,
            &bad,
        ]);
        assert_rejected(what, &run, &name, at, word);
        unchanged(what);
    }

    // A lab file whose workload address lies outside its subnet.
    let text = std::fs::read_to_string(&lab.path).unwrap();
    let broken = text.replace("ip: 10.0.2.10", "ip: 10.9.2.10");
    assert_ne!(broken, text);
    let bad_lab = dir.path().join("bad-lab.yaml");
    std::fs::write(&bad_lab, broken).unwrap();
    let run = bulkhead(&[
        "enforce",
        "--lab",
        bad_lab.to_str().unwrap(),
        "--backend",
        "nft",
        "--policy",
        &good,
    ]);
    assert_rejected(
        "lab IP outside its subnet",
        &run,
        "bad-lab.yaml",
        ":",
        "10.9.2.10",
    );
    unchanged("lab IP outside its subnet");
}
