//! Policy files: multi-document YAML holding native Policies, Kubernetes NetworkPolicies,
//! or lists of them (`kind: List`, `kind: NetworkPolicyList`, as `kubectl get -o yaml`
//! exports them). Each document is dispatched on `apiVersion` and `kind`.

use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::{Policy, PolicySet};
use crate::read::{error, report};
use crate::yaml::{self, Node, Value};
use crate::{k8s, native};
use std::collections::BTreeMap;

const SUPPORTED: &str = "expected `apiVersion: bulkhead.dev/v1` with `kind: Policy`, or `apiVersion: networking.k8s.io/v1` with `kind: NetworkPolicy` (or a List of them)";

/// Reads every policy of a (multi-document) YAML text. All problems are reported, each
/// at its `file:line:col` with the field's path; unknown fields are errors.
pub fn parse_documents(file: &str, text: &str) -> Result<Vec<Policy>, Diagnostics> {
    let docs = yaml::load_documents(file, text).map_err(Diagnostics::from)?;
    let mut diags = Diagnostics::default();
    let mut out = Vec::new();
    for doc in &docs {
        object(doc, Kind::TopLevel, &mut diags, &mut out);
    }
    diags.into_result(out)
}

/// Where an object sits, which decides what it may be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    TopLevel,
    /// An item of `kind: List`: any policy, with its own apiVersion and kind.
    ListItem,
    /// An item of `kind: NetworkPolicyList`: typed lists may omit apiVersion and kind.
    NetworkPolicyItem,
}

/// A root-map field, read before the document's kind (and so its fields) is known.
fn field<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null()),
        _ => None,
    }
}

fn object(doc: &Node, place: Kind, diags: &mut Diagnostics, out: &mut Vec<Policy>) {
    if !matches!(doc.value, Value::Map(_)) {
        diags.push(error(
            doc,
            format!(
                "expected a policy document (a map), found {}",
                doc.type_name()
            ),
        ));
        return;
    }
    let api = field(doc, "apiVersion").map(|n| (n, n.as_str().unwrap_or_default()));
    let kind = field(doc, "kind").map(|n| (n, n.as_str().unwrap_or_default()));
    let typed_default = place == Kind::NetworkPolicyItem && api.is_none() && kind.is_none();
    let (api_text, kind_text) = (api.map(|a| a.1), kind.map(|k| k.1));
    let read = match (api_text, kind_text) {
        _ if typed_default => k8s::read(doc, diags),
        (Some(k8s::API_VERSION), Some("NetworkPolicy")) => k8s::read(doc, diags),
        (Some(native::API_VERSION), Some("Policy")) if place != Kind::NetworkPolicyItem => {
            native::read(doc, diags)
        }
        (Some("v1"), Some("List")) if place == Kind::TopLevel => {
            return list(doc, "List", Kind::ListItem, diags, out);
        }
        (Some(k8s::API_VERSION), Some("NetworkPolicyList")) if place == Kind::TopLevel => {
            return list(
                doc,
                "NetworkPolicyList",
                Kind::NetworkPolicyItem,
                diags,
                out,
            );
        }
        (None, _) => {
            diags.push(error(doc, format!("missing `apiVersion`: {SUPPORTED}")));
            return;
        }
        (Some(_), None) => {
            diags.push(error(doc, format!("missing `kind`: {SUPPORTED}")));
            return;
        }
        (Some(a), Some(k)) => {
            let at = kind.map_or(doc, |k| k.0);
            let what = if place == Kind::TopLevel {
                ""
            } else {
                " in this list"
            };
            diags.push(error(
                at,
                format!("unsupported document `{a}` `{k}`{what}: {SUPPORTED}"),
            ));
            return;
        }
    };
    if let Some(p) = read {
        out.push(p);
    }
}

fn list(doc: &Node, what: &str, items: Kind, diags: &mut Diagnostics, out: &mut Vec<Policy>) {
    let Some(m) = report(
        diags,
        doc.map(what, &["apiVersion", "kind", "metadata", "items"]),
    ) else {
        return;
    };
    let Some(list) = m.get_some("items") else {
        return;
    };
    if let Some(entries) = report(diags, list.seq("items")) {
        for item in entries {
            object(item, items, diags, out);
        }
    }
}

impl PolicySet {
    /// The set in force: sorted by name (the order that breaks ties between rules), with
    /// names unique across both kinds.
    pub fn new(mut policies: Vec<Policy>) -> Result<PolicySet, Diagnostics> {
        policies.sort_by(|a, b| a.name.cmp(&b.name));
        let mut diags = Diagnostics::default();
        let mut first: BTreeMap<String, &Policy> = BTreeMap::new();
        for p in &policies {
            let name = p.name.to_string();
            if let Some(prev) = first.get(&name) {
                let msg = format!(
                    "policy `{name}` is defined twice (first at {})",
                    prev.source
                );
                diags.push(Diagnostic::new(p.source.clone(), msg));
            } else {
                first.insert(name, p);
            }
        }
        diags.into_result(())?;
        Ok(PolicySet { policies })
    }

    pub fn get(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.name.to_string() == name)
    }
}

#[cfg(test)]
mod tests;
