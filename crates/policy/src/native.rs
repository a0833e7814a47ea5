//! Native `bulkhead.dev/v1` Policy → [`ir::Policy`]. The user-facing description is
//! `docs/policy.md`; what matters here is that the kind is *explicit*: the ambiguous
//! corners of NetworkPolicy (an empty list meaning "everything", a `null` direction, an
//! implicit action) are errors here, each with a message saying what to write instead.
//!
//! ```yaml
//! apiVersion: bulkhead.dev/v1
//! kind: Policy
//! metadata: {name: api, namespace: shop}   # no namespace: cluster-wide
//! spec:
//!   selector: {matchLabels: {app: api}}    # required; `{}` selects every workload
//!   ingress:                               # present: selected workloads are default-deny
//!     - action: allow                      # required: allow | deny (deny wins)
//!       from:                              # absent: every peer
//!         - selector: {matchLabels: {app: frontend}}
//!         - cidr: 10.0.0.0/8
//!           except: [10.9.0.0/16]
//!         - entity: host                   # world | host
//!       ports: [8080, 9000-9100, metrics, {port: 53, protocol: UDP}]   # absent: all traffic
//! ```

use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::{NamespaceMatch, Peer, Policy, PolicyKind, PolicyName, PortSpec, Rule, Subject};
use crate::model::{Action, Direction};
use crate::read::{self, error, report};
use crate::selector::LabelSelector;
use crate::yaml::{Map, Node};

mod peers;

use peers::{peer, port};

pub(crate) const API_VERSION: &str = "bulkhead.dev/v1";

/// Reads one native Policy whose root map has been checked for `apiVersion` and `kind`.
pub(crate) fn read(doc: &Node, diags: &mut Diagnostics) -> Option<Policy> {
    let root = report(
        diags,
        doc.map("Policy", &["apiVersion", "kind", "metadata", "spec"]),
    )?;
    let meta = read::metadata(doc, root.get_some("metadata"), diags);
    let Some(spec_node) = root.get_some("spec") else {
        diags.push(error(doc, "Policy: missing required field `spec`"));
        return None;
    };
    let meta = meta?;
    let scope = meta.namespace.as_deref();
    let m = report(
        diags,
        spec_node.map(
            "spec",
            &["selector", "namespaceSelector", "ingress", "egress"],
        ),
    )?;
    let workloads = report(diags, m.require("selector", "spec"))
        .and_then(|s| read::selector(s, "spec.selector", diags));
    let namespaces = match (m.get_some("namespaceSelector"), scope) {
        (None, Some(ns)) => Some(NamespaceMatch::Named(ns.to_string())),
        (None, None) => Some(NamespaceMatch::Selector(LabelSelector::everything())),
        (Some(s), None) => {
            read::selector(s, "spec.namespaceSelector", diags).map(NamespaceMatch::Selector)
        }
        (Some(_), Some(ns)) => {
            let msg = format!(
                "spec.namespaceSelector: only a cluster-wide policy (no metadata.namespace) selects namespaces; this one lives in `{ns}`"
            );
            diags.push(Diagnostic::new(m.key_loc("namespaceSelector"), msg));
            None
        }
    };
    let ingress = direction(m, Direction::Ingress, scope, diags);
    let egress = direction(m, Direction::Egress, scope, diags);
    if m.get("ingress").is_none() && m.get("egress").is_none() {
        let msg = "spec: a policy needs `ingress` or `egress` (or both); without them it would do nothing";
        diags.push(error(spec_node, msg));
        return None;
    }
    Some(Policy {
        name: PolicyName {
            namespace: meta.namespace,
            name: meta.name,
        },
        kind: PolicyKind::Native,
        source: doc.loc.clone(),
        subject: Subject {
            namespaces: namespaces?,
            workloads: workloads?,
        },
        ingress: ingress?,
        egress: egress?,
    })
}

/// `Some(None)`: the direction is absent (not isolated); `None`: it had errors.
fn direction(
    m: Map<'_>,
    direction: Direction,
    scope: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<Option<Vec<Rule>>> {
    let (key, peers_key) = match direction {
        Direction::Ingress => ("ingress", "from"),
        Direction::Egress => ("egress", "to"),
    };
    let Some(list) = m.get(key) else {
        return Some(None);
    };
    if list.is_null() {
        let msg = format!(
            "spec.{key}: expected a list of rules; write `{key}: []` to deny all {key} traffic, or remove the key"
        );
        diags.push(error(list, msg));
        return None;
    }
    let path = format!("spec.{key}");
    let mut out = Some(Vec::new());
    for (index, item) in report(diags, list.seq(&path))?.iter().enumerate() {
        let r = rule(item, &format!("{path}[{index}]"), peers_key, scope, diags).map(
            |(action, peers, ports)| Rule {
                index,
                action,
                peers,
                ports,
                source: item.loc.clone(),
            },
        );
        match (r, out.as_mut()) {
            (Some(r), Some(v)) => v.push(r),
            _ => out = None,
        }
    }
    out.map(Some)
}

type RuleParts = (Action, Option<Vec<Peer>>, Option<Vec<PortSpec>>);

fn rule(
    node: &Node,
    path: &str,
    peers_key: &str,
    scope: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<RuleParts> {
    let m = report(diags, node.map(path, &["action", peers_key, "ports"]))?;
    let action = report(diags, m.require("action", path)).and_then(|a| match a.as_str() {
        Some("allow") => Some(Action::Allow),
        Some("deny") => Some(Action::Deny),
        _ => {
            diags.push(error(
                a,
                format!("{path}.action: expected `allow` or `deny`"),
            ));
            None
        }
    });
    let peers = optional_list(m, peers_key, path, diags, |item, p, d| {
        peer(item, p, scope, d)
    });
    let ports = optional_list(m, "ports", path, diags, port);
    Some((action?, peers?, ports?))
}

/// A list that may be absent (`Some(None)`: no restriction) but not empty or null: in
/// NetworkPolicy an empty list means "everything", a classic way to open a hole by accident.
fn optional_list<T>(
    m: Map<'_>,
    key: &str,
    path: &str,
    diags: &mut Diagnostics,
    mut item: impl FnMut(&Node, &str, &mut Diagnostics) -> Option<T>,
) -> Option<Option<Vec<T>>> {
    let Some(list) = m.get(key) else {
        return Some(None);
    };
    let list_path = format!("{path}.{key}");
    let items = report(diags, list.seq(&list_path))?;
    if items.is_empty() {
        let msg = format!(
            "{list_path}: an empty list is not allowed; remove `{key}` to match everything"
        );
        diags.push(error(list, msg));
        return None;
    }
    let mut out = Some(Vec::new());
    for (i, node) in items.iter().enumerate() {
        match (
            item(node, &format!("{list_path}[{i}]"), diags),
            out.as_mut(),
        ) {
            (Some(x), Some(v)) => v.push(x),
            _ => out = None,
        }
    }
    out.map(Some)
}
