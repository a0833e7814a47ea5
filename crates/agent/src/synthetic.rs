//! [`bulkhead_compile::synthetic`] as the server would send it: every policy written back
//! as the YAML document it is stored as, in a [`DesiredState`]. Benches and tests use it
//! so the agent is measured on what it really receives (text to parse), not on IR.
//!
//! Only the shapes the synthetic set uses are written (label-only selectors, workload /
//! CIDR / every peer, single and named ports); anything else is refused with `None`
//! rather than written wrong. A test parses every document back to the same policy.

use bulkhead_api::{DesiredState, PolicyDocument};
use bulkhead_compile::synthetic::Synthetic;
use bulkhead_policy::ir::{NamespaceMatch, Peer, Policy, PolicyKind, PortMatch, Rule};
use bulkhead_policy::selector::LabelSelector;
use bulkhead_policy::{Labels, Workload};
use bulkhead_runtime::Snapshot;
use std::fmt::Write;

/// `s` spread over `nodes` nodes `n0`, `n1`, … (workload `i` on `n<i % nodes>`): the
/// desired state the server sends (revision `revision`, no modes) and node `n0`'s own
/// snapshot (its workloads, with an interface each). `nodes: 1`: every workload local.
pub fn on_nodes(s: &Synthetic, nodes: usize, revision: u64) -> Option<(DesiredState, Snapshot)> {
    let mut s = s.clone();
    let nodes = nodes.max(1);
    for (i, w) in s.inventory.workloads.iter_mut().enumerate() {
        w.node = Some(format!("n{}", i % nodes));
    }
    let mine: Vec<Workload> = s
        .inventory
        .workloads
        .iter()
        .filter(|w| w.node.as_deref() == Some("n0"))
        .cloned()
        .collect();
    let snap = Snapshot {
        interfaces: mine
            .iter()
            .enumerate()
            .map(|(i, w)| (w.id.clone(), format!("veth{i}")))
            .collect(),
        workloads: mine,
        cluster_cidrs: s.inventory.cluster_cidrs.clone(),
        host_ips: s.inventory.host_ips.clone(),
        guarded: Vec::new(),
    };
    Some((desired(&s, revision)?, snap))
}

/// `s` as revision `revision` of the desired state, with no modes set.
pub fn desired(s: &Synthetic, revision: u64) -> Option<DesiredState> {
    let policies = s
        .policies
        .policies
        .iter()
        .map(document)
        .collect::<Option<Vec<_>>>()?;
    Some(DesiredState {
        revision,
        policies,
        inventory: s.inventory.clone(),
        ..DesiredState::default()
    })
}

/// `p` as the server stores it: one YAML document in a file named after the policy.
pub fn document(p: &Policy) -> Option<PolicyDocument> {
    Some(PolicyDocument {
        name: p.name.to_string(),
        kind: p.kind,
        version: 1,
        file: format!("{}.yaml", p.name.to_string().replace('/', "-")),
        source: yaml(p)?,
    })
}

/// The YAML text of `p`, Kubernetes or native after its kind.
pub fn yaml(p: &Policy) -> Option<String> {
    let k8s = p.kind == PolicyKind::Kubernetes;
    let mut out = String::new();
    let (api, kind) = if k8s {
        ("networking.k8s.io/v1", "NetworkPolicy")
    } else {
        ("bulkhead.dev/v1", "Policy")
    };
    let _ = write!(
        out,
        "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {}\n",
        p.name.name
    );
    if let Some(ns) = &p.name.namespace {
        let _ = writeln!(out, "  namespace: {ns}");
    }
    out.push_str("spec:\n");
    let selector = labels(&p.subject.workloads)?;
    match (&p.subject.namespaces, k8s) {
        // A Kubernetes policy selects in its own namespace only.
        (NamespaceMatch::Named(ns), true) if Some(ns) == p.name.namespace.as_ref() => {
            let _ = writeln!(out, "  podSelector: {{matchLabels: {selector}}}");
        }
        (NamespaceMatch::Selector(n), false) => {
            let _ = writeln!(out, "  selector: {{matchLabels: {selector}}}");
            let _ = writeln!(out, "  namespaceSelector: {{matchLabels: {}}}", labels(n)?);
        }
        _ => return None,
    }
    if k8s {
        let types: Vec<&str> = [("Ingress", &p.ingress), ("Egress", &p.egress)]
            .iter()
            .filter(|(_, r)| r.is_some())
            .map(|(t, _)| *t)
            .collect();
        let _ = writeln!(out, "  policyTypes: [{}]", types.join(", "));
    }
    for (key, peers_key, rules) in [("ingress", "from", &p.ingress), ("egress", "to", &p.egress)] {
        if let Some(rules) = rules {
            let _ = writeln!(out, "  {key}:{}", if rules.is_empty() { " []" } else { "" });
            for r in rules {
                rule(&mut out, r, peers_key, k8s)?;
            }
        }
    }
    Some(out)
}

