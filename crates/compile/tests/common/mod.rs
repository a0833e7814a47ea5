//! Builders for compiler tests: IR values written tersely, so each test shows only the
//! policy shape it is about. Not every test file uses every helper.
#![allow(dead_code)]

pub mod invariants;
pub mod random;

use bulkhead_compile::program::{Check, NO_RULE};
use bulkhead_compile::{Input, Program, compile};
use bulkhead_policy::ir::{
    Entity, NamespaceMatch, Peer, Policy, PolicyKind, PolicyName, PolicySet, PortMatch, PortSpec,
    Reason, Rule, Subject,
};
use bulkhead_policy::model::NAMESPACE_NAME_LABEL;
use bulkhead_policy::selector::LabelSelector;
use bulkhead_policy::{
    Action, Direction, Inventory, Labels, Location, Mode, NamedPort, Protocol, Workload, WorkloadId,
};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const SCTP: u8 = 132;

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

pub fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn sel(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: labels(pairs),
        match_expressions: vec![],
    }
}

pub fn id(s: &str) -> WorkloadId {
    s.parse().unwrap()
}

/// `x/a` with label `pod: a`, at `addr`, with `ports` as (name, port, protocol).
pub fn workload(wid: &str, addr: &str, ports: &[(&str, u16, Protocol)]) -> Workload {
    let wid = id(wid);
    Workload {
        labels: labels(&[("pod", &wid.name)]),
        namespace_labels: labels(&[(NAMESPACE_NAME_LABEL, &wid.namespace)]),
        id: wid,
        ips: vec![ip(addr)],
        ports: ports
            .iter()
            .map(|(n, p, proto)| NamedPort {
                name: (!n.is_empty()).then(|| n.to_string()),
                port: *p,
                protocol: *proto,
            })
            .collect(),
        node: None,
    }
}

/// Workloads on the lab subnet 10.0.0.0/24 with the node at 10.0.0.1.
pub fn inventory(workloads: Vec<Workload>) -> Inventory {
    Inventory {
        workloads,
        cluster_cidrs: vec![net("10.0.0.0/24")],
        host_ips: vec![ip("10.0.0.1")],
    }
}

/// A policy named `name` (`ns/name` or cluster-wide `name`) selecting `pod: <subject>`
/// (every workload if empty) in the named namespace (every namespace if cluster-wide).
pub fn policy(
    name: &str,
    subject: &str,
    ingress: Option<Vec<Rule>>,
    egress: Option<Vec<Rule>>,
) -> Policy {
    let (namespace, short) = match name.split_once('/') {
        Some((ns, n)) => (Some(ns.to_string()), n.to_string()),
        None => (None, name.to_string()),
    };
    let namespaces = match &namespace {
        Some(ns) => NamespaceMatch::Named(ns.clone()),
        None => NamespaceMatch::Selector(LabelSelector::everything()),
    };
    let workloads = if subject.is_empty() {
        LabelSelector::everything()
    } else {
        sel(&[("pod", subject)])
    };
    let number = |rules: Option<Vec<Rule>>| {
        rules.map(|rs| {
            rs.into_iter()
                .enumerate()
                .map(|(i, r)| Rule { index: i, ..r })
                .collect()
        })
    };
    Policy {
        name: PolicyName {
            namespace,
            name: short,
        },
        kind: PolicyKind::Native,
        source: Location::default(),
        subject: Subject {
            namespaces,
            workloads,
        },
        ingress: number(ingress),
        egress: number(egress),
    }
}

pub fn rule(action: Action, peers: Option<Vec<Peer>>, ports: Option<Vec<PortSpec>>) -> Rule {
    Rule {
        index: 0,
        action,
        peers,
        ports,
        source: Location::default(),
    }
}

pub fn allow(peers: Option<Vec<Peer>>, ports: Option<Vec<PortSpec>>) -> Rule {
    rule(Action::Allow, peers, ports)
}

pub fn deny(peers: Option<Vec<Peer>>, ports: Option<Vec<PortSpec>>) -> Rule {
    rule(Action::Deny, peers, ports)
}

/// Workloads with `pod: <name>` in every namespace.
pub fn pod(name: &str) -> Peer {
    Peer::Workloads {
        namespaces: NamespaceMatch::Selector(LabelSelector::everything()),
        workloads: Some(sel(&[("pod", name)])),
    }
}

pub fn cidr(n: &str, except: &[&str]) -> Peer {
    Peer::Cidr {
        net: net(n),
        except: except.iter().map(|e| net(e)).collect(),
    }
}

pub fn world() -> Peer {
    Peer::Entity(Entity::World)
}

pub fn host() -> Peer {
    Peer::Entity(Entity::Host)
}

pub fn port(protocol: Protocol, first: u16, last: u16) -> PortSpec {
    PortSpec {
        protocol,
        port: PortMatch::Range(first, last),
    }
}

pub fn named(protocol: Protocol, name: &str) -> PortSpec {
    PortSpec {
        protocol,
        port: PortMatch::Named(name.into()),
    }
}

pub fn set(policies: Vec<Policy>) -> PolicySet {
    PolicySet::new(policies).unwrap()
}

/// Compiles for every node with the given modes.
pub fn compile_with(
    policies: &PolicySet,
    inv: &Inventory,
    modes: &BTreeMap<WorkloadId, Mode>,
) -> Program {
    let interfaces = BTreeMap::new();
    let program = compile(&Input {
        policies,
        inventory: inv,
        node: None,
        modes,
        interfaces: &interfaces,
    })
    .unwrap();
    invariants::assert_well_formed(&program);
    program
}

pub fn compile_all(policies: &PolicySet, inv: &Inventory) -> Program {
    compile_with(policies, inv, &BTreeMap::new())
}

/// The check of `endpoint` in `direction` against `peer_ip`, with the reason it names.
pub fn lookup(
    p: &Program,
    endpoint: &str,
    direction: Direction,
    peer_ip: &str,
    protocol: u8,
    port: u16,
) -> (Action, Reason) {
    let e = p.endpoint(&id(endpoint)).unwrap();
    let table = match direction {
        Direction::Ingress => &e.ingress,
        Direction::Egress => &e.egress,
    };
    let Check { action, rule } = table.lookup(p.identity_of(ip(peer_ip)), protocol, port);
    (action, p.rule(rule).unwrap().clone())
}

/// The reason of rule `index` of `policy` in `direction` with `action`.
pub fn reason(policy: &str, direction: Direction, index: usize, action: Action) -> Reason {
    let (namespace, name) = match policy.split_once('/') {
        Some((ns, n)) => (Some(ns.to_string()), n.to_string()),
        None => (None, policy.to_string()),
    };
    Reason::Rule {
        policy: PolicyName { namespace, name },
        direction,
        index,
        action,
    }
}

pub fn not_isolated(action: Action, rule: u32) -> bool {
    action == Action::Allow && rule == NO_RULE
}
