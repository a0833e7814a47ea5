//! Identities and the ipcache: which addresses the compiler may treat alike.

mod common;

use bulkhead_compile::program::ANY_IDENTITY;
use bulkhead_policy::ir::{NamespaceMatch, Peer};
use bulkhead_policy::selector::{LabelSelector, Operator, Requirement};
use bulkhead_policy::{Action, Direction, Protocol};
use common::*;

fn description(p: &bulkhead_compile::Program, addr: &str) -> String {
    p.identities[p.identity_of(ip(addr)) as usize]
        .description
        .clone()
}

#[test]
fn addresses_no_rule_tells_apart_share_one_identity() {
    let inv = inventory(vec![
        workload("x/a", "10.0.0.10", &[]),
        workload("x/b", "10.0.0.11", &[]),
        workload("x/c", "10.0.0.12", &[]),
    ]);
    // Only "is it x/a or x/b?" matters, so x/c, the host, the rest of the lab subnet and
    // the world are one identity, and x/a and x/b another.
    let a_or_b = Peer::Workloads {
        namespaces: NamespaceMatch::Named("x".into()),
        workloads: Some(LabelSelector {
            match_labels: Default::default(),
            match_expressions: vec![Requirement {
                key: "pod".into(),
                operator: Operator::In,
                values: ["a".to_string(), "b".to_string()].into(),
            }],
        }),
    };
    let ps = set(vec![policy(
        "x/web",
        "c",
        Some(vec![allow(Some(vec![a_or_b]), None)]),
        None,
    )]);
    let p = compile_all(&ps, &inv);
    assert_eq!(p.identities.len(), 3, "{:?}", p.identities);
    assert_eq!(description(&p, "10.0.0.10"), "x/a,x/b");
    assert_eq!(
        p.identity_of(ip("10.0.0.10")),
        p.identity_of(ip("10.0.0.11"))
    );
    assert_eq!(description(&p, "10.0.0.12"), "x/c,host,10.0.0.0/24,world");
    for other in ["10.0.0.1", "10.0.0.99", "8.8.8.8"] {
        assert_eq!(p.identity_of(ip(other)), p.identity_of(ip("10.0.0.12")));
    }
    let ab = &p.identities[p.identity_of(ip("10.0.0.10")) as usize];
    assert_eq!(ab.workloads, [id("x/a"), id("x/b")]);
    // Two peers, even in one rule, are two questions: a and b are told apart.
    let two = set(vec![policy(
        "x/web",
        "c",
        Some(vec![allow(Some(vec![pod("a"), pod("b")]), None)]),
        None,
    )]);
    let p2 = compile_all(&two, &inv);
    assert_eq!(p2.identities.len(), 4);
    assert_ne!(
        p2.identity_of(ip("10.0.0.10")),
        p2.identity_of(ip("10.0.0.11"))
    );
    // Identity 0 is the wildcard: never in the ipcache.
    assert!(p.ipcache.iter().all(|(_, i)| *i != ANY_IDENTITY));
}

#[test]
fn cidr_and_except_split_the_address_space_into_regions() {
    let inv = inventory(vec![workload("x/a", "10.0.0.10", &[])]);
    let ps = set(vec![policy(
        "x/p",
        "a",
        Some(vec![
            allow(Some(vec![cidr("10.1.0.0/16", &["10.1.128.0/17"])]), None),
            deny(Some(vec![cidr("10.1.192.0/18", &[])]), None),
        ]),
        None,
    )]);
    let p = compile_all(&ps, &inv);
    let nets: Vec<String> = p.ipcache.iter().map(|(n, _)| n.to_string()).collect();
    for n in [
        "10.1.0.0/16",
        "10.1.128.0/17",
        "10.1.192.0/18",
        "10.0.0.0/24",
        "0.0.0.0/0",
    ] {
        assert!(nets.contains(&n.to_string()), "{n} missing from {nets:?}");
    }
    // Three regions the rules tell apart: inside the CIDR, in the except but not the
    // deny, in the deny.
    let (inside, except, denied) = (
        p.identity_of(ip("10.1.1.1")),
        p.identity_of(ip("10.1.129.1")),
        p.identity_of(ip("10.1.200.1")),
    );
    assert!(inside != except && except != denied && inside != denied);
    assert_eq!(description(&p, "10.1.1.1"), "10.1.0.0/16");
    assert_eq!(description(&p, "10.1.200.1"), "10.1.192.0/18");
    // Outside every listed CIDR is one identity with the unmentioned workload.
    assert_eq!(
        p.identity_of(ip("10.1.129.1")),
        p.identity_of(ip("8.8.8.8"))
    );
    let at = |addr| lookup(&p, "x/a", Direction::Ingress, addr, TCP, 80).1;
    assert_eq!(
        at("10.1.1.1"),
        reason("x/p", Direction::Ingress, 0, Action::Allow)
    );
    assert_eq!(
        at("10.1.200.1"),
        reason("x/p", Direction::Ingress, 1, Action::Deny)
    );
    assert!(matches!(
        at("10.1.129.1"),
        bulkhead_policy::ir::Reason::DefaultDeny { .. }
    ));
}

