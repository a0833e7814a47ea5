//! Two nodes, one agent each: a cross-node connection is checked at both ends (egress
//! on the source's node, ingress on the destination's) and reported once, by the node
//! that decided it.

use super::process::{AgentProcess, wait_in_sync};
use super::{expected, remote, wait_for_edges};
use crate::harness::{LabGuard, TempDir, TestLab};
use crate::server::process::ServerProcess;

const TWO_NODES: &str = "\
subnet: 10.0.0.0/24
nodes: [{name: n1}, {name: n2}]
workloads:
  - {name: a, labels: {app: a}, ip: 10.0.0.10, node: n1, ports: [{port: 80}, {port: 53, protocol: UDP}]}
  - {name: b, labels: {app: b}, ip: 10.0.0.11, node: n2, ports: [{port: 80}, {port: 53, protocol: UDP}]}
  - {name: c, labels: {app: c}, ip: 10.0.0.12, node: n2, ports: [{port: 80}]}
";

/// b accepts only a (checked on n2); a may only send to b (checked on n1).
const POLICY: &str = "\
apiVersion: bulkhead.dev/v1
kind: Policy
metadata: {name: b-from-a, namespace: default}
spec:
  selector: {matchLabels: {app: b}}
  ingress:
    - action: allow
      from:
        - selector: {matchLabels: {app: a}}
---
apiVersion: bulkhead.dev/v1
kind: Policy
metadata: {name: a-to-b, namespace: default}
spec:
  selector: {matchLabels: {app: a}}
  egress:
    - action: allow
      to:
        - selector: {matchLabels: {app: b}}
";

fn two_nodes(backend: &str) {
    let lab = TestLab::new("agm", TWO_NODES);
    let up = LabGuard::up(&lab);
    let dir = TempDir::new(&format!("agent-mn-{backend}"));
    let server = ServerProcess::start(dir.path());
    let n1 = AgentProcess::start(&server, &lab, backend, Some("n1"), dir.path());
    let n2 = AgentProcess::start(&server, &lab, backend, Some("n2"), dir.path());
    wait_in_sync(&server, &["n1", "n2"], 3, &[&n1, &n2]);
    let policy = lab.file("policy.yaml", POLICY);
    remote(&server, &["policy", "apply", policy.to_str().unwrap()]);
    wait_in_sync(&server, &["n1", "n2"], 3, &[&n1, &n2]);

    let probed = up.probe(&["--timeout-ms", "500"]);
    let want = expected(&lab, &[&policy], &[]);
    for (k, allowed) in &probed {
        let id = (k.0.clone(), k.1.clone(), k.2.clone(), u64::from(k.3));
        assert_eq!(
            *allowed,
            want[&id].0 == "allowed",
            "probe {k:?} vs {:?}",
            want[&id]
        );
    }
    let edges = wait_for_edges(&server, &want, &[&n1, &n2]);
    // Who reported what: drops by the node that dropped; admitted cross-node
    // connections by the destination's node.
    let node = |from: &str, to: &str, proto: &str, port: u64| {
        let k = (from.to_string(), to.to_string(), proto.to_string(), port);
        let flows = super::process::observe(&server);
        let _ = &edges;
        flows[&k].node.clone()
    };
    let at = |n: &str| Some(n.to_string());
    assert_eq!(
        node("default/a", "default/c", "TCP", 80),
        at("n1"),
        "a's egress denies on n1"
    );
    assert_eq!(
        node("default/c", "default/b", "TCP", 80),
        at("n2"),
        "b's ingress denies on n2"
    );
    assert_eq!(
        node("default/a", "default/b", "TCP", 80),
        at("n2"),
        "admitted: reported by b's node"
    );
    assert_eq!(
        node("default/b", "default/a", "TCP", 80),
        at("n1"),
        "admitted: reported by a's node"
    );
    assert_eq!(
        edges[&("default/a".into(), "default/c".into(), "TCP".into(), 80)].verdict,
        "denied"
    );
}

#[test]
fn privileged_agent_nft_two_nodes_cross_node_flows() {
    two_nodes("nft");
}

#[test]
fn privileged_agent_ebpf_two_nodes_cross_node_flows() {
    two_nodes("ebpf");
}
