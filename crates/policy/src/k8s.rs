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
use crate::ir::{
    NamespaceMatch, Peer, Policy, PolicyKind, PolicyName, PortMatch, PortSpec, Rule, Subject,
};
use crate::model::{Action, Direction, Protocol};
use crate::read::{self, Cidr, error, report};
use crate::selector::LabelSelector;
use crate::yaml::{Map, Node};

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

enum RawPeer {
    Selectors {
        pods: Option<LabelSelector>,
        namespaces: Option<LabelSelector>,
    },
    Block(Cidr, Vec<Cidr>),
}

impl RawRule {
    fn lower(self, namespace: &str) -> Rule {
        let peers = self.peers.map(|peers| {
            peers
                .into_iter()
                .filter_map(|p| match p {
                    RawPeer::Selectors { pods, namespaces } => Some(Peer::Workloads {
                        namespaces: match namespaces {
                            Some(sel) => NamespaceMatch::Selector(sel),
                            None => NamespaceMatch::Named(namespace.to_string()),
                        },
                        workloads: pods,
                    }),
                    RawPeer::Block(Cidr::V4(net), except) => Some(Peer::Cidr {
                        net,
                        except: except
                            .into_iter()
                            .filter_map(|e| match e {
                                Cidr::V4(e) => Some(e),
                                Cidr::V6(_) => None,
                            })
                            .collect(),
                    }),
                    // IPv6 blocks match no IPv4 address.
                    RawPeer::Block(Cidr::V6(_), _) => None,
                })
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

fn peer(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<RawPeer> {
    let m = report(
        diags,
        node.map(path, &["podSelector", "namespaceSelector", "ipBlock"]),
    )?;
    let pods = m.get_some("podSelector");
    let namespaces = m.get_some("namespaceSelector");
    if let Some(block) = m.get_some("ipBlock") {
        if pods.is_some() || namespaces.is_some() {
            let msg = format!("{path}: may not specify both ipBlock and another peer");
            diags.push(error(node, msg));
            return None;
        }
        return ip_block(block, &format!("{path}.ipBlock"), diags);
    }
    if pods.is_none() && namespaces.is_none() {
        diags.push(error(
            node,
            format!("{path}: must specify a peer (podSelector, namespaceSelector or ipBlock)"),
        ));
        return None;
    }
    let pods = pods.map(|s| read::selector(s, &format!("{path}.podSelector"), diags));
    let namespaces =
        namespaces.map(|s| read::selector(s, &format!("{path}.namespaceSelector"), diags));
    Some(RawPeer::Selectors {
        pods: pods.map_or(Some(None), |s| s.map(Some))?,
        namespaces: namespaces.map_or(Some(None), |s| s.map(Some))?,
    })
}

fn ip_block(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<RawPeer> {
    let m = report(diags, node.map(path, &["cidr", "except"]))?;
    let cidr_node = report(diags, m.require("cidr", path))?;
    let net = read::cidr(cidr_node, &format!("{path}.cidr"), diags)?;
    let mut except = Some(Vec::new());
    if let Some(list) = m.get_some("except") {
        for (i, item) in report(diags, list.seq(&format!("{path}.except")))?
            .iter()
            .enumerate()
        {
            let item_path = format!("{path}.except[{i}]");
            let e = read::cidr(item, &item_path, diags).filter(|e| {
                let inside = strictly_inside(e, &net);
                if !inside {
                    let msg = format!("{item_path}: must be a strict subset of `cidr`");
                    diags.push(error(item, msg));
                }
                inside
            });
            match (e, except.as_mut()) {
                (Some(e), Some(v)) => v.push(e),
                _ => except = None,
            }
        }
    }
    Some(RawPeer::Block(net, except?))
}

/// `ValidateIPBlock`: the except's network lies in the cidr and its prefix is longer.
fn strictly_inside(inner: &Cidr, outer: &Cidr) -> bool {
    match (inner, outer) {
        (Cidr::V4(i), Cidr::V4(o)) => o.contains(&i.network()) && i.prefix_len() > o.prefix_len(),
        (Cidr::V6(i), Cidr::V6(o)) => o.contains(&i.network()) && i.prefix_len() > o.prefix_len(),
        _ => false,
    }
}

fn port(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<PortSpec> {
    let m = report(diags, node.map(path, &["protocol", "port", "endPort"]))?;
    let protocol = match m.get_some("protocol") {
        None => Some(Protocol::Tcp),
        Some(p) => {
            let text = report(diags, p.string(&format!("{path}.protocol")))?;
            let parsed = text.parse::<Protocol>();
            if let Err(e) = &parsed {
                diags.push(error(p, format!("{path}.protocol: {e}")));
            }
            parsed.ok()
        }
    };
    let end = m.get_some("endPort");
    let port = match m.get_some("port") {
        None => {
            if let Some(e) = end {
                let msg =
                    format!("{path}.endPort: may not be specified when `port` is not specified");
                diags.push(error(e, msg));
                return None;
            }
            Some(PortMatch::Any)
        }
        Some(p) if read::is_int(p) => {
            let first = read::port_number(p, &format!("{path}.port"), diags);
            let last = match end {
                None => first,
                Some(e) => read::port_number(e, &format!("{path}.endPort"), diags),
            };
            match (first, last) {
                (Some(f), Some(l)) if l < f => {
                    let msg = format!(
                        "{path}.endPort: {l} must be greater than or equal to `port` ({f})"
                    );
                    diags.push(error(end.unwrap_or(p), msg));
                    None
                }
                (Some(f), Some(l)) => Some(PortMatch::Range(f, l)),
                _ => None,
            }
        }
        Some(p) => {
            let name = report(diags, p.string(&format!("{path}.port")))?;
            if let Some(e) = end {
                let msg =
                    format!("{path}.endPort: may not be specified when `port` is non-numeric");
                diags.push(error(e, msg));
                return None;
            }
            read::port_name(p, &name, &format!("{path}.port"), diags)
                .then_some(PortMatch::Named(name))
        }
    };
    Some(PortSpec {
        protocol: protocol?,
        port: port?,
    })
}
