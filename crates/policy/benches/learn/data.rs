//! A synthetic cluster and a million recorded flow records over it, from a fixed seed.
//!
//! 10 namespaces × 40 apps × 5 replicas (2,000 workloads, each with a per-copy
//! `pod-template-hash` label); each app calls 3 other apps on one port; 10% of the
//! records come from 50 outside /24 networks, 5% go out to DNS resolvers, 2% come from
//! the node.

use bulkhead_policy::baseline::{Endpoint, Observation};
use bulkhead_policy::model::{
    Inventory, Labels, NAMESPACE_NAME_LABEL, NamedPort, Protocol, Workload, WorkloadId,
};
use std::net::Ipv4Addr;

pub const NAMESPACES: usize = 10;
pub const APPS: usize = 40;
pub const REPLICAS: usize = 5;
pub const HOST: Ipv4Addr = Ipv4Addr::new(10, 255, 255, 1);

/// xorshift64*: enough randomness for a benchmark, and no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn port_of(app: usize) -> u16 {
    8000 + (app % 40) as u16
}

pub fn inventory() -> Inventory {
    let mut workloads = Vec::new();
    for ns in 0..NAMESPACES {
        let namespace = format!("ns{ns}");
        let ns_labels = Labels::from([(NAMESPACE_NAME_LABEL.to_string(), namespace.clone())]);
        for app in 0..APPS {
            for r in 0..REPLICAS {
                let labels = Labels::from([
                    ("app".to_string(), format!("app{app}")),
                    ("tier".to_string(), format!("t{}", app % 3)),
                    ("pod-template-hash".to_string(), format!("h{r}x{app}")),
                ]);
                workloads.push(Workload {
                    id: WorkloadId::new(namespace.clone(), format!("app{app}-{r}")),
                    labels,
                    namespace_labels: ns_labels.clone(),
                    ips: vec![Ipv4Addr::new(10, ns as u8, app as u8, r as u8 + 1)],
                    ports: vec![NamedPort {
                        name: None,
                        port: port_of(app),
                        protocol: Protocol::Tcp,
                    }],
                    node: None,
                });
            }
        }
    }
    Inventory {
        workloads,
        cluster_cidrs: vec!["10.0.0.0/8".parse().expect("a CIDR")],
        host_ips: vec![HOST],
    }
}

/// `n` records; time spread over a day from `t0`.
pub fn observations(inv: &Inventory, n: usize, seed: u64) -> Vec<Observation> {
    let mut rng = Rng::new(seed);
    // Each (namespace, app) calls three apps of its namespace or the next one.
    let calls: Vec<[(usize, usize); 3]> = (0..NAMESPACES * APPS)
        .map(|_| [0; 3].map(|_| ((rng.below(NAMESPACES)), rng.below(APPS))))
        .collect();
    let id = |ns: usize, app: usize, r: usize| &inv.workloads[(ns * APPS + app) * REPLICAS + r].id;
    let t0 = 1_700_000_000_000_i64;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (ns, app, r) = (rng.below(NAMESPACES), rng.below(APPS), rng.below(REPLICAS));
        let me = Endpoint::Workload(id(ns, app, r).clone());
        let roll = rng.below(100);
        let (source, destination, protocol, port) = if roll < 10 {
            let net = rng.below(50) as u8;
            let outside = Endpoint::Address(Ipv4Addr::new(198, 18, net, rng.below(256) as u8));
            (outside, me, 6, port_of(app))
        } else if roll < 15 {
            let dns = Endpoint::Address(Ipv4Addr::new(8, 8, rng.below(2) as u8 * 4 + 4, 8));
            (me, dns, 17, 53)
        } else if roll < 17 {
            (Endpoint::Address(HOST), me, 6, port_of(app))
        } else {
            let (cns, capp) = calls[ns * APPS + app][rng.below(3)];
            let peer = Endpoint::Workload(id(cns, capp, rng.below(REPLICAS)).clone());
            (me, peer, 6, port_of(capp))
        };
        let first_seen = t0 + rng.below(86_400_000) as i64;
        out.push(Observation {
            source,
            destination,
            protocol,
            port,
            flows: 1 + rng.below(10) as u64,
            first_seen,
            last_seen: first_seen + rng.below(60_000) as i64,
        });
    }
    out
}