#[test]
fn world_and_host_are_identities_of_their_own() {
    let inv = inventory(vec![
        workload("x/a", "10.0.0.10", &[]),
        workload("x/b", "10.0.0.11", &[]),
    ]);
    let ps = set(vec![policy(
        "x/p",
        "a",
        Some(vec![allow(Some(vec![world()]), None)]),
        Some(vec![allow(
            Some(vec![host()]),
            Some(vec![port(Protocol::Tcp, 22, 22)]),
        )]),
    )]);
    let p = compile_all(&ps, &inv);
    assert_eq!(description(&p, "8.8.8.8"), "world");
    assert_eq!(description(&p, "10.0.0.1"), "host");
    // The lab subnet is neither world nor host, and workloads are inside it.
    assert_eq!(description(&p, "10.0.0.50"), "x/a,x/b,10.0.0.0/24");
    assert_eq!(
        lookup(&p, "x/a", Direction::Ingress, "8.8.8.8", UDP, 53).1,
        reason("x/p", Direction::Ingress, 0, Action::Allow)
    );
    assert_eq!(
        lookup(&p, "x/a", Direction::Ingress, "10.0.0.11", UDP, 53).0,
        Action::Deny
    );
    assert_eq!(
        lookup(&p, "x/a", Direction::Egress, "10.0.0.1", TCP, 22).0,
        Action::Allow
    );
}

#[test]
fn a_prefix_wholly_covered_by_longer_ones_is_left_out() {
    let inv = inventory(vec![
        workload("x/a", "10.0.0.10", &[]),
        workload("x/b", "10.0.0.11", &[]),
    ]);
    let ps = set(vec![policy(
        "x/p",
        "a",
        Some(vec![allow(Some(vec![cidr("10.0.0.10/31", &[])]), None)]),
        None,
    )]);
    let p = compile_all(&ps, &inv);
    // Both addresses of the /31 are workloads: no address ever lands on the /31 itself.
    assert!(
        p.ipcache
            .iter()
            .all(|(n, _)| n.to_string() != "10.0.0.10/31")
    );
    assert_eq!(
        p.identity_of(ip("10.0.0.10")),
        p.identity_of(ip("10.0.0.11"))
    );
}

#[test]
fn named_port_resolution_tells_identities_apart() {
    let inv = inventory(vec![
        workload("x/a", "10.0.0.10", &[]),
        workload("x/b", "10.0.0.11", &[("http", 80, Protocol::Tcp)]),
        workload("x/c", "10.0.0.12", &[("http", 8080, Protocol::Tcp)]),
        workload("x/d", "10.0.0.13", &[("http", 8080, Protocol::Tcp)]),
    ]);
    // Egress to "http": b, c and d resolve it, c and d alike.
    let ps = set(vec![policy(
        "x/p",
        "a",
        None,
        Some(vec![allow(None, Some(vec![named(Protocol::Tcp, "http")]))]),
    )]);
    let p = compile_all(&ps, &inv);
    assert_eq!(description(&p, "10.0.0.11"), "x/b");
    assert_eq!(description(&p, "10.0.0.12"), "x/c,x/d");
    assert_eq!(description(&p, "10.0.0.10"), "x/a,host,10.0.0.0/24,world");
}

#[test]
fn compiling_is_deterministic_whatever_the_input_order() {
    let case = common::random::case(7);
    let a = compile_all(&case.policies, &case.inventory);
    let mut inv = case.inventory.clone();
    inv.workloads.reverse();
    let mut ps = case.policies.clone();
    ps.policies.reverse();
    let b = compile_all(&ps, &inv);
    assert_eq!(a, b);
    assert_eq!(
        bulkhead_compile::dump::dump(&a),
        bulkhead_compile::dump::dump(&b)
    );
}
