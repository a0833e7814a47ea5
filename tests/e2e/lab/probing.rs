//! `lab probe`: filters, output forms, and a probe that must say `false` because a rule
//! added by hand in the node drops the traffic.

use super::{BASIC, assert_verdicts, basic_workloads, expected};
use crate::harness::{LabGuard, ProbeMap, TestLab, bulkhead, nft};

#[test]
fn privileged_lab_probe_filters() {
    let lab = TestLab::new("pf", BASIC);
    let up = LabGuard::up(&lab);
    let all = expected(&basic_workloads(), |_, _, _, _| true);
    let only = |keep: &dyn Fn(&str, &str, &str, u16) -> bool| -> ProbeMap {
        all.iter()
            .filter(|((f, t, p, n), _)| keep(f, t, p, *n))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    assert_verdicts(
        &up.probe(&["--from", "x/a"]),
        &only(&|f, _, _, _| f == "x/a"),
    );
    assert_verdicts(
        &up.probe(&["--to", "y/c", "--protocol", "TCP"]),
        &only(&|_, t, p, _| t == "y/c" && p == "TCP"),
    );
    assert_verdicts(&up.probe(&["--port", "53"]), &only(&|_, _, _, n| n == 53));
    assert_verdicts(
        &up.probe(&["--from", "x/b", "--to", "x/a", "--protocol", "UDP"]),
        &only(&|f, t, p, _| f == "x/b" && t == "x/a" && p == "UDP"),
    );
    // A port no destination lists is never probed.
    assert!(up.probe(&["--port", "9999"]).is_empty());

    let table = bulkhead(&[
        "lab",
        "probe",
        lab.path_str(),
        "-o",
        "table",
        "--port",
        "80",
    ]);
    assert_eq!(
        table.success().stdout,
        "80/TCP\n-   x/a y/c\nx/a .   .\nx/b .   .\ny/c .   .\n\n"
    );
    let unknown = bulkhead(&["lab", "probe", lab.path_str(), "--from", "x/zz"]);
    assert!(
        unknown.failure(1).stderr.contains("no workload `x/zz`"),
        "{unknown}"
    );
    bulkhead(&["lab", "probe", lab.path_str(), "--protocol", "SCTP"]).failure(2);
}

/// Drops added inside the lab's node (its forward path sees all bridged traffic):
/// exactly the dropped rows turn `false`, TCP and UDP alike, and only while the rule
/// is there.
#[test]
fn privileged_lab_probe_sees_drops() {
    let lab = TestLab::new("pd", BASIC);
    let up = LabGuard::up(&lab);
    let node = lab.node_netns("node");
    nft(
        &node,
        "table inet drops {
           chain forward {
             type filter hook forward priority 0; policy accept;
             ip daddr 10.0.0.11 tcp dport 8080 drop
             ip saddr 10.0.0.12 ip daddr 10.0.0.10 udp dport 53 drop
           }
         }",
    );
    let want = expected(&basic_workloads(), |f, t, p, n| {
        let dropped =
            (t == "x/b" && p == "TCP" && n == 8080) || (f == "y/c" && t == "x/a" && p == "UDP");
        !dropped
    });
    assert_eq!(want.values().filter(|a| !**a).count(), 3);
    assert_verdicts(&up.probe(&["--timeout-ms", "1000"]), &want);

    nft(&node, "delete table inet drops");
    assert_verdicts(
        &up.probe(&[]),
        &expected(&basic_workloads(), |_, _, _, _| true),
    );
}

/// A lab of 30 workloads comes up and probes every pair on two protocols
/// (30 × 29 × 2 = 1740 attempts at once). Times are printed, not asserted.
#[test]
fn privileged_lab_thirty_workloads() {
    let mut body = String::from("subnet: 10.0.0.0/24\nworkloads:\n");
    for i in 0..30 {
        body.push_str(&format!(
            "  - {{name: w{i}, namespace: n{}, ip: 10.0.0.{}, ports: [{{port: 80}}, {{port: 53, protocol: UDP}}]}}\n",
            i % 3,
            10 + i
        ));
    }
    let lab = TestLab::new("sc", &body);
    let started = std::time::Instant::now();
    let up = LabGuard::up(&lab);
    let up_time = started.elapsed();
    let started = std::time::Instant::now();
    let got = up.probe(&[]);
    let probe_time = started.elapsed();
    eprintln!(
        "30 workloads: up {up_time:.2?}, probe of {} attempts {probe_time:.2?}",
        got.len()
    );
    assert_eq!(got.len(), 30 * 29 * 2);
    assert!(
        got.values().all(|a| *a),
        "some attempts failed: {:?}",
        got.iter().filter(|(_, a)| !**a).take(5).collect::<Vec<_>>()
    );
    let again = std::time::Instant::now();
    up.reconcile();
    eprintln!("30 workloads: idempotent up {:.2?}", again.elapsed());
}
