//! Kubernetes `networking.k8s.io/v1` NetworkPolicy → [`ir::Policy`].
//!
//! Upstream validation (`pkg/apis/networking/validation`) and API-server defaulting are
//! reproduced here, so a document accepted here is accepted by a cluster and means the
//! same thing there:
//! - `policyTypes` defaults to `[Ingress]`, plus `Egress` when `spec.egress` has a rule;
//!   a direction not in `policyTypes` is not isolated (its rules, if any, are ignored);
//! - absent or empty `from`/`to` match every peer, absent or empty `ports` every port;
//! - a peer's `podSelector` and `namespaceSelector` are ANDed; peers in a list are ORed;
//!   `podSelector` alone looks in the policy's namespace, `namespaceSelector: {}` in all;
//! - `ipBlock` excludes the selectors; `except` must be strictly inside `cidr`;
//! - `protocol` defaults to TCP; `endPort` needs a numeric `port` and is inclusive.
//!
//! IPv6 blocks are valid upstream; Bulkhead is IPv4-only, so they match no address and
//! are dropped from the peer list (a list of only IPv6 blocks then matches nothing).

use crate::diag::{Diagnostics, Location};
use crate::ir::{NamespaceMatch, Policy, PolicyKind, PolicyName, PortSpec, Rule, Subject};
use crate::model::{Action, Direction};
use crate::read::{self, error, report};
use crate::selector::LabelSelector;
use crate::yaml::{Map, Node};

mod peers;

use peers::{RawPeer, peer, port};

pub(crate) const API_VERSION: &str = "networking.k8s.io/v1";

/// Reads one NetworkPolicy whose root map has been checked for `apiVersion` and `kind`.
pub(crate) fn read(doc: &Node, diags: &mut Diagnostics) -> Option<Policy> {
    let root = report(
        diags,
        doc.map(
            "NetworkPolicy",
            &["apiVersion", "kind", "metadata", "spec", "status"],
        ),
    )?;
    let meta = read::metadata(doc, root.get_some("metadata"), diags);
    let spec = root.get("spec").map(|s| spec(s, diags));
    let namespace = meta
        .as_ref()
        .map(|m| m.namespace.clone().unwrap_or_else(|| "default".to_string()))?;
    let (subject, ingress, egress) = match spec {
        Some(s) => s?,
        // An absent spec is an empty one: every pod of the namespace, ingress isolated.
        None => (LabelSelector::everything(), Some(Vec::new()), None),
    };
    let lower = |rules: Option<Vec<RawRule>>| {
        rules.map(|r| r.into_iter().map(|r| r.lower(&namespace)).collect())
    };
    Some(Policy {
        name: PolicyName {
            namespace: Some(namespace.clone()),
            name: meta?.name,
        },
        kind: PolicyKind::Kubernetes,
        source: doc.loc.clone(),
        subject: Subject {
            namespaces: NamespaceMatch::Named(namespace.clone()),
            workloads: subject,
        },
        ingress: lower(ingress),
        egress: lower(egress),
    })
}

type Spec = (LabelSelector, Option<Vec<RawRule>>, Option<Vec<RawRule>>);

fn spec(node: &Node, diags: &mut Diagnostics) -> Option<Spec> {
    let m = report(
        diags,
        node.map("spec", &["podSelector", "ingress", "egress", "policyTypes"]),
    )?;
    let subject = match m.get_some("podSelector") {
        Some(s) => read::selector(s, "spec.podSelector", diags),
        None => Some(LabelSelector::everything()),
    };
    let ingress = rules(m, Direction::Ingress, diags);
    let egress = rules(m, Direction::Egress, diags);
    let types = policy_types(m, diags);
    let (ingress, egress, (has_ingress, has_egress)) = (ingress?, egress?, types?);
    // API-server defaulting: Ingress always, Egress when there is an egress rule.
    let (has_ingress, has_egress) = match (has_ingress, has_egress) {
        (false, false) => (true, !egress.is_empty()),
        explicit => explicit,
    };
    Some((
        subject?,
        has_ingress.then_some(ingress),
        has_egress.then_some(egress),
    ))
}

