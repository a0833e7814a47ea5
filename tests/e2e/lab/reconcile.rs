//! Editing the lab file and running `lab up` again converges, without disturbing the
//! workloads the edit did not touch.

use super::{assert_echoes, assert_verdicts, connect_from, expected};
use crate::harness::{LabGuard, TestLab, lab_netns, nsenter};

const V1: &str = "\
subnet: 10.0.0.0/24
workloads:
  - {name: a, namespace: x, ip: 10.0.0.10, ports: [{port: 80}]}
  - {name: b, namespace: x, ip: 10.0.0.11, ports: [{port: 80}, {port: 53, protocol: UDP}]}
  - {name: c, namespace: y, ip: 10.0.0.12, ports: [{port: 80}]}
  - {name: e, namespace: y, ip: 10.0.0.14, ports: [{port: 80}]}
";

/// a's ports move, b's address changes, c goes, d comes (on c's old address), e stays.
const V2: &str = "\
subnet: 10.0.0.0/24
workloads:
  - {name: a, namespace: x, ip: 10.0.0.10, ports: [{port: 8080}, {port: 9090, protocol: UDP}]}
  - {name: b, namespace: x, ip: 10.0.0.21, ports: [{port: 80}, {port: 53, protocol: UDP}]}
  - {name: d, namespace: y, ip: 10.0.0.12, ports: [{port: 80}]}
  - {name: e, namespace: y, ip: 10.0.0.14, ports: [{port: 80}]}
";

#[test]
fn privileged_lab_edits_converge() {
    let lab = TestLab::new("rc", V1);
    let up = LabGuard::up(&lab);
    assert!(crate::harness::all_allowed(&up.probe(&[])));
    // A connection between workloads the edit leaves alone (a keeps its namespace and
    // address; e is untouched): it must survive the reconcile, daemon side included.
    let mut held = connect_from(&lab.workload_netns("x/a"), "10.0.0.14:80")
        .unwrap_or_else(|e| panic!("connect: {e}"));
    assert_echoes(&mut held, b"v1");
    let e_links = links(&lab.workload_netns("y/e"));

    lab.rewrite(V2);
    up.reconcile();

    let want_ns: Vec<String> = ["node", "x-a", "x-b", "y-d", "y-e"]
        .iter()
        .map(|s| format!("{}-{s}", lab.name))
        .collect();
    assert_eq!(lab_netns(&lab.name), want_ns);
    let want = expected(
        &[
            ("x/a", &[("TCP", 8080), ("UDP", 9090)]),
            ("x/b", &[("TCP", 80), ("UDP", 53)]),
            ("y/d", &[("TCP", 80)]),
            ("y/e", &[("TCP", 80)]),
        ],
        |_, _, _, _| true,
    );
    assert_verdicts(&up.probe(&[]), &want);

    let b_addrs = nsenter(
        &lab.workload_netns("x/b"),
        &["ip", "-o", "-4", "addr", "show", "eth0"],
        "",
    );
    assert!(
        b_addrs.success().stdout.contains("10.0.0.21/24"),
        "{b_addrs}"
    );
    assert!(!b_addrs.stdout.contains("10.0.0.11"), "{b_addrs}");
    // a's old port is closed: the destination answers with a reset.
    let old = connect_from(&lab.workload_netns("y/e"), "10.0.0.10:80");
    let refused = old.as_ref().err().map(std::io::Error::kind);
    assert_eq!(
        refused,
        Some(std::io::ErrorKind::ConnectionRefused),
        "{old:?}"
    );

    assert_echoes(&mut held, b"v2");
    assert_eq!(links(&lab.workload_netns("y/e")), e_links, "e was touched");

    // And back: the same file twice in a row converges to the same state.
    lab.rewrite(V1);
    up.reconcile();
    up.reconcile();
    let v1 = expected(
        &[
            ("x/a", &[("TCP", 80)]),
            ("x/b", &[("TCP", 80), ("UDP", 53)]),
            ("y/c", &[("TCP", 80)]),
            ("y/e", &[("TCP", 80)]),
        ],
        |_, _, _, _| true,
    );
    assert_verdicts(&up.probe(&[]), &v1);
    assert_echoes(&mut held, b"v1 again");
}

fn links(netns: &str) -> String {
    nsenter(netns, &["ip", "-o", "link"], "")
        .success()
        .stdout
        .clone()
}
