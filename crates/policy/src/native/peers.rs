//! Native peers (`selector`/`namespaceSelector`, `cidr`/`except`, `entity`) and ports
//! (`80`, `8000-8080`, `name`, or `{port, protocol}`).

use crate::diag::Diagnostics;
use crate::ir::{Entity, NamespaceMatch, Peer, PortMatch, PortSpec};
use crate::model::Protocol;
use crate::read::{self, Cidr, error, report};
use crate::selector::LabelSelector;
use crate::yaml::{Map, Node};

pub(super) fn peer(
    node: &Node,
    path: &str,
    scope: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<Peer> {
    let fields = ["selector", "namespaceSelector", "cidr", "except", "entity"];
    let m = report(diags, node.map(path, &fields))?;
    let present: Vec<&str> = fields.into_iter().filter(|f| m.get(f).is_some()).collect();
    let kind_count = [
        present
            .iter()
            .any(|f| matches!(*f, "selector" | "namespaceSelector")),
        present.iter().any(|f| matches!(*f, "cidr" | "except")),
        present.contains(&"entity"),
    ]
    .into_iter()
    .filter(|b| *b)
    .count();
    if kind_count != 1 {
        let msg = format!(
            "{path}: a peer is exactly one of: `selector` and/or `namespaceSelector`, `cidr` (with optional `except`), or `entity`"
        );
        diags.push(error(node, msg));
        return None;
    }
    if let Some(e) = m.get("entity") {
        return match e.as_str() {
            Some("world") => Some(Peer::Entity(Entity::World)),
            Some("host") => Some(Peer::Entity(Entity::Host)),
            _ => {
                diags.push(error(
                    e,
                    format!("{path}.entity: expected `world` or `host`"),
                ));
                None
            }
        };
    }
    if m.get("cidr").is_some() || m.get("except").is_some() {
        return cidr_peer(m, path, diags);
    }
    let workloads = m
        .get("selector")
        .map(|s| read::selector(s, &format!("{path}.selector"), diags));
    let namespaces = match m.get("namespaceSelector") {
        Some(s) => read::selector(s, &format!("{path}.namespaceSelector"), diags)
            .map(NamespaceMatch::Selector),
        // Alone, a selector looks where the policy lives: its namespace, or everywhere.
        None => Some(match scope {
            Some(ns) => NamespaceMatch::Named(ns.to_string()),
            None => NamespaceMatch::Selector(LabelSelector::everything()),
        }),
    };
    Some(Peer::Workloads {
        namespaces: namespaces?,
        workloads: workloads.map_or(Some(None), |w| w.map(Some))?,
    })
}

fn cidr_peer(m: Map<'_>, path: &str, diags: &mut Diagnostics) -> Option<Peer> {
    let net =
        report(diags, m.require("cidr", path)).and_then(|c| v4(c, &format!("{path}.cidr"), diags));
    let mut except = Some(Vec::new());
    if let Some(list) = m.get("except") {
        for (i, item) in report(diags, list.seq(&format!("{path}.except")))?
            .iter()
            .enumerate()
        {
            let p = format!("{path}.except[{i}]");
            let e = v4(item, &p, diags).filter(|e| {
                let inside = net
                    .is_some_and(|n| n.contains(&e.network()) && e.prefix_len() > n.prefix_len());
                if !inside && net.is_some() {
                    diags.push(error(item, format!("{p}: must be strictly inside `cidr`")));
                }
                inside
            });
            match (e, except.as_mut()) {
                (Some(e), Some(v)) => v.push(e),
                _ => except = None,
            }
        }
    }
    Some(Peer::Cidr {
        net: net?,
        except: except?,
    })
}

fn v4(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<ipnet::Ipv4Net> {
    match read::cidr(node, path, diags)? {
        Cidr::V4(n) => Some(n),
        Cidr::V6(_) => {
            diags.push(error(
                node,
                format!("{path}: Bulkhead is IPv4-only; use an IPv4 CIDR"),
            ));
            None
        }
    }
}

/// `80`, `8000-8080`, `http`, or `{port: <one of those>, protocol: TCP|UDP|SCTP}`.
pub(super) fn port(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<PortSpec> {
    if node.as_str().is_some() {
        return port_match(node, path, diags).map(|port| PortSpec {
            protocol: Protocol::Tcp,
            port,
        });
    }
    let m = report(diags, node.map(path, &["port", "protocol"]))?;
    let protocol = match m.get_some("protocol") {
        None => Some(Protocol::Tcp),
        Some(p) => {
            let parsed = report(diags, p.string(&format!("{path}.protocol")))?.parse::<Protocol>();
            parsed
                .map_err(|e| diags.push(error(p, format!("{path}.protocol: {e}"))))
                .ok()
        }
    };
    let port = match m.get_some("port") {
        None => Some(PortMatch::Any),
        Some(p) => port_match(p, &format!("{path}.port"), diags),
    };
    Some(PortSpec {
        protocol: protocol?,
        port: port?,
    })
}

fn port_match(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<PortMatch> {
    let text = report(diags, node.string(path))?;
    let number = |s: &str| -> Option<u16> { s.parse::<u16>().ok().filter(|p| *p >= 1) };
    if text.chars().all(|c| c.is_ascii_digit()) {
        return match number(&text) {
            Some(p) => Some(PortMatch::Range(p, p)),
            None => {
                diags.push(error(
                    node,
                    format!("{path}: {text} is not a valid port number (1..65535)"),
                ));
                None
            }
        };
    }
    if let Some((a, b)) = text
        .split_once('-')
        .filter(|(a, _)| a.chars().all(|c| c.is_ascii_digit()))
    {
        return match (number(a), number(b)) {
            (Some(a), Some(b)) if a <= b => Some(PortMatch::Range(a, b)),
            _ => {
                let msg = format!(
                    "{path}: `{text}` is not a port range (first-last, 1 <= first <= last <= 65535)"
                );
                diags.push(error(node, msg));
                None
            }
        };
    }
    read::port_name(node, &text, path, diags).then_some(PortMatch::Named(text))
}
