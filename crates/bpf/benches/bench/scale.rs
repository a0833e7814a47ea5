//! Programs of a given size from the compiler's synthetic input (the same input the
//! compiler and nft benchmarks use), with the two real workloads made peers of each
//! other so that client → server on TCP 8080 is allowed, and an interface for every
//! local endpoint (`cli`, `srv`, and dummies `d{i}`).

use bulkhead_compile::{Input, Program, compile, synthetic};
use bulkhead_policy::ir::{NamespaceMatch, Peer, PolicySet, PortMatch};
use bulkhead_policy::selector::LabelSelector;
use bulkhead_policy::{Inventory, WorkloadId};
use std::collections::BTreeMap;

pub const PORT: u16 = 8080;

pub struct Scenario {
    pub workloads: usize,
    pub policies: PolicySet,
    pub inventory: Inventory,
    pub interfaces: BTreeMap<WorkloadId, String>,
}

impl Scenario {
    pub fn client(&self) -> usize {
        self.workloads - 2
    }
    pub fn server(&self) -> usize {
        self.workloads - 1
    }
    /// Dummy interface names of every endpoint but client and server.
    pub fn dummies(&self) -> Vec<String> {
        self.interfaces
            .values()
            .filter(|n| n.starts_with('d'))
            .cloned()
            .collect()
    }
}

fn peer_app(i: usize) -> Peer {
    Peer::Workloads {
        namespaces: NamespaceMatch::Selector(LabelSelector::everything()),
        workloads: Some(LabelSelector {
            match_labels: [("app".to_string(), format!("w{i}"))].into_iter().collect(),
            match_expressions: Vec::new(),
        }),
    }
}

pub fn scenario(workloads: usize, peers: usize) -> Scenario {
    let s = synthetic::scale(workloads, peers);
    let (client, server) = (workloads - 2, workloads - 1);
    let mut policies = s.policies;
    for p in &mut policies.policies {
        let other = match p.name.name.as_str() {
            n if n == format!("w{client}") => server,
            n if n == format!("w{server}") => client,
            _ => continue,
        };
        // Rule 0 of both directions lists the peers: add the other real workload.
        for rules in [p.ingress.as_mut(), p.egress.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(list) = rules[0].peers.as_mut() {
                list.push(peer_app(other));
            }
        }
    }
    let interfaces = s
        .inventory
        .workloads
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let name = match i {
                i if i == client => "cli".to_string(),
                i if i == server => "srv".to_string(),
                i => format!("d{i}"),
            };
            (w.id.clone(), name)
        })
        .collect();
    Scenario {
        workloads,
        policies,
        inventory: s.inventory,
        interfaces,
    }
}

pub fn compile_program(s: &Scenario, policies: &PolicySet) -> Program {
    let modes = BTreeMap::new();
    let input = Input {
        policies,
        inventory: &s.inventory,
        node: None,
        modes: &modes,
        interfaces: &s.interfaces,
    };
    compile(&input).expect("the synthetic policy compiles")
}

/// The policies with one workload's ingress port moved from 8080 to 8081: "one
/// workload's update".
pub fn edit_one(s: &Scenario, which: usize) -> PolicySet {
    let mut edited = s.policies.clone();
    for p in &mut edited.policies {
        if p.name.name == format!("w{which}")
            && let Some(rules) = p.ingress.as_mut()
            && let Some(ports) = rules[0].ports.as_mut()
        {
            ports[0].port = PortMatch::Range(8081, 8081);
        }
    }
    edited
}
