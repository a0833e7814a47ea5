//! Per-endpoint port tables: ports, protocols, and which rule decides.

mod common;

use bulkhead_compile::program::PortEntry;
use bulkhead_policy::ir::Reason;
use bulkhead_policy::{Action, Direction, Protocol};
use common::*;

fn entry(protocol: u8, first: u16, last: u16, action: Action, rule: u32) -> PortEntry {
    PortEntry {
        protocol,
        first,
        last,
        action,
        rule,
    }
}

fn rule_id(p: &bulkhead_compile::Program, r: &Reason) -> u32 {
    p.rules.iter().position(|x| x == r).unwrap() as u32
}

#[test]
fn ingress_named_ports_resolve_on_each_endpoint() {
    let inv = inventory(vec![
        workload("x/a", "10.0.0.10", &[("http", 80, Protocol::Tcp)]),
        workload("x/b", "10.0.0.11", &[("http", 8080, Protocol::Tcp)]),
        workload("x/c", "10.0.0.12", &[("http", 53, Protocol::Udp)]),
    ]);
    let ps = set(vec![policy(
        "x/web",
        "",
        Some(vec![allow(None, Some(vec![named(Protocol::Tcp, "http")]))]),
        None,
    )]);
    let p = compile_all(&ps, &inv);
    let r = rule_id(&p, &reason("x/web", Direction::Ingress, 0, Action::Allow));
    let any = |w: &str| p.endpoint(&id(w)).unwrap().ingress.any.entries.clone();
    assert_eq!(any("x/a"), [entry(TCP, 80, 80, Action::Allow, r)]);
    assert_eq!(any("x/b"), [entry(TCP, 8080, 8080, Action::Allow, r)]);
    // x/c names "http" only for UDP: the TCP rule matches nothing there.
    assert!(any("x/c").is_empty());
    assert!(p.endpoint(&id("x/c")).unwrap().ingress.isolated);
}

#[test]
fn egress_named_ports_resolve_on_each_peer_identity() {
    let inv = inventory(vec![
        workload("x/a", "10.0.0.10", &[("http", 9999, Protocol::Tcp)]),
        workload("x/b", "10.0.0.11", &[("http", 80, Protocol::Tcp)]),
        workload("x/c", "10.0.0.12", &[("http", 8080, Protocol::Tcp)]),
    ]);
    let ps = set(vec![policy(
        "x/out",
        "a",
        None,
        Some(vec![allow(None, Some(vec![named(Protocol::Tcp, "http")]))]),
    )]);
    let p = compile_all(&ps, &inv);
    let e = &p.endpoint(&id("x/a")).unwrap().egress;
    // Even with every peer allowed, the port depends on the peer: nothing goes in `any`.
    assert!(e.any.entries.is_empty());
    let r = rule_id(&p, &reason("x/out", Direction::Egress, 0, Action::Allow));
    let at = |addr: &str| e.peers[&p.identity_of(ip(addr))].entries.clone();
    assert_eq!(at("10.0.0.11"), [entry(TCP, 80, 80, Action::Allow, r)]);
    assert_eq!(at("10.0.0.12"), [entry(TCP, 8080, 8080, Action::Allow, r)]);
    assert!(!e.peers.contains_key(&p.identity_of(ip("8.8.8.8"))));
    assert_eq!(
        lookup(&p, "x/a", Direction::Egress, "10.0.0.11", TCP, 8080).0,
        Action::Deny
    );
    assert_eq!(
        lookup(&p, "x/a", Direction::Egress, "10.0.0.12", TCP, 8080).0,
        Action::Allow
    );
}

#[test]
fn end_port_ranges_are_inclusive_and_merge_with_their_neighbours() {
    let inv = inventory(vec![workload("x/a", "10.0.0.10", &[])]);
    let ps = set(vec![policy(
        "x/p",
        "a",
        Some(vec![
            allow(
                None,
                Some(vec![
                    port(Protocol::Tcp, 1000, 2000),
                    port(Protocol::Tcp, 2001, 2005),
                ]),
            ),
            allow(None, Some(vec![port(Protocol::Tcp, 1500, 3000)])),
        ]),
        None,
    )]);
    let p = compile_all(&ps, &inv);
    let r0 = rule_id(&p, &reason("x/p", Direction::Ingress, 0, Action::Allow));
    let r1 = rule_id(&p, &reason("x/p", Direction::Ingress, 1, Action::Allow));
    assert_eq!(
        p.endpoint(&id("x/a")).unwrap().ingress.any.entries,
        [
            entry(TCP, 1000, 2005, Action::Allow, r0),
            entry(TCP, 2006, 3000, Action::Allow, r1),
        ]
    );
    let at = |port| lookup(&p, "x/a", Direction::Ingress, "10.0.0.99", TCP, port).0;
    assert_eq!(
        [at(999), at(1000), at(2005), at(3000), at(3001)],
        [
            Action::Deny,
            Action::Allow,
            Action::Allow,
            Action::Allow,
            Action::Deny
        ]
    );
}

