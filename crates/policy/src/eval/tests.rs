//! Each semantic of the evaluator on a three-workload inventory:
//! x/a 10.0.1.10 and x/b 10.0.1.11 (namespace x, `team: red`), y/a 10.0.2.10 (namespace y).
//! x/* name 80/TCP `http`; y/a names 8080/TCP `http`; all listen on 53/UDP `dns`.

use super::*;
use crate::ir::{PolicyName, Reason};
use crate::model::{Labels, NamedPort, Protocol, Workload, WorkloadId};
use crate::parse_documents;

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const XA: &str = "10.0.1.10";
const XB: &str = "10.0.1.11";
const YA: &str = "10.0.2.10";
const HOST: &str = "10.0.0.1";
const OUTSIDE: &str = "192.0.2.7";
const UNUSED: &str = "10.0.9.9";

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn workload(ns: &str, name: &str, ip: &str, http: u16) -> Workload {
    let team = if ns == "x" { "red" } else { "blue" };
    Workload {
        id: WorkloadId::new(ns, name),
        labels: labels(&[("pod", name)]),
        namespace_labels: labels(&[("kubernetes.io/metadata.name", ns), ("team", team)]),
        ips: vec![ip.parse().unwrap()],
        ports: vec![
            NamedPort {
                name: Some("http".into()),
                port: http,
                protocol: Protocol::Tcp,
            },
            NamedPort {
                name: None,
                port: 81,
                protocol: Protocol::Tcp,
            },
            NamedPort {
                name: Some("dns".into()),
                port: 53,
                protocol: Protocol::Udp,
            },
        ],
        node: None,
    }
}

fn inventory() -> Inventory {
    Inventory {
        workloads: vec![
            workload("x", "a", XA, 80),
            workload("x", "b", XB, 80),
            workload("y", "a", YA, 8080),
        ],
        cluster_cidrs: vec!["10.0.0.0/16".parse().unwrap()],
        host_ips: vec![HOST.parse().unwrap()],
    }
}

fn set(yaml: &str) -> PolicySet {
    PolicySet::new(parse_documents("t.yaml", yaml).unwrap()).unwrap()
}

fn eval(policies: &PolicySet, src: &str, dst: &str, protocol: u8, port: u16) -> Verdict {
    let flow = Flow {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        protocol,
        port,
    };
    evaluate(policies, &inventory(), &flow)
}

fn allowed(policies: &PolicySet, src: &str, dst: &str, protocol: u8, port: u16) -> bool {
    eval(policies, src, dst, protocol, port).allowed
}

fn name(ns: Option<&str>, n: &str) -> PolicyName {
    PolicyName {
        namespace: ns.map(str::to_string),
        name: n.to_string(),
    }
}

fn rule(policy: PolicyName, direction: Direction, index: usize, action: Action) -> Reason {
    Reason::Rule {
        policy,
        direction,
        index,
        action,
    }
}

const K8S: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n";
const NATIVE: &str = "apiVersion: bulkhead.dev/v1\nkind: Policy\n";

fn k8s(name: &str, ns: &str, spec: &str) -> String {
    format!("---\n{K8S}metadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}")
}

fn native(name: &str, ns: Option<&str>, spec: &str) -> String {
    let ns = ns.map(|n| format!(", namespace: {n}")).unwrap_or_default();
    format!("---\n{NATIVE}metadata: {{name: {name}{ns}}}\nspec:\n{spec}")
}

#[test]
fn nothing_isolated_allows_everything() {
    let v = eval(&PolicySet::default(), XA, XB, TCP, 80);
    assert!(v.allowed);
    assert_eq!(
        (v.egress, v.ingress),
        (Reason::NotIsolated, Reason::NotIsolated)
    );
}

#[test]
fn default_deny_ingress_names_the_isolating_policies() {
    let p = set(&(k8s("deny", "x", "  podSelector: {}\n")
        + &k8s("also", "x", "  podSelector: {matchLabels: {pod: b}}\n")));
    let v = eval(&p, YA, XB, TCP, 80);
    assert!(!v.allowed);
    assert_eq!(v.egress, Reason::NotIsolated);
    let policies = vec![name(Some("x"), "also"), name(Some("x"), "deny")];
    assert_eq!(
        v.ingress,
        Reason::DefaultDeny {
            direction: Direction::Ingress,
            policies
        }
    );
    assert_eq!(v.deciding(), &v.ingress);
    // Egress is not isolated by an ingress-only policy, and y is not selected at all.
    assert!(allowed(&p, XA, YA, TCP, 80));
}

#[test]
fn default_deny_egress_needs_policy_types() {
    let p = set(&k8s(
        "deny-out",
        "x",
        "  podSelector: {}\n  policyTypes: [Egress]\n",
    ));
    let v = eval(&p, XA, YA, UDP, 53);
    assert!(!v.allowed);
    assert!(matches!(
        v.egress,
        Reason::DefaultDeny {
            direction: Direction::Egress,
            ..
        }
    ));
    assert_eq!(v.ingress, Reason::NotIsolated);
    // Ingress is not isolated: only `Egress` is listed.
    assert!(allowed(&p, YA, XA, TCP, 80));
    // An empty `egress: []` without policyTypes defaults to Ingress only.
    let p = set(&k8s(
        "p",
        "x",
        "  podSelector: {}\n  ingress: [{}]\n  egress: []\n",
    ));
    assert!(allowed(&p, XA, YA, TCP, 80));
}

#[test]
fn self_traffic_is_always_allowed() {
    let p = set(&k8s(
        "deny",
        "x",
        "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n",
    ));
    let v = eval(&p, XA, XA, TCP, 80);
    assert!(v.allowed);
    assert_eq!(
        (&v.egress, &v.ingress),
        (&Reason::SelfTraffic, &Reason::SelfTraffic)
    );
    assert!(!allowed(&p, XA, XB, TCP, 80));
}

#[test]
fn outside_host_and_unused_addresses_are_not_workloads() {
    let p = set(&k8s(
        "deny",
        "x",
        "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n",
    ));
    for other in [OUTSIDE, HOST, UNUSED] {
        let v = eval(&p, other, XA, TCP, 80);
        assert_eq!(v.egress, Reason::NotAWorkload);
        assert!(
            !v.allowed,
            "{other} → x/a must hit x/a's default-deny ingress"
        );
        let v = eval(&p, XA, other, TCP, 80);
        assert_eq!(v.ingress, Reason::NotAWorkload);
        assert!(!v.allowed);
    }
    let v = eval(&p, OUTSIDE, HOST, TCP, 80);
    assert!(v.allowed);
    assert_eq!(v.deciding(), &Reason::NotAWorkload);
}

mod peers;
mod rules;
