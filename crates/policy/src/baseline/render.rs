//! A baseline as YAML: native `bulkhead.dev/v1` Policies, or Kubernetes NetworkPolicies
//! with the same verdicts.
//!
//! Evidence is written twice on purpose: as a comment above each rule (what a reviewer
//! reads) and as a `bulkhead.dev/evidence-<direction>-<index>` annotation (what survives
//! `kubectl apply` and any tool that drops comments).
//!
//! The Kubernetes form differs only where the kinds differ: `entity: host` becomes an
//! `ipBlock` per node address, a peer in the policy's own namespace is a bare
//! `podSelector` (as a native `selector` alone), one in another namespace adds a
//! `namespaceSelector` on `kubernetes.io/metadata.name`; `policyTypes` lists both
//! directions, so an empty list denies that direction in both kinds.

use super::aggregate::namespace_labels;
use super::{Baseline, LearnedPeer, LearnedPolicy, LearnedPort, LearnedRule};
use crate::emit::{self, Item, Yaml};
use crate::model::{Inventory, Labels, Protocol};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which document kind a baseline is written as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Native,
    Kubernetes,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "native" => Ok(Format::Native),
            "kubernetes" | "k8s" => Ok(Format::Kubernetes),
            _ => Err(format!(
                "unknown format `{s}`, expected native or kubernetes"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Native => "native",
            Format::Kubernetes => "kubernetes",
        })
    }
}

/// The baseline as multi-document YAML that `policy check` reads back to the same policies.
/// `inventory` supplies the node addresses the Kubernetes form spells `host` with.
pub fn render(b: &Baseline, inventory: &Inventory, format: Format) -> String {
    let mut docs: Vec<(Vec<String>, Yaml)> = Vec::new();
    for (i, p) in b.policies.iter().enumerate() {
        let mut header = Vec::new();
        if i == 0 {
            header.push(summary(b));
        }
        let members: Vec<String> = p.members.iter().map(ToString::to_string).collect();
        header.push(format!(
            "{}/{}: learned for {}",
            p.namespace,
            p.name,
            members.join(", ")
        ));
        let doc = match format {
            Format::Native => native(p),
            Format::Kubernetes => kubernetes(p, inventory),
        };
        docs.push((header, doc));
    }
    if docs.is_empty() {
        return format!("# {}\n", summary(b));
    }
    emit::documents(&docs)
}

fn summary(b: &Baseline) -> String {
    let skipped: u64 = b.skipped.iter().map(|s| s.flows).sum();
    let mut text = format!(
        "Baseline learned by Bulkhead: {} polic{}. Review before applying.",
        b.policies.len(),
        if b.policies.len() == 1 { "y" } else { "ies" }
    );
    if skipped > 0 {
        text.push_str(&format!(
            "\n{skipped} recorded flows could not be learned (see `skipped` in the API answer):"
        ));
        for s in b.skipped.iter().take(20) {
            text.push_str(&format!(
                "\n  {} -> {} protocol {} port {}: {}",
                s.source, s.destination, s.protocol, s.port, s.reason
            ));
        }
    }
    text
}

fn metadata(p: &LearnedPolicy) -> Yaml {
    let mut notes = vec![(
        "bulkhead.dev/generated-by".to_string(),
        Yaml::str("bulkhead baseline"),
    )];
    for (dir, rules) in [("ingress", &p.ingress), ("egress", &p.egress)] {
        for (i, r) in rules.iter().enumerate() {
            notes.push((
                format!("bulkhead.dev/evidence-{dir}-{i}"),
                Yaml::Str(r.evidence.to_string()),
            ));
        }
    }
    Yaml::map([
        ("name", Yaml::str(&p.name)),
        ("namespace", Yaml::str(&p.namespace)),
        ("annotations", Yaml::Map(notes)),
    ])
}

fn match_labels(labels: &Labels) -> Yaml {
    let entries = labels.iter().map(|(k, v)| (k.clone(), Yaml::str(v)));
    Yaml::map([("matchLabels", Yaml::map(entries))])
}

