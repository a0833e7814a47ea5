//! Two nodes joined by the underlay: one L2 domain, and traffic between nodes crosses
//! both nodes' forward paths (where the backends enforce).

use super::{assert_verdicts, expected};
use crate::harness::{LabGuard, TestLab, lab_netns, nft};

const TWO_NODES: &str = "\
subnet: 10.0.0.0/24
nodes: [{name: n1}, {name: n2}]
workloads:
  - {name: a, ip: 10.0.0.10, node: n1, ports: [{port: 80}, {port: 53, protocol: UDP}]}
  - {name: b, ip: 10.0.0.11, node: n2, ports: [{port: 80}, {port: 53, protocol: UDP}]}
  - {name: c, ip: 10.0.0.12, node: n2, ports: [{port: 80}, {port: 53, protocol: UDP}]}
";

fn workloads() -> Vec<(&'static str, &'static [(&'static str, u16)])> {
    let ports: &[(&str, u16)] = &[("TCP", 80), ("UDP", 53)];
    vec![
        ("default/a", ports),
        ("default/b", ports),
        ("default/c", ports),
    ]
}

#[test]
fn privileged_lab_two_nodes() {
    let lab = TestLab::new("mn", TWO_NODES);
    let up = LabGuard::up(&lab);
    let want_ns: Vec<String> = [
        "default-a",
        "default-b",
        "default-c",
        "n1",
        "n2",
        "underlay",
    ]
    .iter()
    .map(|s| format!("{}-{s}", lab.name))
    .collect();
    assert_eq!(lab_netns(&lab.name), want_ns);
    assert_verdicts(&up.probe(&[]), &expected(&workloads(), |_, _, _, _| true));

    // Rules in n1 only, on new connections (replies pass): a → b must cross n1 on its
    // way out, c → a must cross n1 on its way in; b ↔ c stays inside n2.
    nft(
        &lab.node_netns("n1"),
        "table inet t {
           chain forward {
             type filter hook forward priority 0; policy accept;
             ct state new ip daddr 10.0.0.11 drop
             ct state new ip saddr 10.0.0.12 drop
           }
         }",
    );
    let want = expected(&workloads(), |f, t, _, _| {
        let dropped =
            (f == "default/a" && t == "default/b") || (f == "default/c" && t == "default/a");
        !dropped
    });
    assert_verdicts(&up.probe(&["--timeout-ms", "1000"]), &want);

    // Editing the node layout converges too: c moves to n1. Now all of c's new
    // connections pass n1 (c -> b too, which used to stay inside n2).
    lab.rewrite(&TWO_NODES.replace("ip: 10.0.0.12, node: n2", "ip: 10.0.0.12, node: n1"));
    up.reconcile();
    let want = expected(&workloads(), |f, t, _, _| {
        !(f == "default/a" && t == "default/b") && f != "default/c"
    });
    assert_verdicts(&up.probe(&["--timeout-ms", "1000"]), &want);
}
