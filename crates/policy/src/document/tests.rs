//! Parsing: what each kind lowers to, and that every mistake is reported at its place.

use crate::ir::{Entity, NamespaceMatch, Peer, PolicyKind, PolicySet, PortMatch, PortSpec};
use crate::model::{Action, Protocol};
use crate::parse_documents;
use crate::selector::{LabelSelector, Operator};

/// Every diagnostic of `text`, one `file:line:col: message` per line.
fn errors(text: &str) -> String {
    parse_documents("p.yaml", text).unwrap_err().to_string()
}

fn assert_error(text: &str, expected: &str) {
    let got = errors(text);
    assert!(
        got.lines().any(|l| l == expected),
        "expected `{expected}` among:\n{got}"
    );
}

const NP: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np\n  namespace: x\n";

#[test]
fn kubernetes_defaults() {
    let p = &parse_documents("p.yaml", &format!("{NP}spec:\n  egress: [{{}}]\n")).unwrap()[0];
    assert_eq!(p.kind, PolicyKind::Kubernetes);
    assert_eq!(p.name.to_string(), "x/np");
    assert_eq!(p.subject.namespaces, NamespaceMatch::Named("x".into()));
    assert!(p.subject.workloads.is_empty());
    assert_eq!(
        p.ingress.as_deref(),
        Some(&[][..]),
        "Ingress is always defaulted"
    );
    let egress = p.egress.as_ref().unwrap();
    assert_eq!(
        (egress[0].peers.is_none(), egress[0].ports.is_none()),
        (true, true)
    );
    assert_eq!(egress[0].action, Action::Allow);
    let text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d}\nspec:\n  ingress:\n    - ports: [{port: 53, protocol: UDP}, {port: web}, {}]\n";
    let p = &parse_documents("p.yaml", text).unwrap()[0];
    assert_eq!(p.name.to_string(), "default/d");
    assert_eq!(p.egress, None);
    let ports = p.ingress.as_ref().unwrap()[0].ports.clone().unwrap();
    assert_eq!(
        ports,
        vec![
            PortSpec {
                protocol: Protocol::Udp,
                port: PortMatch::Range(53, 53)
            },
            PortSpec {
                protocol: Protocol::Tcp,
                port: PortMatch::Named("web".into())
            },
            PortSpec {
                protocol: Protocol::Tcp,
                port: PortMatch::Any
            },
        ]
    );
}

#[test]
fn kubernetes_peers_lower_by_their_fields() {
    let text = format!(
        "{NP}spec:\n  ingress:\n    - from:\n        - podSelector: {{matchLabels: {{pod: a}}}}\n        - namespaceSelector: {{}}\n        - namespaceSelector: {{matchExpressions: [{{key: ns, operator: In, values: [y]}}]}}\n          podSelector: {{}}\n        - ipBlock: {{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}\n        - ipBlock: {{cidr: 'fd00::/8'}}\n"
    );
    let p = &parse_documents("p.yaml", &text).unwrap()[0];
    let peers = p.ingress.as_ref().unwrap()[0].peers.clone().unwrap();
    assert_eq!(
        peers.len(),
        4,
        "the IPv6 block matches nothing and is dropped"
    );
    let Peer::Workloads {
        namespaces,
        workloads,
    } = &peers[0]
    else {
        panic!("{peers:?}")
    };
    assert_eq!(namespaces, &NamespaceMatch::Named("x".into()));
    assert_eq!(workloads.as_ref().unwrap().match_labels["pod"], "a");
    assert_eq!(
        peers[1],
        Peer::Workloads {
            namespaces: NamespaceMatch::Selector(LabelSelector::everything()),
            workloads: None
        }
    );
    let Peer::Workloads {
        namespaces: NamespaceMatch::Selector(s),
        workloads: Some(w),
    } = &peers[2]
    else {
        panic!()
    };
    assert_eq!(s.match_expressions[0].operator, Operator::In);
    assert!(w.is_empty());
    assert_eq!(
        peers[3],
        Peer::Cidr {
            net: "10.0.0.0/8".parse().unwrap(),
            except: vec!["10.1.0.0/16".parse().unwrap()]
        }
    );
}