fn rules(rules: &[LearnedRule], rule: impl Fn(&LearnedRule) -> Option<Yaml>) -> Yaml {
    Yaml::Seq(
        rules
            .iter()
            .filter_map(|r| {
                rule(r).map(|value| Item {
                    comments: vec![r.evidence.to_string()],
                    value,
                })
            })
            .collect(),
    )
}

fn native(p: &LearnedPolicy) -> Yaml {
    let peer = |peer: &LearnedPeer| match peer {
        LearnedPeer::Workloads { namespace, labels } if *namespace == p.namespace => {
            Yaml::map([("selector", match_labels(labels))])
        }
        LearnedPeer::Workloads { namespace, labels } => Yaml::map([
            (
                "namespaceSelector",
                match_labels(&namespace_labels(namespace)),
            ),
            ("selector", match_labels(labels)),
        ]),
        LearnedPeer::Host => Yaml::map([("entity", Yaml::str("host"))]),
        LearnedPeer::Cidr { cidr } => Yaml::map([("cidr", Yaml::Str(cidr.to_string()))]),
    };
    let port = |q: &LearnedPort| match q.protocol {
        Protocol::Tcp => Yaml::Int(i64::from(q.port)),
        other => Yaml::map([
            ("port", Yaml::Int(i64::from(q.port))),
            ("protocol", Yaml::str(other.as_str())),
        ]),
    };
    let rule = |key: &'static str| {
        move |r: &LearnedRule| {
            Some(Yaml::map([
                ("action", Yaml::str("allow")),
                (key, Yaml::seq([peer(&r.peer)])),
                ("ports", Yaml::seq(r.ports.iter().map(port))),
            ]))
        }
    };
    Yaml::map([
        ("apiVersion", Yaml::str("bulkhead.dev/v1")),
        ("kind", Yaml::str("Policy")),
        ("metadata", metadata(p)),
        (
            "spec",
            Yaml::map([
                ("selector", match_labels(&p.selector)),
                ("ingress", rules(&p.ingress, rule("from"))),
                ("egress", rules(&p.egress, rule("to"))),
            ]),
        ),
    ])
}

fn kubernetes(p: &LearnedPolicy, inventory: &Inventory) -> Yaml {
    let block = |cidr: Ipv4Net| {
        Yaml::map([(
            "ipBlock",
            Yaml::map([("cidr", Yaml::Str(cidr.to_string()))]),
        )])
    };
    let peers = |peer: &LearnedPeer| -> Vec<Yaml> {
        match peer {
            LearnedPeer::Workloads { namespace, labels } if *namespace == p.namespace => {
                vec![Yaml::map([("podSelector", match_labels(labels))])]
            }
            LearnedPeer::Workloads { namespace, labels } => vec![Yaml::map([
                (
                    "namespaceSelector",
                    match_labels(&namespace_labels(namespace)),
                ),
                ("podSelector", match_labels(labels)),
            ])],
            LearnedPeer::Host => inventory
                .host_ips
                .iter()
                .map(|ip| block(Ipv4Net::from(*ip)))
                .collect(),
            LearnedPeer::Cidr { cidr } => vec![block(*cidr)],
        }
    };
    let port = |q: &LearnedPort| {
        Yaml::map([
            ("port", Yaml::Int(i64::from(q.port))),
            ("protocol", Yaml::str(q.protocol.as_str())),
        ])
    };
    let rule = |key: &'static str| {
        move |r: &LearnedRule| {
            // An empty peer list allows every peer in a NetworkPolicy: never write one.
            let list = peers(&r.peer);
            (!list.is_empty()).then(|| {
                Yaml::map([
                    (key, Yaml::seq(list)),
                    ("ports", Yaml::seq(r.ports.iter().map(port))),
                ])
            })
        }
    };
    Yaml::map([
        ("apiVersion", Yaml::str("networking.k8s.io/v1")),
        ("kind", Yaml::str("NetworkPolicy")),
        ("metadata", metadata(p)),
        (
            "spec",
            Yaml::map([
                ("podSelector", match_labels(&p.selector)),
                (
                    "policyTypes",
                    Yaml::seq([Yaml::str("Ingress"), Yaml::str("Egress")]),
                ),
                ("ingress", rules(&p.ingress, rule("from"))),
                ("egress", rules(&p.egress, rule("to"))),
            ]),
        ),
    ])
}