/// `(ingress, egress)` as listed in `policyTypes`; `(false, false)` when absent or empty.
fn policy_types(m: Map<'_>, diags: &mut Diagnostics) -> Option<(bool, bool)> {
    let Some(list) = m.get_some("policyTypes") else {
        return Some((false, false));
    };
    let items = report(diags, list.seq("spec.policyTypes"))?;
    if items.len() > 2 {
        diags.push(error(
            list,
            "spec.policyTypes: may not specify more than two policyTypes",
        ));
        return None;
    }
    let mut types = (false, false);
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some("Ingress") => types.0 = true,
            Some("Egress") => types.1 = true,
            _ => {
                let msg = format!(
                    "spec.policyTypes[{i}]: unsupported value, expected \"Ingress\" or \"Egress\""
                );
                diags.push(error(item, msg));
                ok = false;
            }
        }
    }
    ok.then_some(types)
}

/// A rule as written, before its peers are resolved against the policy's namespace.
struct RawRule {
    index: usize,
    peers: Option<Vec<RawPeer>>,
    ports: Option<Vec<PortSpec>>,
    source: Location,
}

impl RawRule {
    fn lower(self, namespace: &str) -> Rule {
        let peers = self.peers.map(|peers| {
            peers
                .into_iter()
                .filter_map(|p| p.lower(namespace))
                .collect()
        });
        Rule {
            index: self.index,
            action: Action::Allow,
            peers,
            ports: self.ports,
            source: self.source,
        }
    }
}

fn rules(m: Map<'_>, direction: Direction, diags: &mut Diagnostics) -> Option<Vec<RawRule>> {
    let (key, peers_key) = match direction {
        Direction::Ingress => ("ingress", "from"),
        Direction::Egress => ("egress", "to"),
    };
    let Some(list) = m.get_some(key) else {
        return Some(Vec::new());
    };
    let path = format!("spec.{key}");
    let mut out = Some(Vec::new());
    for (index, item) in report(diags, list.seq(&path))?.iter().enumerate() {
        let rule =
            rule(item, &format!("{path}[{index}]"), peers_key, diags).map(|(p, q)| RawRule {
                index,
                peers: p,
                ports: q,
                source: item.loc.clone(),
            });
        match (rule, out.as_mut()) {
            (Some(r), Some(v)) => v.push(r),
            _ => out = None,
        }
    }
    out
}

type RuleParts = (Option<Vec<RawPeer>>, Option<Vec<PortSpec>>);

fn rule(node: &Node, path: &str, peers_key: &str, diags: &mut Diagnostics) -> Option<RuleParts> {
    let m = report(diags, node.map(path, &[peers_key, "ports"]))?;
    let mut peers = Some(Vec::new());
    if let Some(list) = m.get_some(peers_key) {
        let list_path = format!("{path}.{peers_key}");
        for (i, item) in report(diags, list.seq(&list_path))?.iter().enumerate() {
            match (
                peer(item, &format!("{list_path}[{i}]"), diags),
                peers.as_mut(),
            ) {
                (Some(p), Some(v)) => v.push(p),
                _ => peers = None,
            }
        }
    }
    let mut ports = Some(Vec::new());
    if let Some(list) = m.get_some("ports") {
        let list_path = format!("{path}.ports");
        for (i, item) in report(diags, list.seq(&list_path))?.iter().enumerate() {
            match (
                port(item, &format!("{list_path}[{i}]"), diags),
                ports.as_mut(),
            ) {
                (Some(p), Some(v)) => v.push(p),
                _ => ports = None,
            }
        }
    }
    // Empty and absent lists mean the same upstream: no restriction.
    let (peers, ports) = (peers?, ports?);
    Some((
        (!peers.is_empty()).then_some(peers),
        (!ports.is_empty()).then_some(ports),
    ))
}