#[test]
fn a_rule_without_ports_covers_every_protocol_through_protocol_zero() {
    let inv = inventory(vec![workload("x/a", "10.0.0.10", &[])]);
    let ps = set(vec![policy(
        "x/p",
        "a",
        Some(vec![allow(Some(vec![cidr("10.0.0.0/24", &[])]), None)]),
        Some(vec![allow(None, Some(vec![port(Protocol::Udp, 53, 53)]))]),
    )]);
    let p = compile_all(&ps, &inv);
    let e = p.endpoint(&id("x/a")).unwrap();
    let peer = &e.ingress.peers[&p.identity_of(ip("10.0.0.5"))].entries;
    let protocols: Vec<(u8, u16, u16)> =
        peer.iter().map(|e| (e.protocol, e.first, e.last)).collect();
    assert_eq!(
        protocols,
        [
            (0, 0, 0),
            (TCP, 0, 65535),
            (UDP, 0, 65535),
            (SCTP, 0, 65535)
        ]
    );
    // ICMP is looked up as protocol 0, port 0.
    assert_eq!(
        lookup(&p, "x/a", Direction::Ingress, "10.0.0.5", 0, 0).0,
        Action::Allow
    );
    assert_eq!(
        lookup(&p, "x/a", Direction::Ingress, "8.8.8.8", 0, 0).0,
        Action::Deny
    );
    // A rule with ports never matches other protocols.
    assert!(e.egress.any.entries.iter().all(|x| x.protocol != 0));
    assert_eq!(
        lookup(&p, "x/a", Direction::Egress, "8.8.8.8", 0, 0).0,
        Action::Deny
    );
}

#[test]
fn a_deny_in_any_policy_beats_every_allow_and_the_first_deny_is_reported() {
    let inv = inventory(vec![
        workload("x/a", "10.0.0.10", &[]),
        workload("x/b", "10.0.0.11", &[]),
    ]);
    let ps = set(vec![
        policy("x/a-allow", "a", Some(vec![allow(None, None)]), None),
        policy(
            "x/m-deny",
            "a",
            Some(vec![deny(
                Some(vec![pod("b")]),
                Some(vec![port(Protocol::Tcp, 80, 90)]),
            )]),
            None,
        ),
        policy(
            "x/z-deny",
            "a",
            Some(vec![deny(
                Some(vec![pod("b")]),
                Some(vec![port(Protocol::Tcp, 85, 100)]),
            )]),
            None,
        ),
    ]);
    let p = compile_all(&ps, &inv);
    let at = |port| lookup(&p, "x/a", Direction::Ingress, "10.0.0.11", TCP, port);
    let allow0 = reason("x/a-allow", Direction::Ingress, 0, Action::Allow);
    let m = reason("x/m-deny", Direction::Ingress, 0, Action::Deny);
    let z = reason("x/z-deny", Direction::Ingress, 0, Action::Deny);
    assert_eq!(at(79), (Action::Allow, allow0.clone()));
    assert_eq!(at(85), (Action::Deny, m.clone()));
    assert_eq!(at(90), (Action::Deny, m));
    assert_eq!(at(91), (Action::Deny, z.clone()));
    assert_eq!(at(100), (Action::Deny, z));
    assert_eq!(at(101), (Action::Allow, allow0.clone()));
    // Others still get the allow on those ports.
    assert_eq!(
        lookup(&p, "x/a", Direction::Ingress, "8.8.8.8", TCP, 85),
        (Action::Allow, allow0)
    );
}

#[test]
fn isolation_and_the_default_deny_name_the_isolating_policies() {
    let inv = inventory(vec![
        workload("x/a", "10.0.0.10", &[]),
        workload("x/b", "10.0.0.11", &[]),
    ]);
    let ps = set(vec![
        policy("x/q", "a", Some(vec![]), None),
        policy("p", "", Some(vec![allow(Some(vec![pod("b")]), None)]), None),
    ]);
    let p = compile_all(&ps, &inv);
    let a = p.endpoint(&id("x/a")).unwrap();
    assert!(a.ingress.isolated && !a.egress.isolated);
    let names = |list: &[&str]| {
        list.iter()
            .map(|n| match n.split_once('/') {
                Some((ns, n)) => bulkhead_policy::ir::PolicyName {
                    namespace: Some(ns.into()),
                    name: n.into(),
                },
                None => bulkhead_policy::ir::PolicyName {
                    namespace: None,
                    name: n.to_string(),
                },
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        p.rule(a.ingress.default_rule),
        Some(&Reason::DefaultDeny {
            direction: Direction::Ingress,
            policies: names(&["p", "x/q"]),
        })
    );
    let b = p.endpoint(&id("x/b")).unwrap();
    assert_eq!(
        p.rule(b.ingress.default_rule),
        Some(&Reason::DefaultDeny {
            direction: Direction::Ingress,
            policies: names(&["p"]),
        })
    );
    assert_eq!(p.rules[0], Reason::NotIsolated);
    let c = p.check(ip("10.0.0.10"), ip("10.0.0.11"), TCP, 80);
    let (check, _) = c.egress.unwrap();
    assert!(not_isolated(check.action, check.rule));
}
