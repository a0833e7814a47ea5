//! Endpoints: which workloads a node enforces for, with their modes and interfaces.

mod common;

use bulkhead_compile::{Input, Outcome, compile};
use bulkhead_policy::{Mode, WorkloadId};
use common::*;
use std::collections::BTreeMap;

fn deny_all_ingress() -> bulkhead_policy::PolicySet {
    set(vec![policy("deny", "", Some(vec![]), None)])
}

#[test]
fn monitor_and_learn_modes_are_carried_and_change_the_outcome() {
    let inv = inventory(vec![
        workload("x/a", "10.0.0.10", &[]),
        workload("x/b", "10.0.0.11", &[]),
        workload("x/c", "10.0.0.12", &[]),
    ]);
    let modes: BTreeMap<WorkloadId, Mode> =
        [(id("x/a"), Mode::Monitor), (id("x/b"), Mode::Learn)].into();
    let p = compile_with(&deny_all_ingress(), &inv, &modes);
    let mode = |w: &str| p.endpoint(&id(w)).unwrap().mode;
    assert_eq!(
        [mode("x/a"), mode("x/b"), mode("x/c")],
        [Mode::Monitor, Mode::Learn, Mode::Enforce]
    );
    let outcome = |src: &str, dst: &str| p.check(ip(src), ip(dst), TCP, 80).outcome();
    assert_eq!(outcome("10.0.0.12", "10.0.0.10"), Outcome::WouldDeny);
    assert_eq!(outcome("10.0.0.12", "10.0.0.11"), Outcome::Allowed);
    assert_eq!(outcome("10.0.0.10", "10.0.0.12"), Outcome::Denied);
    // A workload always reaches itself.
    assert_eq!(outcome("10.0.0.12", "10.0.0.12"), Outcome::Allowed);
}

#[test]
fn a_node_compiles_only_its_own_endpoints_but_knows_every_identity() {
    let mut a = workload("x/a", "10.0.0.10", &[]);
    let mut b = workload("x/b", "10.0.0.11", &[]);
    let mut c = workload("x/c", "10.0.0.12", &[]);
    a.node = Some("n1".into());
    b.node = Some("n2".into());
    c.node = Some("n1".into());
    let inv = inventory(vec![b, c, a]);
    let ps = set(vec![policy(
        "x/p",
        "",
        Some(vec![allow(Some(vec![pod("b")]), None)]),
        None,
    )]);
    let (modes, interfaces) = (BTreeMap::new(), BTreeMap::new());
    let on = |node| {
        compile(&Input {
            policies: &ps,
            inventory: &inv,
            node: Some(node),
            modes: &modes,
            interfaces: &interfaces,
        })
        .unwrap()
    };
    let n1 = on("n1");
    invariants::assert_well_formed(&n1);
    let ids: Vec<String> = n1
        .endpoints
        .iter()
        .map(|e| e.workload.to_string())
        .collect();
    assert_eq!(ids, ["x/a", "x/c"]);
    assert_eq!(n1.endpoints[1].index, 1);
    // x/b lives elsewhere, yet it is a peer here: it keeps its own identity.
    assert_ne!(
        n1.identity_of(ip("10.0.0.11")),
        n1.identity_of(ip("10.0.0.12"))
    );
    let d = n1.check(ip("10.0.0.11"), ip("10.0.0.10"), TCP, 80);
    assert!(
        d.egress.is_none(),
        "the source is not enforced on this node"
    );
    assert_eq!(d.outcome(), Outcome::Allowed);
    assert_eq!(
        n1.check(ip("10.0.0.12"), ip("10.0.0.10"), TCP, 80)
            .outcome(),
        Outcome::Denied
    );
    let n2 = on("n2");
    assert_eq!(n2.endpoints.len(), 1);
    assert_eq!(n2.endpoints[0].workload, id("x/b"));
    assert!(on("n3").endpoints.is_empty());
}

#[test]
fn interfaces_identities_and_addresses_are_filled_in() {
    let mut a = workload("x/a", "10.0.0.10", &[]);
    a.ips.push(ip("10.0.0.20"));
    let inv = inventory(vec![a, workload("x/b", "10.0.0.11", &[])]);
    let interfaces: BTreeMap<WorkloadId, String> = [(id("x/a"), "v1234".to_string())].into();
    let modes = BTreeMap::new();
    let ps = deny_all_ingress();
    let p = compile(&Input {
        policies: &ps,
        inventory: &inv,
        node: None,
        modes: &modes,
        interfaces: &interfaces,
    })
    .unwrap();
    invariants::assert_well_formed(&p);
    let a = p.endpoint(&id("x/a")).unwrap();
    assert_eq!(a.interface.as_deref(), Some("v1234"));
    assert_eq!(a.ips, [ip("10.0.0.10"), ip("10.0.0.20")]);
    assert_eq!(a.identity, p.identity_of(ip("10.0.0.10")));
    assert_eq!(p.endpoint(&id("x/b")).unwrap().interface, None);
    // Traffic between two addresses of one workload is self traffic.
    let d = p.check(ip("10.0.0.20"), ip("10.0.0.10"), TCP, 80);
    assert!(d.egress.is_none() && d.ingress.is_none());
}

#[test]
fn no_policies_means_nothing_is_isolated() {
    let inv = inventory(vec![workload("x/a", "10.0.0.10", &[])]);
    let p = compile_all(&set(vec![]), &inv);
    assert_eq!(p.rules, [bulkhead_policy::ir::Reason::NotIsolated]);
    let a = p.endpoint(&id("x/a")).unwrap();
    assert!(!a.ingress.isolated && !a.egress.isolated);
    assert_eq!(
        p.identities.len(),
        2,
        "one identity for everything, plus the wildcard"
    );
    assert_eq!(p.entry_count(), 0);
}
