//! The tracker's bookkeeping, fed with events shaped like the kernel's (the real
//! kernel paths are covered by the privileged end-to-end tests).

use super::*;
use crate::context::Workloads;
use bulkhead_compile::program::NO_RULE;
use bulkhead_policy::{Inventory, Labels, Mode, PolicySet, Workload, WorkloadId, parse_documents};

const POLICY: &str = "apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata: {name: p, namespace: x}\n\
spec:\n  selector: {matchLabels: {app: b}}\n  ingress:\n    - action: allow\n      from:\n        - selector: {matchLabels: {app: a}}\n";

fn w(name: &str, ip: [u8; 4], node: &str) -> Workload {
    let mut labels = Labels::new();
    labels.insert("app".into(), name.into());
    Workload {
        id: WorkloadId::new("x", name),
        labels,
        namespace_labels: Labels::new(),
        ips: vec![Ipv4Addr::from(ip)],
        ports: Vec::new(),
        node: Some(node.into()),
    }
}

fn ctx(node: &str) -> Context {
    let inventory = Inventory {
        workloads: vec![
            w("a", [10, 0, 0, 1], "n1"),
            w("b", [10, 0, 0, 2], "n1"),
            w("c", [10, 0, 0, 3], "n2"),
        ],
        cluster_cidrs: vec!["10.0.0.0/24".parse().unwrap()],
        host_ips: Vec::new(),
    };
    let policies = PolicySet::new(parse_documents("p.yaml", POLICY).unwrap()).unwrap();
    Context::new(
        node,
        Arc::new(Workloads::new(inventory)),
        Arc::new(policies),
        Arc::default(),
        Mode::Enforce,
    )
    .with_rules(
        None,
        1,
        Arc::new(vec![bulkhead_policy::ir::Reason::NotIsolated]),
    )
}

fn ev(kind: FlowKind, outcome: Outcome, src: u8, sport: u16, dst: u8, packets: u64) -> FlowEvent {
    FlowEvent {
        kind,
        outcome,
        protocol: 6,
        src: Ipv4Addr::new(10, 0, 0, src),
        src_port: sport,
        dst: Ipv4Addr::new(10, 0, 0, dst),
        dst_port: 80,
        rule: NO_RULE,
        generation: 1,
        packets,
        bytes: packets * 60,
        time: SystemTime::now(),
    }
}

#[test]
fn an_admitted_connection_is_one_record_with_its_rule_and_counter_growth() {
    let c = ctx("n1");
    let mut t = Tracker::new(Limits::default());
    let t0 = Instant::now();
    // Both check points of the node report the same connection.
    t.feed(&ev(FlowKind::New, Outcome::Allowed, 1, 4000, 2, 1), t0);
    t.feed(&ev(FlowKind::New, Outcome::Allowed, 1, 4000, 2, 1), t0);
    t.settle(&c, t0 + SETTLE);
    // Counter sweeps: totals from both check points, then growth.
    t.feed(
        &ev(FlowKind::End, Outcome::Allowed, 1, 4000, 2, 6),
        t0 + SETTLE,
    );
    t.feed(
        &ev(FlowKind::End, Outcome::Allowed, 1, 4000, 2, 6),
        t0 + SETTLE,
    );
    let r = t.take();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].source.as_str(), r[0].destination.as_str()),
        ("x/a", "x/b")
    );
    assert_eq!(r[0].verdict, Verdict::Allowed);
    assert_eq!(r[0].rule.as_deref(), Some("x/p ingress[0] (allow)"));
    assert_eq!((r[0].packets, r[0].bytes, r[0].connections), (6, 360, 1));
    t.feed(
        &ev(FlowKind::End, Outcome::Allowed, 1, 4000, 2, 9),
        t0 + SETTLE,
    );
    let r = t.take();
    assert_eq!(
        (r[0].packets, r[0].connections),
        (3, 0),
        "only the growth, once"
    );
}

#[test]
fn a_drop_wins_over_an_admission_at_the_other_end() {
    let c = ctx("n1");
    let mut t = Tracker::new(Limits::default());
    let t0 = Instant::now();
    // b → c admitted by b's egress check point, dropped by the other one.
    t.feed(&ev(FlowKind::New, Outcome::Allowed, 2, 5000, 3, 1), t0);
    t.feed(&ev(FlowKind::Verdict, Outcome::Denied, 2, 5000, 3, 1), t0);
    t.settle(&c, t0 + SETTLE);
    // The retried SYN: the same edge, not a new connection.
    t.feed(
        &ev(FlowKind::Verdict, Outcome::Denied, 2, 5000, 3, 1),
        t0 + SETTLE,
    );
    t.settle(&c, t0 + SETTLE * 2);
    let r = t.take();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].verdict, Verdict::Denied);
    assert_eq!((r[0].packets, r[0].connections), (2, 1));
}

#[test]
fn admitted_cross_node_connections_are_reported_by_the_destination_node() {
    let mut t = Tracker::new(Limits::default());
    let t0 = Instant::now();
    t.feed(&ev(FlowKind::New, Outcome::Allowed, 1, 4000, 3, 1), t0);
    t.settle(&ctx("n1"), t0 + SETTLE);
    assert!(t.take().is_empty(), "n1 leaves a → c to n2");
    t.feed(&ev(FlowKind::New, Outcome::Allowed, 1, 4001, 3, 1), t0);
    t.settle(&ctx("n2"), t0 + SETTLE);
    assert_eq!(t.take().len(), 1);
}

#[test]
fn full_buffers_drop_and_count() {
    let c = ctx("n1");
    let limits = Limits {
        pending: 2,
        open: 16,
        edges: 1,
    };
    let mut t = Tracker::new(limits);
    let t0 = Instant::now();
    for port in 0..3 {
        t.feed(
            &ev(FlowKind::New, Outcome::Allowed, 1, 4000 + port, 2, 1),
            t0,
        );
    }
    assert_eq!(t.dropped, 1);
    t.settle(&c, t0 + SETTLE);
    // A second edge (b → a, not isolated) finds the edge buffer full.
    t.feed(
        &ev(FlowKind::New, Outcome::Allowed, 2, 4000, 1, 1),
        t0 + SETTLE,
    );
    t.settle(&c, t0 + SETTLE * 2);
    assert_eq!(t.take().len(), 1);
    assert_eq!(t.dropped, 2);
}
