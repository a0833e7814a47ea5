//! Random policy sets and inventories from a seed, small enough to check every flow
//! between their addresses, varied enough to reach every corner of the semantics:
//! namespace and label selectors with every operator, Kubernetes-style (allow only, own
//! namespace) and native rules (deny, cluster-wide), CIDRs with nested excepts, the
//! world and host entities, numeric, `endPort`, protocol-wide and named ports (some of
//! which no workload defines), absent peers and ports, and empty rule lists.

mod inventory;

use super::{ip, net};
use bulkhead_policy::ir::{
    Entity, NamespaceMatch, Peer, Policy, PolicyKind, PolicyName, PolicySet, PortMatch, PortSpec,
    Rule, Subject,
};
use bulkhead_policy::model::NAMESPACE_NAME_LABEL;
use bulkhead_policy::selector::{LabelSelector, Operator, Requirement};
use bulkhead_policy::{Action, Inventory, Location, Protocol};
use ipnet::Ipv4Net;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::net::Ipv4Addr;

pub struct Case {
    pub policies: PolicySet,
    pub inventory: Inventory,
}

pub(super) const NAMESPACES: [&str; 3] = ["x", "y", "z"];
pub(super) const NAMES: [&str; 7] = ["a", "b", "c", "d", "e", "f", "g"];
pub(super) const PORT_NAMES: [&str; 4] = ["http", "dns", "metrics", "nope"];
pub(super) const PORT_NUMBERS: [u16; 7] = [0, 53, 80, 81, 8080, 9090, 65535];
/// Nested and overlapping prefixes around the lab subnet 10.0.0.0/26, plus outside ones.
const NETS: [&str; 11] = [
    "10.0.0.0/26",
    "10.0.0.0/28",
    "10.0.0.16/28",
    "10.0.0.8/29",
    "10.0.0.4/30",
    "10.0.0.10/32",
    "10.0.0.0/24",
    "0.0.0.0/0",
    "192.168.0.0/16",
    "192.168.1.0/24",
    "10.0.0.32/27",
];

pub fn case(seed: u64) -> Case {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let inventory = inventory::inventory(&mut rng);
    let count = rng.random_range(1..=4);
    let mut policies: Vec<Policy> = Vec::new();
    while policies.len() < count {
        let p = policy(&mut rng);
        if policies
            .iter()
            .all(|q| q.name.to_string() != p.name.to_string())
        {
            policies.push(p);
        }
    }
    Case {
        policies: PolicySet::new(policies).unwrap(),
        inventory,
    }
}

/// The addresses worth probing: every workload and host address, an unused lab
/// address, addresses inside and outside the listed prefixes, and outside ones.
pub fn addresses(inv: &Inventory) -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = inv.workloads.iter().flat_map(|w| w.ips.clone()).collect();
    out.extend(inv.host_ips.iter().copied());
    for a in [
        "10.0.0.5",
        "10.0.0.10",
        "10.0.0.20",
        "10.0.0.50",
        "10.0.0.100",
        "10.1.2.3",
    ] {
        out.push(ip(a));
    }
    for a in ["192.168.1.1", "192.168.2.2", "8.8.8.8"] {
        out.push(ip(a));
    }
    out.sort();
    out.dedup();
    out
}