#[test]
fn kubernetes_validation_mirrors_upstream() {
    let spec = |s: &str| format!("{NP}spec:\n{s}");
    assert_error(
        &spec("  ingress:\n    - ports: [{port: 80, endPort: 79}]\n"),
        "p.yaml:8:35: spec.ingress[0].ports[0].endPort: 79 must be greater than or equal to `port` (80)",
    );
    assert_error(
        &spec("  ingress:\n    - ports: [{port: http, endPort: 90}]\n"),
        "p.yaml:8:37: spec.ingress[0].ports[0].endPort: may not be specified when `port` is non-numeric",
    );
    assert_error(
        &spec("  ingress:\n    - ports: [{endPort: 90}]\n"),
        "p.yaml:8:25: spec.ingress[0].ports[0].endPort: may not be specified when `port` is not specified",
    );
    assert_error(
        &spec("  ingress:\n    - ports: [{port: 0}]\n"),
        "p.yaml:8:22: spec.ingress[0].ports[0].port: 0 is not a valid port number (1..65535)",
    );
    assert_error(
        &spec("  ingress:\n    - ports: [{port: '80'}]\n"),
        "p.yaml:8:22: spec.ingress[0].ports[0].port: `80` must be 1 to 15 lower-case alphanumerics or '-', with at least one letter",
    );
    assert_error(
        &spec("  ingress:\n    - ports: [{protocol: ICMP}]\n"),
        "p.yaml:8:26: spec.ingress[0].ports[0].protocol: unknown protocol `ICMP`, expected TCP, UDP or SCTP",
    );
    assert_error(
        &spec("  ingress:\n    - from: [{}]\n"),
        "p.yaml:8:14: spec.ingress[0].from[0]: must specify a peer (podSelector, namespaceSelector or ipBlock)",
    );
    assert_error(
        &spec("  egress:\n    - to: [{podSelector: {}, ipBlock: {cidr: 10.0.0.0/8}}]\n"),
        "p.yaml:8:12: spec.egress[0].to[0]: may not specify both ipBlock and another peer",
    );
    assert_error(
        &spec("  egress:\n    - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]\n"),
        "p.yaml:8:50: spec.egress[0].to[0].ipBlock.except[0]: must be a strict subset of `cidr`",
    );
    assert_error(
        &spec("  egress:\n    - to: [{ipBlock: {cidr: 10.0.0.1/8}}]\n"),
        "p.yaml:8:29: spec.egress[0].to[0].ipBlock.cidr: `10.0.0.1/8` has host bits set (did you mean 10.0.0.0/8?)",
    );
    assert_error(
        &spec("  podSelector: {matchExpressions: [{key: a, operator: Equals}]}\n"),
        "p.yaml:7:55: spec.podSelector.matchExpressions[0].operator: `Equals` is not a valid selector operator, expected In, NotIn, Exists or DoesNotExist",
    );
    assert_error(
        &spec("  podSelector: {matchExpressions: [{key: a, operator: In}]}\n"),
        "p.yaml:7:36: spec.podSelector.matchExpressions[0].values: must be specified when `operator` is 'In' or 'NotIn'",
    );
    assert_error(
        &spec("  podSelector: {matchExpressions: [{key: a, operator: Exists, values: [b]}]}\n"),
        "p.yaml:7:63: spec.podSelector.matchExpressions[0].values: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
    );
    assert_error(
        &spec("  podSelector: {matchLabels: {'bad key': x}}\n"),
        "p.yaml:7:31: spec.podSelector.matchLabels: label key `bad key`: must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric",
    );
    assert_error(
        &spec("  policyTypes: [Ingress, Sideways]\n"),
        "p.yaml:7:26: spec.policyTypes[1]: unsupported value, expected \"Ingress\" or \"Egress\"",
    );
    assert_error(
        &spec("  ingres: []\n"),
        "p.yaml:7:3: spec: unknown field `ingres`, expected one of: podSelector, ingress, egress, policyTypes",
    );
    assert_error(
        &spec("  ingress:\n    - form: []\n"),
        "p.yaml:8:7: spec.ingress[0]: unknown field `form`, expected one of: from, ports",
    );
    assert_error(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: Bad_Name}\n",
        "p.yaml:3:18: metadata.name: `Bad_Name` must be lower-case alphanumerics, '-' or '.', each part starting and ending with an alphanumeric",
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    let text = format!(
        "{NP}spec:\n  ingress:\n    - ports: [{{port: 0}}]\n  egress:\n    - to: [{{}}]\n---\nkind: Pod\napiVersion: v1\n"
    );
    let got = errors(&text);
    assert_eq!(got.lines().count(), 3, "{got}");
    assert!(
        got.lines()
            .last()
            .unwrap()
            .starts_with("p.yaml:12:7: unsupported document `v1` `Pod`"),
        "{got}"
    );
}

#[test]
fn exported_manifests_and_lists_are_accepted() {
    let text = "apiVersion: v1\nkind: List\nmetadata: {resourceVersion: \"\"}\nitems:\n  - apiVersion: networking.k8s.io/v1\n    kind: NetworkPolicy\n    metadata:\n      name: a\n      namespace: x\n      uid: 3f0e\n      resourceVersion: \"42\"\n      generation: 2\n      creationTimestamp: \"2024-01-01T00:00:00Z\"\n      annotations: {kubectl.kubernetes.io/last-applied-configuration: \"{}\"}\n      managedFields: [{manager: kubectl, operation: Update}]\n    spec: {podSelector: {}}\n    status: {}\n  - apiVersion: bulkhead.dev/v1\n    kind: Policy\n    metadata: {name: n}\n    spec: {selector: {}, ingress: []}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicyList\nitems:\n  - metadata: {name: b, namespace: y}\n    spec: {}\n";
    let ps = parse_documents("p.yaml", text).unwrap();
    let names: Vec<String> = ps.iter().map(|p| p.name.to_string()).collect();
    assert_eq!(names, ["x/a", "n", "y/b"]);
}

mod native;
