//! Native documents: lowering and the errors that replace NetworkPolicy's ambiguities.

use super::*;

#[test]
fn native_policies_lower_every_field() {
    let text = "apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata: {name: n}\nspec:\n  selector: {matchLabels: {app: api}}\n  namespaceSelector: {matchLabels: {env: prod}}\n  egress:\n    - action: deny\n      to: [{entity: world}, {entity: host}, {cidr: 10.0.0.0/8, except: [10.9.0.0/16]}]\n      ports: [80, 8000-8080, metrics, '443', {port: 53, protocol: UDP}, {protocol: SCTP}]\n    - action: allow\n      to: [{selector: {}}, {namespaceSelector: {matchLabels: {env: dev}}}]\n";
    let p = &parse_documents("p.yaml", text).unwrap()[0];
    assert_eq!(
        (p.kind, p.name.to_string(), p.ingress.is_none()),
        (PolicyKind::Native, "n".to_string(), true)
    );
    assert!(
        matches!(&p.subject.namespaces, NamespaceMatch::Selector(s) if s.match_labels["env"] == "prod")
    );
    let rules = p.egress.as_ref().unwrap();
    let peers = rules[0].peers.clone().unwrap();
    assert_eq!(
        peers[..2],
        [Peer::Entity(Entity::World), Peer::Entity(Entity::Host)]
    );
    let ports: Vec<PortMatch> = rules[0]
        .ports
        .clone()
        .unwrap()
        .into_iter()
        .map(|p| p.port)
        .collect();
    assert_eq!(
        ports,
        [
            PortMatch::Range(80, 80),
            PortMatch::Range(8000, 8080),
            PortMatch::Named("metrics".into()),
            PortMatch::Range(443, 443),
            PortMatch::Range(53, 53),
            PortMatch::Any
        ]
    );
    let peers = rules[1].peers.clone().unwrap();
    let everywhere = NamespaceMatch::Selector(LabelSelector::everything());
    assert_eq!(
        peers[0],
        Peer::Workloads {
            namespaces: everywhere,
            workloads: Some(LabelSelector::everything())
        }
    );
    assert!(matches!(
        &peers[1],
        Peer::Workloads {
            workloads: None,
            ..
        }
    ));
}

#[test]
fn native_kind_refuses_ambiguity() {
    let head = "apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata: {name: n, namespace: x}\nspec:\n  selector: {}\n";
    let spec = |s: &str| format!("{head}{s}");
    assert_error(
        &spec("  ingress:\n"),
        "p.yaml:6:10: spec.ingress: expected a list of rules; write `ingress: []` to deny all ingress traffic, or remove the key",
    );
    assert_error(
        &spec("  ingress: [{action: allow, from: []}]\n"),
        "p.yaml:6:35: spec.ingress[0].from: an empty list is not allowed; remove `from` to match everything",
    );
    assert_error(
        &spec("  ingress: [{from: [{entity: world}]}]\n"),
        "p.yaml:6:13: spec.ingress[0]: missing required field `action`",
    );
    assert_error(
        &spec("  ingress: [{action: permit}]\n"),
        "p.yaml:6:22: spec.ingress[0].action: expected `allow` or `deny`",
    );
    assert_error(
        &spec("  egress: [{action: allow, to: [{entity: world, cidr: 0.0.0.0/0}]}]\n"),
        "p.yaml:6:33: spec.egress[0].to[0]: a peer is exactly one of: `selector` and/or `namespaceSelector`, `cidr` (with optional `except`), or `entity`",
    );
    assert_error(
        &spec("  egress: [{action: allow, to: [{entity: internet}]}]\n"),
        "p.yaml:6:42: spec.egress[0].to[0].entity: expected `world` or `host`",
    );
    assert_error(
        &spec("  egress: [{action: allow, ports: [90-80]}]\n"),
        "p.yaml:6:36: spec.egress[0].ports[0]: `90-80` is not a port range (first-last, 1 <= first <= last <= 65535)",
    );
    assert_error(
        &spec("  egress: [{action: allow, ports: [{port: 1, protocol: tcp}]}]\n"),
        "p.yaml:6:56: spec.egress[0].ports[0].protocol: unknown protocol `tcp`, expected TCP, UDP or SCTP",
    );
    assert_error(
        &spec("  namespaceSelector: {}\n  egress: []\n"),
        "p.yaml:6:3: spec.namespaceSelector: only a cluster-wide policy (no metadata.namespace) selects namespaces; this one lives in `x`",
    );
    assert_error(
        &spec("  egress: [{action: allow, to: [{cidr: 'fd00::/8'}]}]\n"),
        "p.yaml:6:40: spec.egress[0].to[0].cidr: Bulkhead is IPv4-only; use an IPv4 CIDR",
    );
    assert_error(
        head,
        "p.yaml:5:3: spec: a policy needs `ingress` or `egress` (or both); without them it would do nothing",
    );
    assert_error(
        "apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata: {name: n}\nspec: {ingress: []}\n",
        "p.yaml:4:7: spec: missing required field `selector`",
    );
}

#[test]
fn names_are_unique_across_kinds() {
    let text = format!(
        "{NP}---\napiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata: {{name: np, namespace: x}}\nspec: {{selector: {{}}, ingress: []}}\n"
    );
    let err = PolicySet::new(parse_documents("p.yaml", &text).unwrap())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "p.yaml:7:1: policy `x/np` is defined twice (first at p.yaml:1:1)"
    );
    let text = format!("{NP}---\n{}", NP.replace("name: np", "name: b"));
    let set = PolicySet::new(parse_documents("p.yaml", &text).unwrap()).unwrap();
    let names: Vec<String> = set.policies.iter().map(|p| p.name.to_string()).collect();
    assert_eq!(names, ["x/b", "x/np"]);
}
