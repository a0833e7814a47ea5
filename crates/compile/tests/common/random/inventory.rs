//! Random inventories: one to six workloads in one to three namespaces, some with two
//! addresses or outside the cluster CIDRs, with named and unnamed ports.

use super::{NAMES, NAMESPACES, PORT_NAMES, PORT_NUMBERS, protocol};
use crate::common::{ip, labels, net};
use bulkhead_policy::model::NAMESPACE_NAME_LABEL;
use bulkhead_policy::{Inventory, NamedPort, Workload, WorkloadId};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use std::net::Ipv4Addr;

pub(super) fn inventory(rng: &mut ChaCha8Rng) -> Inventory {
    let namespaces = &NAMESPACES[..rng.random_range(1..=3)];
    let teams: Vec<&str> = namespaces
        .iter()
        .map(|_| *["a", "b"].choose(rng).unwrap())
        .collect();
    let count = rng.random_range(1..=6);
    let mut used: Vec<u8> = vec![0, 1];
    let mut workloads = Vec::new();
    for name in &NAMES[..count] {
        let n = rng.random_range(0..namespaces.len());
        let mut ips = Vec::new();
        for _ in 0..if rng.random_bool(0.15) { 2 } else { 1 } {
            let mut last = rng.random_range(2..=40);
            while used.contains(&last) {
                last = rng.random_range(2..=40);
            }
            used.push(last);
            // Now and then a workload outside the cluster CIDRs: `world` covers it too.
            let third = if rng.random_bool(0.08) { 2 } else { 0 };
            ips.push(Ipv4Addr::new(10, 0, third, last));
        }
        let mut l = vec![("pod", *name), ("app", *["web", "db"].choose(rng).unwrap())];
        if rng.random_bool(0.5) {
            l.push(("tier", *["1", "2"].choose(rng).unwrap()));
        }
        let ports = (0..rng.random_range(0..=3))
            .map(|_| NamedPort {
                name: Some(PORT_NAMES[..3].choose(rng).unwrap().to_string())
                    .filter(|_| rng.random_bool(0.8)),
                port: *PORT_NUMBERS[1..6].choose(rng).unwrap(),
                protocol: protocol(rng),
            })
            .collect();
        workloads.push(Workload {
            id: WorkloadId::new(namespaces[n], *name),
            labels: labels(&l),
            namespace_labels: labels(&[(NAMESPACE_NAME_LABEL, namespaces[n]), ("team", teams[n])]),
            ips,
            ports,
            node: None,
        });
    }
    // Rarely no cluster CIDR at all (then everything is `world`) or no host address.
    let mut cluster_cidrs = vec![net("10.0.0.0/26")];
    if rng.random_bool(0.3) {
        cluster_cidrs.push(net("192.168.1.0/24"));
    }
    if rng.random_bool(0.05) {
        cluster_cidrs.clear();
    }
    let mut host_ips = vec![ip("10.0.0.1")];
    if rng.random_bool(0.3) {
        host_ips.push(ip("10.0.0.63"));
    }
    if rng.random_bool(0.05) {
        host_ips.clear();
    }
    Inventory {
        workloads,
        cluster_cidrs,
        host_ips,
    }
}
