//! Readers shared by both policy kinds: metadata, label selectors, CIDRs and ports.
//!
//! Each reader reports every problem it finds into a [`Diagnostics`] and returns `None`
//! for a value it could not read, so one pass over a file reports all its mistakes.
//! `path` arguments are the field's path in the document (`spec.ingress[0].from[1]`):
//! every message starts with it, so the user learns both *where* and *which field*.

use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Labels;
use crate::names;
use crate::selector::{LabelSelector, Operator, Requirement};
use crate::yaml::{Node, Value};

mod net;

pub(crate) use net::{Cidr, cidr, is_int, port_name, port_number};
use std::collections::BTreeSet;

/// Records a failed read and turns it into `None`.
pub(crate) fn report<T>(diags: &mut Diagnostics, r: Result<T, Diagnostic>) -> Option<T> {
    r.map_err(|d| diags.push(d)).ok()
}

pub(crate) fn error(node: &Node, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(node.loc.clone(), message)
}

/// The name and namespace of a document; the other standard fields are accepted (exported
/// manifests carry them) and ignored, after a type check of the ones that have a syntax.
pub(crate) struct Meta {
    pub name: String,
    pub namespace: Option<String>,
}

const META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Reads `metadata` (`node` is the document root map's `metadata` value, if present).
pub(crate) fn metadata(root: &Node, node: Option<&Node>, diags: &mut Diagnostics) -> Option<Meta> {
    let Some(node) = node else {
        diags.push(error(
            root,
            "metadata: missing required field (a policy needs a name)",
        ));
        return None;
    };
    let m = report(diags, node.map("metadata", META_FIELDS))?;
    if let Some(l) = m.get_some("labels") {
        labels(l, "metadata.labels", diags);
    }
    if let Some(a) = m.get_some("annotations") {
        report(diags, a.string_map("metadata.annotations"));
    }
    let name = match m.get_some("name") {
        Some(n) => report(diags, n.string("metadata.name"))
            .filter(|name| check(diags, n, "metadata.name", names::dns_subdomain_error(name)))?,
        None => {
            let hint = if m.get_some("generateName").is_some() {
                " (generateName is not supported: policies are referred to by name)"
            } else {
                ""
            };
            diags.push(error(
                node,
                format!("metadata: missing required field `name`{hint}"),
            ));
            return None;
        }
    };
    let namespace = match m.get_some("namespace") {
        Some(n) => Some(
            report(diags, n.string("metadata.namespace"))
                .filter(|ns| check(diags, n, "metadata.namespace", names::dns_label_error(ns)))?,
        ),
        None => None,
    };
    Some(Meta { name, namespace })
}

/// Pushes `problem` (if any) at `node`; true when there was none.
pub(super) fn check(
    diags: &mut Diagnostics,
    node: &Node,
    path: &str,
    problem: Option<String>,
) -> bool {
    match problem {
        Some(p) => {
            let value = node.as_str().unwrap_or_default();
            diags.push(error(node, format!("{path}: `{value}` {p}")));
            false
        }
        None => true,
    }
}

/// A label map, each key and value checked (and reported) where it is written.
pub(crate) fn labels(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Labels> {
    let entries = match &node.value {
        Value::Map(entries) => entries.as_slice(),
        Value::Null => &[],
        _ => {
            let msg = format!("{path}: expected a map, found {}", node.type_name());
            diags.push(error(node, msg));
            return None;
        }
    };
    let mut out = Labels::new();
    let mut ok = true;
    for (k, v) in entries {
        let Some(key) = report(diags, k.string(path)) else {
            ok = false;
            continue;
        };
        let value = if v.is_null() {
            Some(String::new())
        } else {
            report(diags, v.string(&format!("{path}.{key}")))
        };
        let Some(value) = value else {
            ok = false;
            continue;
        };
        if let Some(e) = names::label_key_error(&key) {
            diags.push(error(k, format!("{path}: {e}")));
            ok = false;
        }
        if let Some(e) = names::label_value_error(&value) {
            diags.push(error(v, format!("{path}.{key}: {e}")));
            ok = false;
        }
        out.insert(key, value);
    }
    ok.then_some(out)
}

/// A Kubernetes label selector with upstream validation (`ValidateLabelSelector`):
/// `In`/`NotIn` need values, `Exists`/`DoesNotExist` forbid them, unknown operators fail.
pub(crate) fn selector(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<LabelSelector> {
    let m = report(diags, node.map(path, &["matchLabels", "matchExpressions"]))?;
    let match_labels = match m.get_some("matchLabels") {
        Some(l) => labels(l, &format!("{path}.matchLabels"), diags),
        None => Some(Labels::new()),
    };
    let mut match_expressions = Some(Vec::new());
    if let Some(list) = m.get_some("matchExpressions") {
        let list_path = format!("{path}.matchExpressions");
        for (i, item) in report(diags, list.seq(&list_path))?.iter().enumerate() {
            let r = requirement(item, &format!("{list_path}[{i}]"), diags);
            match (r, match_expressions.as_mut()) {
                (Some(r), Some(v)) => v.push(r),
                _ => match_expressions = None,
            }
        }
    }
    Some(LabelSelector {
        match_labels: match_labels?,
        match_expressions: match_expressions?,
    })
}

fn requirement(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Requirement> {
    let m = report(diags, node.map(path, &["key", "operator", "values"]))?;
    let key_node = report(diags, m.require("key", path))?;
    let key = report(diags, key_node.string(&format!("{path}.key")))?;
    if let Some(e) = names::label_key_error(&key) {
        diags.push(error(key_node, format!("{path}.key: {e}")));
    }
    let op_node = report(diags, m.require("operator", path))?;
    let op_text = report(diags, op_node.string(&format!("{path}.operator")))?;
    let Some(operator) = Operator::parse(&op_text) else {
        let msg = format!(
            "{path}.operator: `{op_text}` is not a valid selector operator, expected In, NotIn, Exists or DoesNotExist"
        );
        diags.push(error(op_node, msg));
        return None;
    };
    let mut values = BTreeSet::new();
    let values_path = format!("{path}.values");
    if let Some(list) = m.get_some("values") {
        for (i, v) in report(diags, list.seq(&values_path))?.iter().enumerate() {
            let text = report(diags, v.string(&format!("{values_path}[{i}]")))?;
            if let Some(e) = names::label_value_error(&text) {
                diags.push(error(v, format!("{values_path}[{i}]: {e}")));
            }
            values.insert(text);
        }
    }
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            let msg =
                format!("{values_path}: must be specified when `operator` is 'In' or 'NotIn'");
            diags.push(Diagnostic::new(m.key_loc("values"), msg));
            return None;
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            let msg = format!(
                "{values_path}: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            );
            diags.push(Diagnostic::new(m.key_loc("values"), msg));
            return None;
        }
        _ => {}
    }
    Some(Requirement {
        key,
        operator,
        values,
    })
}