fn rule(out: &mut String, r: &Rule, peers_key: &str, k8s: bool) -> Option<()> {
    // Kubernetes rules only allow; the first line of a list item opens it with `- `.
    let mut lead = "    - ";
    if !k8s {
        let _ = writeln!(out, "{lead}action: {}", r.action);
        lead = "      ";
    } else if r.action != bulkhead_policy::Action::Allow {
        return None;
    }
    if let Some(peers) = &r.peers {
        let _ = writeln!(out, "{lead}{peers_key}:");
        lead = "      ";
        for peer in peers {
            out.push_str("        - ");
            match peer {
                Peer::Workloads {
                    namespaces: NamespaceMatch::Selector(n),
                    workloads,
                } => {
                    let _ = write!(out, "namespaceSelector: {{matchLabels: {}}}", labels(n)?);
                    if let Some(w) = workloads {
                        let _ = write!(
                            out,
                            "\n          podSelector: {{matchLabels: {}}}",
                            labels(w)?
                        );
                    }
                    out.push('\n');
                }
                Peer::Cidr { net, except } if k8s => {
                    let except: Vec<String> = except.iter().map(ToString::to_string).collect();
                    let _ = writeln!(
                        out,
                        "ipBlock: {{cidr: {net}, except: [{}]}}",
                        except.join(", ")
                    );
                }
                _ => return None,
            }
        }
    }
    if let Some(ports) = &r.ports {
        let mut items = Vec::new();
        for s in ports {
            let port = match &s.port {
                PortMatch::Range(a, b) if a == b => a.to_string(),
                PortMatch::Named(n) => n.clone(),
                _ => return None,
            };
            items.push(format!(
                "{{port: {port}, protocol: {}}}",
                s.protocol.to_string().to_uppercase()
            ));
        }
        let _ = writeln!(out, "{lead}ports: [{}]", items.join(", "));
    }
    Some(())
}

/// `{k: v, ...}`; expressions are not written.
fn labels(s: &LabelSelector) -> Option<String> {
    if !s.match_expressions.is_empty() {
        return None;
    }
    Some(map(&s.match_labels))
}

fn map(l: &Labels) -> String {
    let pairs: Vec<String> = l.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_compile::synthetic::scale;
    use bulkhead_policy::Location;

    /// Source locations differ (the documents are new text); everything else must not.
    fn located_nowhere(mut p: Policy) -> Policy {
        p.source = Location::default();
        for r in p.ingress.iter_mut().chain(p.egress.iter_mut()).flatten() {
            r.source = Location::default();
        }
        p
    }

    #[test]
    fn synthetic_documents_parse_back_to_the_same_policies() {
        let s = scale(300, 4);
        let d = desired(&s, 1).expect("every synthetic shape is written");
        assert_eq!(d.policies.len(), s.policies.policies.len());
        for (doc, want) in d.policies.iter().zip(&s.policies.policies) {
            let got = doc
                .parse()
                .unwrap_or_else(|e| panic!("{e}\n{}", doc.source));
            assert_eq!(located_nowhere(got), want.clone(), "{}", doc.source);
        }
    }
}
