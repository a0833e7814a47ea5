//! NetworkPolicy peers and ports, validated as upstream's `ValidateNetworkPolicyPeer`
//! and `ValidateNetworkPolicyPort` do.

use crate::diag::Diagnostics;
use crate::ir::{NamespaceMatch, Peer, PortMatch, PortSpec};
use crate::model::Protocol;
use crate::read::{self, Cidr, error, report};
use crate::selector::LabelSelector;
use crate::yaml::Node;

/// A peer as written, before a bare `podSelector` is resolved to the policy's namespace.
pub(super) enum RawPeer {
    Selectors {
        pods: Option<LabelSelector>,
        namespaces: Option<LabelSelector>,
    },
    Block(Cidr, Vec<Cidr>),
}

impl RawPeer {
    /// Resolves a bare `podSelector` to the policy's namespace; IPv6 blocks (and IPv6
    /// excepts) match no IPv4 address and disappear.
    pub(super) fn lower(self, namespace: &str) -> Option<Peer> {
        match self {
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
            RawPeer::Block(Cidr::V6(_), _) => None,
        }
    }
}

pub(super) fn peer(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<RawPeer> {
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

pub(super) fn port(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<PortSpec> {
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