/// Every port a rule or workload mentions, and its neighbours.
pub fn ports(case: &Case) -> Vec<u16> {
    let mut base: Vec<u16> = vec![0, 65535];
    for w in &case.inventory.workloads {
        base.extend(w.ports.iter().map(|p| p.port));
    }
    for p in &case.policies.policies {
        for r in p.ingress.iter().chain(p.egress.iter()).flatten() {
            for s in r.ports.iter().flatten() {
                if let PortMatch::Range(a, b) = s.port {
                    base.extend([a, b]);
                }
            }
        }
    }
    let mut out: Vec<u16> = base
        .iter()
        .flat_map(|&p| [p.saturating_sub(1), p, p.saturating_add(1)])
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

pub(super) fn protocol(rng: &mut ChaCha8Rng) -> Protocol {
    *Protocol::ALL.choose(rng).unwrap()
}

fn selector(rng: &mut ChaCha8Rng, keys: &[(&str, &[&str])]) -> LabelSelector {
    let mut s = LabelSelector::everything();
    for _ in 0..rng.random_range(0..=2) {
        let (key, values) = *keys.choose(rng).unwrap();
        let value = values.choose(rng).unwrap().to_string();
        if rng.random_bool(0.5) {
            s.match_labels.insert(key.to_string(), value);
            continue;
        }
        let operator = *[
            Operator::In,
            Operator::NotIn,
            Operator::Exists,
            Operator::DoesNotExist,
        ]
        .choose(rng)
        .unwrap();
        let values = match operator {
            Operator::In | Operator::NotIn => [value].into(),
            Operator::Exists | Operator::DoesNotExist => Default::default(),
        };
        s.match_expressions.push(Requirement {
            key: key.to_string(),
            operator,
            values,
        });
    }
    s
}

const WORKLOAD_KEYS: [(&str, &[&str]); 3] = [
    ("pod", &["a", "b", "c", "d"]),
    ("app", &["web", "db"]),
    ("tier", &["1", "2"]),
];
const NAMESPACE_KEYS: [(&str, &[&str]); 2] = [
    (NAMESPACE_NAME_LABEL, &["x", "y", "z"]),
    ("team", &["a", "b"]),
];

fn namespaces(rng: &mut ChaCha8Rng) -> NamespaceMatch {
    if rng.random_bool(0.4) {
        NamespaceMatch::Named(NAMESPACES.choose(rng).unwrap().to_string())
    } else {
        NamespaceMatch::Selector(selector(rng, &NAMESPACE_KEYS))
    }
}

fn policy(rng: &mut ChaCha8Rng) -> Policy {
    let kubernetes = rng.random_bool(0.5);
    let namespace =
        (kubernetes || rng.random_bool(0.6)).then(|| NAMESPACES.choose(rng).unwrap().to_string());
    let subject = Subject {
        namespaces: match &namespace {
            Some(ns) => NamespaceMatch::Named(ns.clone()),
            None => NamespaceMatch::Selector(selector(rng, &NAMESPACE_KEYS)),
        },
        workloads: selector(rng, &WORKLOAD_KEYS),
    };
    let direction = |rng: &mut ChaCha8Rng| {
        rng.random_bool(0.7).then(|| {
            (0..rng.random_range(0..=3))
                .map(|index| rule(rng, index, kubernetes))
                .collect()
        })
    };
    let ingress = direction(rng);
    let egress = direction(rng);
    Policy {
        name: PolicyName {
            namespace,
            name: ["p", "q", "r", "s"].choose(rng).unwrap().to_string(),
        },
        kind: if kubernetes {
            PolicyKind::Kubernetes
        } else {
            PolicyKind::Native
        },
        source: Location::default(),
        subject,
        ingress,
        egress,
    }
}

fn rule(rng: &mut ChaCha8Rng, index: usize, kubernetes: bool) -> Rule {
    let action = if !kubernetes && rng.random_bool(0.35) {
        Action::Deny
    } else {
        Action::Allow
    };
    let peers = rng
        .random_bool(0.75)
        .then(|| (0..rng.random_range(1..=2)).map(|_| peer(rng)).collect());
    let ports = rng
        .random_bool(0.65)
        .then(|| (0..rng.random_range(1..=2)).map(|_| port(rng)).collect());
    Rule {
        index,
        action,
        peers,
        ports,
        source: Location::default(),
    }
}

fn peer(rng: &mut ChaCha8Rng) -> Peer {
    match rng.random_range(0..10) {
        0..5 => Peer::Workloads {
            namespaces: namespaces(rng),
            workloads: rng.random_bool(0.8).then(|| selector(rng, &WORKLOAD_KEYS)),
        },
        5..9 => {
            let n = net(NETS.choose(rng).unwrap());
            // Mostly excepts strictly inside (as Kubernetes requires); now and then
            // any prefix at all (the native kind and the IR allow it), and now and
            // then a net written with host bits.
            let inside: Vec<Ipv4Net> = NETS
                .iter()
                .map(|s| net(s))
                .filter(|e| rng.random_bool(0.1) || (n.contains(e) && *e != n))
                .collect();
            let n = if rng.random_bool(0.1) {
                Ipv4Net::new(Ipv4Addr::from(u32::from(n.network()) | 3), n.prefix_len()).unwrap()
            } else {
                n
            };
            let mut except: Vec<Ipv4Net> = Vec::new();
            for _ in 0..rng.random_range(0..=2) {
                if let Some(e) = inside.choose(rng) {
                    except.push(*e);
                }
            }
            except.sort();
            except.dedup();
            Peer::Cidr { net: n, except }
        }
        _ => Peer::Entity(*[Entity::World, Entity::Host].choose(rng).unwrap()),
    }
}

fn port(rng: &mut ChaCha8Rng) -> PortSpec {
    let port = match rng.random_range(0..6) {
        0 => PortMatch::Any,
        1 | 2 => PortMatch::Named(PORT_NAMES.choose(rng).unwrap().to_string()),
        _ => {
            let first = *PORT_NUMBERS.choose(rng).unwrap();
            let width = *[0u16, 0, 1, 20, 1000].choose(rng).unwrap();
            PortMatch::Range(first, first.saturating_add(width))
        }
    };
    PortSpec {
        protocol: protocol(rng),
        port,
    }
}
