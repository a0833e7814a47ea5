//! Up, probe, down; idempotence; bad files; down without (a valid) file.

use super::{BASIC, assert_clean, assert_verdicts, basic_workloads, expected};
use crate::harness::{LabGuard, TestLab, bulkhead, lab_netns, nsenter, serve_pids};
use std::path::Path;

#[test]
fn privileged_lab_up_probe_down() {
    let lab = TestLab::new("lc", BASIC);
    {
        let up = LabGuard::up(&lab);
        let want_ns: Vec<String> = ["node", "x-a", "x-b", "y-c"]
            .iter()
            .map(|s| format!("{}-{s}", lab.name))
            .collect();
        assert_eq!(lab_netns(&lab.name), want_ns);
        assert_eq!(serve_pids(&lab.name).len(), 1, "one listener daemon");
        // Bridged traffic must reach netfilter in the node (the nft backend needs it).
        let sysctl = nsenter(
            &lab.node_netns("node"),
            &[
                "cat",
                "/proc/sys/net/bridge/bridge-nf-call-iptables",
                "/proc/sys/net/netfilter/nf_conntrack_acct",
            ],
            "",
        );
        assert_eq!(sysctl.success().stdout, "1\n1\n");

        let got = up.probe(&[]);
        assert_verdicts(&got, &expected(&basic_workloads(), |_, _, _, _| true));

        bulkhead(&["lab", "down", lab.path_str()]).success();
        assert_clean(&lab);
        let gone = bulkhead(&["lab", "probe", lab.path_str()]);
        assert!(gone.failure(1).stderr.contains("is not up"), "{gone}");
    } // the guard's own `lab down` now finds nothing: idempotent
    assert_clean(&lab);
    let again = bulkhead(&["lab", "down", lab.path_str()]);
    again.success();
}

/// A second `up` of the same file changes nothing: same links (same indexes, MACs),
/// same addresses and routes, the same daemon, and open connections survive.
#[test]
fn privileged_lab_up_twice_is_idempotent() {
    let lab = TestLab::new("id", BASIC);
    let up = LabGuard::up(&lab);
    let before = snapshot(&lab);
    let daemon = serve_pids(&lab.name);
    let mut conn = super::connect_from(&lab.workload_netns("x/a"), "10.0.0.11:8080")
        .unwrap_or_else(|e| panic!("connect: {e}"));
    super::assert_echoes(&mut conn, b"before");

    up.reconcile();
    assert_eq!(snapshot(&lab), before);
    assert_eq!(serve_pids(&lab.name), daemon);
    super::assert_echoes(&mut conn, b"after");
    assert!(crate::harness::all_allowed(&up.probe(&[])));
}

/// Every namespace's links, IPv4 addresses and routes, as `ip` prints them.
fn snapshot(lab: &TestLab) -> Vec<String> {
    let mut out = Vec::new();
    for ns in lab_netns(&lab.name) {
        for cmd in [
            &["ip", "-o", "link"][..],
            &["ip", "-o", "-4", "addr"],
            &["ip", "route"],
        ] {
            let run = nsenter(&ns, cmd, "");
            out.push(format!("{ns} {}:\n{}", cmd.join(" "), run.success().stdout));
        }
    }
    out
}

/// A file that does not validate: `file:line:col: message`, exit 1, nothing created.
#[test]
fn privileged_lab_bad_file_creates_nothing() {
    let lab = TestLab::new("bad", "");
    lab.write_raw(&format!(
        "name: {}\nsubnet: 10.0.0.0/24\nworkloads:\n  - {{name: a, ip: 10.1.0.10}}\n  - {{name: b, ip: 10.0.0.11, ports: [{{port: 70000}}]}}\n",
        lab.name
    ));
    let run = bulkhead(&["lab", "up", lab.path_str()]);
    run.failure(1);
    let want = [
        format!(
            "{}:4:19: ip: 10.1.0.10 is outside the lab subnet 10.0.0.0/24",
            lab.path_str()
        ),
        format!("{}:5:45: port: 70000 is not in 1..65535", lab.path_str()),
    ];
    for line in &want {
        assert!(
            run.stderr.contains(line.as_str()),
            "missing `{line}` in:\n{run}"
        );
    }
    assert!(run.stdout.is_empty(), "{run}");
    assert_eq!(lab_netns(&lab.name), Vec::<String>::new());
    assert!(!Path::new(bulkhead_lab::STATE_ROOT).join(&lab.name).exists());
    bulkhead(&["lab", "probe", lab.path_str()]).failure(1);
    // A usage error is exit 2.
    bulkhead(&["lab", "up"]).failure(2);
}

/// `lab down` works from the recorded state: with the file broken, or gone.
#[test]
fn privileged_lab_down_without_a_valid_file() {
    let lab = TestLab::new("gn", BASIC);
    {
        let _up = LabGuard::up(&lab);
        lab.write_raw("name: [this is not a lab\n");
        bulkhead(&["lab", "down", lab.path_str()]).success();
        assert_clean(&lab);
    }
    lab.rewrite(BASIC);
    let _up = LabGuard::up(&lab);
    std::fs::remove_file(&lab.path).unwrap_or_else(|e| panic!("{e}"));
    bulkhead(&["lab", "down", &lab.name]).success();
    assert_clean(&lab);
    // Neither the file nor the lab exists: nothing to do, and that is fine.
    bulkhead(&["lab", "down", lab.path_str()]).success();
}
