//! Rule order, deny over allow, named ports and port ranges.

use super::*;

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
