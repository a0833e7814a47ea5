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

#[test]
fn first_allowing_rule_in_name_then_index_order() {
    let spec = "  podSelector: {}\n  ingress:\n    - ports: [{port: 81}]\n    - {}\n";
    let p = set(&(k8s("b", "x", spec)
        + &k8s(
            "a",
            "x",
            "  podSelector: {}\n  ingress: [{ports: [{port: 80}]}]\n",
        )));
    assert_eq!(
        eval(&p, YA, XA, TCP, 80).ingress,
        rule(name(Some("x"), "a"), Direction::Ingress, 0, Action::Allow)
    );
    assert_eq!(
        eval(&p, YA, XA, TCP, 81).ingress,
        rule(name(Some("x"), "b"), Direction::Ingress, 0, Action::Allow)
    );
    assert_eq!(
        eval(&p, YA, XA, TCP, 82).ingress,
        rule(name(Some("x"), "b"), Direction::Ingress, 1, Action::Allow)
    );
    let v = eval(&p, YA, XA, TCP, 80);
    assert_eq!(
        v.deciding(),
        &v.ingress,
        "a rule is more specific than `not isolated`"
    );
}

#[test]
fn deny_beats_allow_within_and_across_policies() {
    let same = native(
        "p",
        Some("x"),
        "  selector: {}\n  ingress:\n    - action: allow\n    - action: deny\n      from: [{selector: {matchLabels: {pod: b}}}]\n",
    );
    let p = set(&same);
    assert_eq!(
        eval(&p, XB, XA, TCP, 80).ingress,
        rule(name(Some("x"), "p"), Direction::Ingress, 1, Action::Deny)
    );
    assert!(allowed(&p, YA, XA, TCP, 80));
    // A deny in a policy named later still beats an allow in one named earlier, and the
    // deny of a native policy beats the allow of a Kubernetes one.
    let across = k8s("a-allow", "x", "  podSelector: {}\n  ingress: [{}]\n")
        + &native(
            "z-deny",
            Some("x"),
            "  selector: {matchLabels: {pod: a}}\n  ingress:\n    - action: deny\n      ports: [81]\n    - action: allow\n",
        );
    let p = set(&across);
    let v = eval(&p, YA, XA, TCP, 81);
    assert!(!v.allowed);
    assert_eq!(
        v.ingress,
        rule(
            name(Some("x"), "z-deny"),
            Direction::Ingress,
            0,
            Action::Deny
        )
    );
    assert_eq!(
        eval(&p, YA, XA, TCP, 80).ingress,
        rule(
            name(Some("x"), "a-allow"),
            Direction::Ingress,
            0,
            Action::Allow
        )
    );
    assert!(allowed(&p, YA, XB, TCP, 81), "z-deny does not select x/b");
}

#[test]
fn deny_only_direction_is_still_default_deny() {
    let p = set(&native(
        "d",
        Some("x"),
        "  selector: {}\n  egress:\n    - action: deny\n      to: [{entity: world}]\n",
    ));
    assert!(matches!(
        eval(&p, XA, OUTSIDE, TCP, 443).egress,
        Reason::Rule {
            action: Action::Deny,
            ..
        }
    ));
    assert!(matches!(
        eval(&p, XA, XB, TCP, 80).egress,
        Reason::DefaultDeny { .. }
    ));
}

#[test]
fn named_ports_resolve_on_the_destination() {
    // Ingress: `http` is 80 on x/a (the subject).
    let p = set(&k8s(
        "in",
        "x",
        "  podSelector: {}\n  ingress: [{ports: [{port: http}]}]\n",
    ));
    assert!(allowed(&p, YA, XA, TCP, 80));
    assert!(!allowed(&p, YA, XA, TCP, 8080));
    assert!(!allowed(&p, YA, XA, UDP, 80), "the name is per protocol");
    // Egress: `http` is 80 on x/b but 8080 on y/a (the peer), nothing outside.
    let p = set(&k8s(
        "out",
        "x",
        "  podSelector: {}\n  policyTypes: [Egress]\n  egress: [{ports: [{port: http}]}]\n",
    ));
    assert!(allowed(&p, XA, XB, TCP, 80));
    assert!(!allowed(&p, XA, YA, TCP, 80));
    assert!(allowed(&p, XA, YA, TCP, 8080));
    assert!(!allowed(&p, XA, OUTSIDE, TCP, 80));
    assert!(!allowed(&p, XA, OUTSIDE, TCP, 8080));
    // Native named ports too, with a protocol.
    let p = set(&native(
        "n",
        Some("x"),
        "  selector: {}\n  egress:\n    - action: allow\n      ports: [{port: dns, protocol: UDP}]\n",
    ));
    assert!(allowed(&p, XA, YA, UDP, 53));
    assert!(!allowed(&p, XA, YA, TCP, 53));
}

