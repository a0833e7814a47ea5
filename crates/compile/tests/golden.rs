//! Golden files: each directory under `tests/golden/` holds a lab (`lab.yaml`), policies
//! (`policies.yaml`) and the expected dump of the compiled program (`program.txt`),
//! one section per node. A change to the compiler's output shows up as a readable diff
//! of that file.
//!
//! `BULKHEAD_BLESS=1 cargo test -p bulkhead-compile --test golden` rewrites the expected
//! files after an intended change; review the diff before committing it.

mod common;

use bulkhead_compile::{Input, compile, dump};
use bulkhead_policy::lab::LabFile;
use bulkhead_policy::{PolicySet, parse_documents};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The case directories: those holding a lab (other directories here belong to the
/// backends' golden tests).
fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("lab.yaml").is_file())
        .collect();
    cases.sort();
    cases
}

/// The dump of every node's program for one case.
fn render(case: &Path) -> String {
    let read = |name: &str| std::fs::read_to_string(case.join(name)).unwrap();
    let lab = LabFile::parse("lab.yaml", &read("lab.yaml")).unwrap();
    let policies =
        PolicySet::new(parse_documents("policies.yaml", &read("policies.yaml")).unwrap()).unwrap();
    let inventory = lab.inventory();
    let interfaces = lab.host_interfaces();
    let modes = BTreeMap::new();
    let mut out = String::new();
    for node in &lab.nodes {
        let program = compile(&Input {
            policies: &policies,
            inventory: &inventory,
            node: Some(&node.name),
            modes: &modes,
            interfaces: &interfaces,
        })
        .unwrap();
        common::invariants::assert_well_formed(&program);
        out.push_str(&format!("## node {}\n", node.name));
        out.push_str(&dump::dump(&program));
    }
    out
}

#[test]
fn compiled_programs_match_their_golden_files() {
    let bless = std::env::var("BULKHEAD_BLESS").is_ok_and(|v| v == "1");
    let cases = cases();
    assert!(
        cases.len() >= 3,
        "golden cases missing from {}",
        dir().display()
    );
    let mut stale = Vec::new();
    for case in &cases {
        let got = render(case);
        let file = case.join("program.txt");
        if bless {
            std::fs::write(&file, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&file).unwrap_or_default();
        if got != want {
            let first = got
                .lines()
                .zip(want.lines())
                .position(|(g, w)| g != w)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            stale.push(format!(
                "{}: first difference at line {}:\n  got:  {}\n  want: {}",
                file.display(),
                first + 1,
                got.lines().nth(first).unwrap_or("<end>"),
                want.lines().nth(first).unwrap_or("<end>"),
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "golden files differ (BULKHEAD_BLESS=1 rewrites them):\n{}",
        stale.join("\n")
    );
}

/// The golden programs are also checked against the reference evaluator, so a blessed
/// file can never enshrine a wrong verdict.
#[test]
fn golden_programs_agree_with_the_evaluator() {
    for case in cases() {
        let read = |name: &str| std::fs::read_to_string(case.join(name)).unwrap();
        let lab = LabFile::parse("lab.yaml", &read("lab.yaml")).unwrap();
        let policies =
            PolicySet::new(parse_documents("policies.yaml", &read("policies.yaml")).unwrap())
                .unwrap();
        let inventory = lab.inventory();
        let program = common::compile_all(&policies, &inventory);
        let mut addrs: Vec<_> = inventory.workloads.iter().map(|w| w.ips[0]).collect();
        addrs.extend(inventory.host_ips.iter().copied());
        addrs.extend(
            [
                "10.0.0.17",
                "10.0.0.99",
                "192.168.1.1",
                "192.168.10.1",
                "8.8.8.8",
            ]
            .map(common::ip),
        );
        for &src in &addrs {
            for &dst in &addrs {
                for (protocol, port) in [
                    (6, 23),
                    (6, 53),
                    (17, 53),
                    (6, 80),
                    (17, 81),
                    (6, 443),
                    (6, 5432),
                    (6, 8005),
                    (6, 8080),
                    (6, 9050),
                    (1, 0),
                ] {
                    let flow = bulkhead_policy::eval::Flow {
                        src,
                        dst,
                        protocol,
                        port,
                    };
                    let want =
                        bulkhead_policy::eval::evaluate(&policies, &inventory, &flow).allowed;
                    let (lp, lport) = if protocol == 1 {
                        (0, 0)
                    } else {
                        (protocol, port)
                    };
                    let got = program.check(src, dst, lp, lport).outcome()
                        == bulkhead_compile::Outcome::Allowed;
                    assert_eq!(
                        got,
                        want,
                        "{}: {src} -> {dst} {protocol}/{port}",
                        case.display()
                    );
                }
            }
        }
    }
}
