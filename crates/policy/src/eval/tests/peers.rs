//! Peers and ports: CIDRs, selectors, empty vs absent, protocols, entities, scopes.

use super::*;

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
