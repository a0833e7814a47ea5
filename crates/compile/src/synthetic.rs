//! A synthetic policy set and inventory of any size, shared by the compiler, nft and
//! eBPF benchmarks so that their numbers describe the same workload.
//!
//! [`scale`]`(workloads, peers)` builds, deterministically (no randomness: the same
//! arguments always give the same value):
//!
//! - `workloads` workloads `w0`, `w1`, … spread over namespaces `ns0`, `ns1`, … of 100
//!   workloads each (labels `team: t0|t1|t2` on the namespace), each with labels
//!   `app: w<i>` and `tier: web|api|db`, the address `10.0.0.0 + 2 + i` inside the
//!   cluster CIDR `10.0.0.0/8`, and a named port `http` (TCP 8080). The host is
//!   `10.255.255.254`. Workloads have no `node`: compile with `node: None`.
//! - One Kubernetes-style policy per workload, `ns<k>/w<i>`, selecting `app: w<i>`:
//!   - ingress 0: allow from `peers` other workloads (picked by a fixed stride, each by
//!     `app` label in any namespace) on TCP 8080;
//!   - ingress 1: allow from `0.0.0.0/0` except `10.0.0.0/8` on TCP 443;
//!   - egress 0: allow to the same `peers` workloads on the named port `http`;
//!   - egress 1: allow UDP 53 to everything.
//! - One native cluster-wide policy `deny-telnet` selecting every workload, denying
//!   ingress TCP 23 from everywhere.
//!
//! Every workload is its own identity, so the program holds about
//! `workloads × (2 × peers + 3)` entries: 10,000 workloads with 10 peers is 230,000.

use bulkhead_policy::ir::{
    NamespaceMatch, Peer, Policy, PolicyKind, PolicyName, PolicySet, PortMatch, PortSpec, Rule,
    Subject,
};
use bulkhead_policy::model::NAMESPACE_NAME_LABEL;
use bulkhead_policy::selector::LabelSelector;
use bulkhead_policy::{
    Action, Inventory, Labels, Location, NamedPort, Protocol, Workload, WorkloadId,
};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// Workloads per namespace.
pub const NAMESPACE_SIZE: usize = 100;
/// The cluster CIDR every synthetic workload lives in.
pub const CLUSTER: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8);
pub const HOST: Ipv4Addr = Ipv4Addr::new(10, 255, 255, 254);

/// A policy set and the inventory it applies to.
#[derive(Clone, Debug)]
pub struct Synthetic {
    pub policies: PolicySet,
    pub inventory: Inventory,
}

impl Synthetic {
    /// The program with every workload local, no modes and no interfaces: the shape
    /// tests and benches compare against.
    pub fn compile(&self) -> Result<crate::Program, crate::CompileError> {
        let (modes, interfaces) = (Default::default(), Default::default());
        crate::compile(&crate::Input {
            policies: &self.policies,
            inventory: &self.inventory,
            node: None,
            modes: &modes,
            interfaces: &interfaces,
        })
    }
}

/// The synthetic input described in the [module docs](self).
pub fn scale(workloads: usize, peers: usize) -> Synthetic {
    let inventory = Inventory {
        workloads: (0..workloads).map(workload).collect(),
        cluster_cidrs: vec![CLUSTER],
        host_ips: vec![HOST],
    };
    let mut policies: Vec<Policy> = (0..workloads)
        .map(|i| per_workload(i, workloads, peers))
        .collect();
    policies.push(deny_telnet());
    policies.sort_by(|a, b| a.name.cmp(&b.name));
    Synthetic {
        policies: PolicySet { policies },
        inventory,
    }
}

/// The address of workload `i`: `10.0.0.2 + i` (10.0.0.0/8 holds 16 million).
pub fn address(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(CLUSTER.network()).wrapping_add(2 + i as u32))
}

/// The peers of workload `i` among `n`: a fixed stride over the others, so each
/// workload is a peer of about `peers` others and no two lists are alike.
pub fn peers_of(i: usize, n: usize, peers: usize) -> Vec<usize> {
    if n < 2 {
        return Vec::new();
    }
    let mut out: Vec<usize> = (1..=peers.min(n - 1))
        .map(|k| (i + k * k * 7 + k) % n)
        .filter(|&j| j != i)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn namespace(i: usize) -> String {
    format!("ns{}", i / NAMESPACE_SIZE)
}

fn workload(i: usize) -> Workload {
    let ns = namespace(i);
    let team = format!("t{}", (i / NAMESPACE_SIZE) % 3);
    let tier = ["web", "api", "db"][i % 3];
    Workload {
        id: WorkloadId::new(ns.clone(), format!("w{i}")),
        labels: labels(&[("app", &format!("w{i}")), ("tier", tier)]),
        namespace_labels: labels(&[(NAMESPACE_NAME_LABEL, &ns), ("team", &team)]),
        ips: vec![address(i)],
        ports: vec![NamedPort {
            name: Some("http".into()),
            port: 8080,
            protocol: Protocol::Tcp,
        }],
        node: None,
    }
}

fn app(i: usize) -> Peer {
    Peer::Workloads {
        namespaces: NamespaceMatch::Selector(LabelSelector::everything()),
        workloads: Some(LabelSelector {
            match_labels: labels(&[("app", &format!("w{i}"))]),
            match_expressions: Vec::new(),
        }),
    }
}

fn rule(index: usize, action: Action, peers: Option<Vec<Peer>>, ports: Vec<PortSpec>) -> Rule {
    Rule {
        index,
        action,
        peers,
        ports: Some(ports),
        source: Location::default(),
    }
}

fn port(protocol: Protocol, port: PortMatch) -> PortSpec {
    PortSpec { protocol, port }
}

fn per_workload(i: usize, n: usize, peers: usize) -> Policy {
    let ns = namespace(i);
    let list = || Some(peers_of(i, n, peers).into_iter().map(app).collect());
    let world = Peer::Cidr {
        net: Ipv4Net::default(),
        except: vec![CLUSTER],
    };
    Policy {
        name: PolicyName {
            namespace: Some(ns.clone()),
            name: format!("w{i}"),
        },
        kind: PolicyKind::Kubernetes,
        source: Location::default(),
        subject: Subject {
            namespaces: NamespaceMatch::Named(ns),
            workloads: LabelSelector {
                match_labels: labels(&[("app", &format!("w{i}"))]),
                match_expressions: Vec::new(),
            },
        },
        ingress: Some(vec![
            rule(
                0,
                Action::Allow,
                list(),
                vec![port(Protocol::Tcp, PortMatch::Range(8080, 8080))],
            ),
            rule(
                1,
                Action::Allow,
                Some(vec![world]),
                vec![port(Protocol::Tcp, PortMatch::Range(443, 443))],
            ),
        ]),
        egress: Some(vec![
            rule(
                0,
                Action::Allow,
                list(),
                vec![port(Protocol::Tcp, PortMatch::Named("http".into()))],
            ),
            rule(
                1,
                Action::Allow,
                None,
                vec![port(Protocol::Udp, PortMatch::Range(53, 53))],
            ),
        ]),
    }
}

fn deny_telnet() -> Policy {
    Policy {
        name: PolicyName {
            namespace: None,
            name: "deny-telnet".into(),
        },
        kind: PolicyKind::Native,
        source: Location::default(),
        subject: Subject {
            namespaces: NamespaceMatch::Selector(LabelSelector::everything()),
            workloads: LabelSelector::everything(),
        },
        ingress: Some(vec![rule(
            0,
            Action::Deny,
            None,
            vec![port(Protocol::Tcp, PortMatch::Range(23, 23))],
        )]),
        egress: None,
    }
}