#[test]
fn end_port_is_inclusive() {
    let p = set(&k8s(
        "r",
        "x",
        "  podSelector: {}\n  ingress: [{ports: [{port: 80, endPort: 81, protocol: UDP}]}]\n",
    ));
    assert_eq!(
        [79, 80, 81, 82].map(|port| allowed(&p, YA, XA, UDP, port)),
        [false, true, true, false]
    );
    assert!(!allowed(&p, YA, XA, TCP, 80), "protocols are kept apart");
    let p = set(&native(
        "r",
        Some("x"),
        "  selector: {}\n  ingress: [{action: allow, ports: [8000-8080]}]\n",
    ));
    assert_eq!(
        [7999, 8000, 8080, 8081].map(|port| allowed(&p, YA, XA, TCP, port)),
        [false, true, true, false]
    );
}

#[test]
fn ip_blocks_with_except_match_workloads_too() {
    let spec = "  podSelector: {}\n  ingress:\n    - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.2.0/24]}}]\n";
    let p = set(&k8s("cidr", "x", spec));
    assert!(
        allowed(&p, XB, XA, TCP, 80),
        "x/b's address is in the block"
    );
    assert!(!allowed(&p, YA, XA, TCP, 80), "y/a's address is excepted");
    assert!(allowed(&p, HOST, XA, TCP, 80));
    assert!(!allowed(&p, OUTSIDE, XA, TCP, 80));
    let spec = "  selector: {}\n  egress:\n    - action: allow\n      to: [{cidr: 0.0.0.0/0, except: [10.0.1.11/32]}]\n";
    let p = set(&native("c", Some("x"), spec));
    assert!(allowed(&p, XA, OUTSIDE, TCP, 1));
    assert!(!allowed(&p, XA, XB, TCP, 80));
}

#[test]
fn empty_and_absent_peers() {
    // `from: []` (and a rule without `from`) admit everyone, outside addresses included.
    for spec in [
        "  ingress: [{from: []}]\n",
        "  ingress: [{}]\n",
        "  ingress: [{ports: []}]\n",
    ] {
        let p = set(&k8s("all", "x", &format!("  podSelector: {{}}\n{spec}")));
        assert!(allowed(&p, OUTSIDE, XA, TCP, 1), "{spec}");
        assert!(allowed(&p, YA, XA, ICMP, 0), "{spec}");
    }
    // `podSelector: {}` alone: every pod of the policy's namespace, nothing else.
    let p = set(&k8s(
        "ns",
        "x",
        "  podSelector: {}\n  ingress: [{from: [{podSelector: {}}]}]\n",
    ));
    assert!(allowed(&p, XB, XA, TCP, 80));
    assert!(!allowed(&p, YA, XA, TCP, 80));
    assert!(!allowed(&p, OUTSIDE, XA, TCP, 80));
    // `namespaceSelector: {}`: every pod of every namespace, but no outside address.
    let p = set(&k8s(
        "pods",
        "x",
        "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {}}]}]\n",
    ));
    assert!(allowed(&p, YA, XA, TCP, 80));
    assert!(!allowed(&p, OUTSIDE, XA, TCP, 80));
    assert!(!allowed(&p, HOST, XA, TCP, 80));
    // An absent spec (and so an absent podSelector) selects every pod of the namespace.
    let p = set(&format!("{K8S}metadata: {{name: none, namespace: x}}\n"));
    assert!(!allowed(&p, YA, XB, TCP, 80));
}

#[test]
fn pod_and_namespace_selectors_and_within_a_peer_or_across() {
    let and = "  ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}, podSelector: {matchLabels: {pod: a}}}]}]\n";
    let or = "  ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}, {podSelector: {matchLabels: {pod: a}}}]}]\n";
    let p = set(&k8s(
        "and",
        "x",
        &format!("  podSelector: {{matchLabels: {{pod: b}}}}\n{and}"),
    ));
    assert!(allowed(&p, YA, XB, TCP, 80));
    assert!(
        !allowed(&p, XA, XB, TCP, 80),
        "x/a is pod=a but not in a blue namespace"
    );
    let p = set(&k8s(
        "or",
        "x",
        &format!("  podSelector: {{matchLabels: {{pod: b}}}}\n{or}"),
    ));
    assert!(allowed(&p, YA, XB, TCP, 80));
    assert!(allowed(&p, XA, XB, TCP, 80));
}

