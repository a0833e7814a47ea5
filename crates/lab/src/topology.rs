//! What a lab file asks for, in kernel terms: which namespaces, bridges, veths and
//! addresses. Pure: [`crate::up`] compares this with what exists.
//!
//! The shape, per node namespace `{lab}-{node}`:
//!
//! ```text
//!  workload ns {lab}-{ns}-{name}          node ns {lab}-{node}            underlay ns {lab}-underlay
//!  eth0 (ip/prefix, default via host) ── vXXXXXXXX ─┐                     (only with several nodes)
//!                                                   br0 (host_ip/prefix) ── uplink ── n-{node} ── br0
//! ```
//!
//! With several nodes each node's bridge has an `uplink` veth to one shared underlay
//! bridge, so the whole lab subnet is one L2 domain and traffic between nodes crosses
//! both nodes' bridges (and so both nodes' forward paths, where enforcement happens).

use bulkhead_policy::lab::LabFile;
use bulkhead_policy::{NamedPort, WorkloadId};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// The bridge inside every node namespace (and the underlay), holding the node's host_ip.
pub const BRIDGE: &str = "br0";
/// A node's link to the underlay, a port of its bridge.
pub const UPLINK: &str = "uplink";
/// The workload side of its veth, inside the workload's namespace.
pub const WORKLOAD_IF: &str = "eth0";

/// The namespace joining the nodes of a multi-node lab. Node names are at most 4
/// characters and workload namespaces have two dashes, so this never collides.
pub fn underlay_netns(lab: &str) -> String {
    format!("{lab}-underlay")
}

/// The underlay's port for a node.
pub(crate) fn underlay_port(node: &str) -> String {
    format!("n-{node}")
}

#[derive(Clone, Debug)]
pub(crate) struct NodeSpec {
    pub name: String,
    pub netns: String,
    pub host_ip: Ipv4Addr,
    pub mac: [u8; 6],
}

#[derive(Clone, Debug)]
pub(crate) struct WorkloadSpec {
    pub id: WorkloadId,
    pub netns: String,
    pub node: String,
    pub host_if: String,
    /// The MAC of its `eth0`: fixed, so neighbour and bridge tables can be static.
    pub mac: [u8; 6],
    pub ip: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub ports: Vec<NamedPort>,
}

#[derive(Clone, Debug)]
pub(crate) struct Topology {
    pub prefix: u8,
    pub nodes: Vec<NodeSpec>,
    pub workloads: Vec<WorkloadSpec>,
    /// Present when the lab has more than one node.
    pub underlay: Option<String>,
}

impl Topology {
    pub fn of(lab: &LabFile) -> Topology {
        let hosts = lab.host_interfaces();
        let mut macs = Macs::default();
        let nodes = lab
            .nodes
            .iter()
            .map(|n| NodeSpec {
                name: n.name.clone(),
                netns: lab.node_netns(&n.name),
                host_ip: n.host_ip,
                mac: macs.take(&format!("{}/{}", lab.name, n.name)),
            })
            .collect::<Vec<_>>();
        // In id order, so a MAC depends on the lab's workloads, not on their order.
        let mut ids: Vec<_> = lab.workloads.iter().map(|w| &w.id).collect();
        ids.sort();
        let wl_macs: BTreeMap<_, _> = ids
            .into_iter()
            .map(|id| (id, macs.take(&format!("{}/{id}", lab.name))))
            .collect();
        let workloads = lab
            .workloads
            .iter()
            .map(|w| WorkloadSpec {
                id: w.id.clone(),
                netns: lab.workload_netns(&w.id),
                node: w.node.clone(),
                host_if: hosts.get(&w.id).cloned().unwrap_or_default(),
                mac: wl_macs.get(&w.id).copied().unwrap_or_default(),
                ip: w.ip,
                gateway: lab.node(&w.node).map_or(w.ip, |n| n.host_ip),
                ports: w.ports.clone(),
            })
            .collect();
        Topology {
            prefix: lab.subnet.prefix_len(),
            underlay: (nodes.len() > 1).then(|| underlay_netns(&lab.name)),
            nodes,
            workloads,
        }
    }

    /// Every namespace this topology uses.
    pub fn netns_names(&self) -> Vec<String> {
        let nodes = self.nodes.iter().map(|n| n.netns.clone());
        let wls = self.workloads.iter().map(|w| w.netns.clone());
        nodes.chain(wls).chain(self.underlay.clone()).collect()
    }

    pub fn on_node<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a WorkloadSpec> + 'a {
        self.workloads.iter().filter(move |w| w.node == node)
    }
}

/// Hands out distinct MACs derived from names (a rare hash collision moves the later
/// name to its next candidate).
#[derive(Default)]
struct Macs(BTreeSet<[u8; 6]>);

impl Macs {
    fn take(&mut self, seed: &str) -> [u8; 6] {
        let mut mac = local_mac(seed);
        let mut k = 0;
        while !self.0.insert(mac) {
            k += 1;
            mac = local_mac(&format!("{seed}#{k}"));
        }
        mac
    }
}

/// A locally administered unicast MAC derived from a name, stable across runs.
pub(crate) fn local_mac(seed: &str) -> [u8; 6] {
    let h = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let b = h.to_be_bytes();
    [0x02, b[1], b[2], b[3], b[4], b[5]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(text: &str) -> LabFile {
        match LabFile::parse("t.yaml", text) {
            Ok(l) => l,
            Err(d) => panic!("{d}"),
        }
    }

    #[test]
    fn single_node_names() {
        let t = Topology::of(&lab(
            "name: np\nsubnet: 10.0.0.0/16\nworkloads:\n  - {name: a, namespace: x, ip: 10.0.0.10}\n",
        ));
        assert_eq!(t.underlay, None);
        assert_eq!(t.nodes[0].netns, "np-node");
        assert_eq!(t.nodes[0].host_ip, Ipv4Addr::new(10, 0, 0, 1));
        let w = &t.workloads[0];
        assert_eq!(w.netns, "np-x-a");
        assert_eq!(w.node, "node");
        assert_eq!(w.gateway, Ipv4Addr::new(10, 0, 0, 1));
        assert!(w.host_if.starts_with('v') && w.host_if.len() == 9);
        assert_eq!(t.prefix, 16);
        assert_eq!(t.netns_names(), vec!["np-node", "np-x-a"]);
    }

    #[test]
    fn multi_node_has_an_underlay_and_per_node_gateways() {
        let t = Topology::of(&lab(
            "name: mn\nsubnet: 10.1.0.0/24\nnodes: [{name: n1}, {name: n2}]\nworkloads:\n  - {name: a, ip: 10.1.0.10, node: n1}\n  - {name: b, ip: 10.1.0.11, node: n2}\n",
        ));
        assert_eq!(t.underlay.as_deref(), Some("mn-underlay"));
        assert_eq!(t.workloads[1].gateway, Ipv4Addr::new(10, 1, 0, 2));
        assert_eq!(t.on_node("n2").count(), 1);
        assert_ne!(t.nodes[0].mac, t.nodes[1].mac);
        assert_ne!(t.workloads[0].mac, t.workloads[1].mac);
        let mut m = Macs::default();
        let first = m.take("x");
        assert_ne!(m.take("x"), first, "a taken MAC is never handed out twice");
        assert_eq!(
            t.nodes[0].mac[0] & 0x03,
            0x02,
            "locally administered unicast"
        );
    }
}
