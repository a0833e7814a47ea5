//! Runs every case of `tests/conformance/` through the reference evaluator and compares
//! with its truth tables. A failure prints each differing cell with the evaluator's
//! reasons, and the table the evaluator would have written, so a wrong table and a
//! wrong evaluator are equally easy to tell apart.

use bulkhead_policy::conformance::{Case, Endpoint, Expected};
use bulkhead_policy::eval::{Flow, evaluate};
use bulkhead_policy::lab::LabFile;
use bulkhead_policy::{Inventory, PolicySet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance");
    std::fs::canonicalize(&path).unwrap_or(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn case_files() -> Vec<PathBuf> {
    let dir = root().join("cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn address(e: &Endpoint, inventory: &Inventory) -> Ipv4Addr {
    match e {
        Endpoint::Address(a) => *a,
        Endpoint::Workload(id) => inventory.workload(id).expect("checked against the lab").ips[0],
    }
}

fn show(e: &Endpoint) -> String {
    match e {
        Endpoint::Address(a) => a.to_string(),
        Endpoint::Workload(id) => id.to_string(),
    }
}

/// Runs one step; returns a line per differing expectation.
fn run_step(set: &PolicySet, lab: &LabFile, expected: &[Expected]) -> Vec<String> {
    let inventory = lab.inventory();
    let mut diffs = Vec::new();
    for e in expected {
        let flow = Flow {
            src: address(&e.from, &inventory),
            dst: address(&e.to, &inventory),
            protocol: e.protocol.number(),
            port: e.port,
        };
        let v = evaluate(set, &inventory, &flow);
        if v.allowed != e.allowed {
            diffs.push(format!(
                "  {}: {} → {} {}/{}: table says {}, evaluator says {} (egress: {}; ingress: {})",
                e.loc,
                show(&e.from),
                show(&e.to),
                e.port,
                e.protocol,
                verdict(e.allowed),
                verdict(v.allowed),
                v.egress,
                v.ingress
            ));
        }
    }
    diffs
}

fn verdict(allowed: bool) -> &'static str {
    if allowed { "allowed" } else { "denied" }
}

#[test]
fn every_case_matches_the_evaluator() {
    let lab_path = root().join("lab.yaml");
    let lab = LabFile::parse(&lab_path.display().to_string(), &read(&lab_path))
        .unwrap_or_else(|d| panic!("{d}"));
    let files = case_files();
    assert!(files.len() >= 30, "only {} cases", files.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in &files {
        let name = path.display().to_string();
        let case = Case::parse(&name, &read(path)).unwrap_or_else(|d| panic!("{d}"));
        case.check(&lab).unwrap_or_else(|d| panic!("{d}"));
        for step in &case.steps {
            let step_lab = step.apply(&lab);
            // Privileged runners write the edited lab out for `enforce`: it must read back the same.
            let written = LabFile::parse("step-lab.yaml", &step_lab.to_yaml())
                .unwrap_or_else(|d| panic!("{d}"));
            assert_eq!(written.inventory(), step_lab.inventory(), "{name}");
            let policies = step.parse_policies().unwrap_or_else(|d| panic!("{d}"));
            let set = PolicySet::new(policies).unwrap_or_else(|d| panic!("{d}"));
            let expected = step.expected(&step_lab);
            checked += expected.len();
            let diffs = run_step(&set, &step_lab, &expected);
            if !diffs.is_empty() {
                failures.push(format!(
                    "{name} step `{}`:\n{}",
                    step.name,
                    diffs.join("\n")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // 41 cases × 72 ordered pairs × 4 port/protocols, give or take steps: a sanity floor.
    assert!(checked > 10_000, "only {checked} expectations checked");
}

/// The format's own checks catch a malformed table, so a typo cannot silently skip cells.
#[test]
fn malformed_cases_are_rejected_with_locations() {
    let lab_path = root().join("lab.yaml");
    let lab = LabFile::parse("lab.yaml", &read(&lab_path)).unwrap_or_else(|d| panic!("{d}"));
    let good = read(&root().join("cases/01-default-deny-ingress.yaml"));
    let case = Case::parse("c.yaml", &good).unwrap_or_else(|d| panic!("{d}"));
    case.check(&lab).unwrap_or_else(|d| panic!("{d}"));
    // A missing port/protocol table.
    let bad = good.replace(
        "[80/TCP, 81/TCP, 80/UDP, 81/UDP]",
        "[80/TCP, 81/TCP, 80/UDP]",
    );
    let err = Case::parse("c.yaml", &bad)
        .unwrap()
        .check(&lab)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no table for 81/UDP"), "{err}");
    // A cell that is neither `.` nor `X`.
    let bad = good.replacen("x/b  X    .    X", "x/b  X    o    X", 1);
    assert_ne!(bad, good);
    let err = Case::parse("c.yaml", &bad).unwrap_err().to_string();
    assert!(err.contains("table row `x/b`: expected 9 cells"), "{err}");
    // A workload missing from the rows.
    let bad = good.replacen(
        "\n          z/c  X    X    X    .    .    .    .    .    .",
        "",
        1,
    );
    assert_ne!(bad, good);
    let err = Case::parse("c.yaml", &bad)
        .unwrap()
        .check(&lab)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("table rows: expected each of the lab's workloads exactly once"),
        "{err}"
    );
    // A denied diagonal.
    let bad = good.replacen("x/a  .    X", "x/a  X    X", 1);
    assert_ne!(bad, good);
    let err = Case::parse("c.yaml", &bad)
        .unwrap()
        .check(&lab)
        .unwrap_err()
        .to_string();
    assert!(err.contains("a workload always reaches itself"), "{err}");
}

/// Policy errors inside a case point into the case file, not into the embedded text.
#[test]
fn policy_errors_point_into_the_case_file() {
    let good = read(&root().join("cases/01-default-deny-ingress.yaml"));
    let bad = good.replacen("podSelector: {}", "podSelector: {}\n        ingres: []", 1);
    let case = Case::parse("c.yaml", &bad).unwrap_or_else(|d| panic!("{d}"));
    let err = case.steps[0].parse_policies().unwrap_err().to_string();
    let line = bad.lines().position(|l| l.contains("ingres:")).unwrap() + 1;
    assert!(
        err.starts_with(&format!("c.yaml:{line}:9: spec: unknown field `ingres`")),
        "{err}"
    );
}