#[test]
fn match_expressions() {
    let spec = |op: &str, values: &str| {
        k8s(
            "e",
            "x",
            &format!(
                "  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress: [{{from: [{{namespaceSelector: {{}}, podSelector: {{matchExpressions: [{{key: pod, operator: {op}{values}}}]}}}}]}}]\n"
            ),
        )
    };
    let p = set(&spec("In", ", values: [b]"));
    assert!(allowed(&p, XB, XA, TCP, 80) && !allowed(&p, YA, XA, TCP, 80));
    let p = set(&spec("NotIn", ", values: [b]"));
    assert!(!allowed(&p, XB, XA, TCP, 80) && allowed(&p, YA, XA, TCP, 80));
    let p = set(&spec("Exists", ""));
    assert!(allowed(&p, XB, XA, TCP, 80) && allowed(&p, YA, XA, TCP, 80));
    let p = set(&spec("DoesNotExist", ""));
    assert!(!allowed(&p, XB, XA, TCP, 80) && !allowed(&p, YA, XA, TCP, 80));
}

#[test]
fn port_rules_match_only_port_protocols() {
    let p = set(&native(
        "p",
        Some("x"),
        "  selector: {}\n  ingress: [{action: allow, ports: [{protocol: UDP}]}]\n",
    ));
    assert!(allowed(&p, YA, XA, UDP, 9));
    assert!(!allowed(&p, YA, XA, TCP, 9));
    assert!(!allowed(&p, YA, XA, ICMP, 0));
    let p = set(&native(
        "p",
        Some("x"),
        "  selector: {}\n  ingress: [{action: allow}]\n",
    ));
    assert!(
        allowed(&p, YA, XA, ICMP, 0),
        "a rule without ports matches every protocol"
    );
    assert!(allowed(&p, YA, XA, 47, 0));
}

#[test]
fn world_and_host_entities() {
    let spec = "  selector: {}\n  egress:\n    - action: allow\n      to: [{entity: world}]\n  ingress:\n    - action: allow\n      from: [{entity: host}]\n";
    let p = set(&native("e", Some("x"), spec));
    assert!(allowed(&p, XA, OUTSIDE, TCP, 443));
    assert!(
        !allowed(&p, XA, UNUSED, TCP, 443),
        "inside the cluster subnet is not the world"
    );
    assert!(!allowed(&p, XA, HOST, TCP, 22), "the host is not the world");
    assert!(!allowed(&p, XA, YA, TCP, 80));
    assert!(allowed(&p, HOST, XA, TCP, 80));
    assert!(!allowed(&p, OUTSIDE, XA, TCP, 80));
    assert!(!allowed(&p, YA, XA, TCP, 80));
}

#[test]
fn cluster_wide_native_policies_select_namespaces_by_label() {
    let spec = "  selector: {}\n  namespaceSelector: {matchLabels: {team: blue}}\n  ingress:\n    - action: allow\n      from: [{selector: {matchLabels: {pod: b}}}]\n";
    let p = set(&native("blue", None, spec));
    assert!(
        allowed(&p, XB, YA, TCP, 80),
        "a bare selector looks in every namespace"
    );
    assert!(!allowed(&p, XA, YA, TCP, 80));
    assert!(allowed(&p, YA, XA, TCP, 80), "namespace x is not selected");
    // A namespaced native policy's bare selector looks only in its namespace.
    let spec = "  selector: {}\n  ingress:\n    - action: allow\n      from: [{selector: {matchLabels: {pod: a}}}]\n";
    let p = set(&native("local", Some("x"), spec));
    assert!(allowed(&p, XA, XB, TCP, 80));
    assert!(!allowed(&p, YA, XB, TCP, 80));
}

#[test]
fn both_sides_must_allow() {
    let p = set(&(k8s(
        "out",
        "x",
        "  podSelector: {}\n  policyTypes: [Egress]\n  egress: [{ports: [{port: 80}]}]\n",
    ) + &k8s(
        "in",
        "y",
        "  podSelector: {}\n  ingress: [{ports: [{port: 8080}]}]\n",
    )));
    let v = eval(&p, XA, YA, TCP, 80);
    assert!(!v.allowed);
    assert!(v.egress.allows() && !v.ingress.allows());
    assert_eq!(v.deciding(), &v.ingress);
    let v = eval(&p, XA, YA, TCP, 8080);
    assert!(!v.allowed);
    assert_eq!(v.deciding(), &v.egress, "egress decides first");
}
