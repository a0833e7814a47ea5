//! The lab's static L2 state: every lab address resolves through a permanent neighbour
//! entry and every lab MAC has a static forwarding entry on every bridge, all derived
//! from the topology (MACs are fixed per workload and node).
//!
//! Why static: the kernel's ARP table is shared by all namespaces and holds only 1024
//! young dynamic entries machine-wide (see [`crate::rtnl`]'s neighbour module), which a
//! full mesh of ~32 workloads exhausts; static entries do not count, need no ARP
//! round trip, and make a moved address take effect at once. Bridges with static
//! entries never flood a lab frame to every port.

use crate::error::{LabError, Result};
use crate::rtnl::Rtnl;
use crate::topology::{NodeSpec, Topology, UPLINK, WorkloadSpec, underlay_port};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;

pub(crate) type Entries = Vec<(Ipv4Addr, [u8; 6])>;

/// What a workload's `eth0` resolves: every other workload and every node's address.
pub(crate) fn workload_neighbours(t: &Topology, w: &WorkloadSpec) -> Entries {
    let others = t
        .workloads
        .iter()
        .filter(|o| o.id != w.id)
        .map(|o| (o.ip, o.mac));
    let hosts = t.nodes.iter().map(|n| (n.host_ip, n.mac));
    others.chain(hosts).collect()
}

/// What a node's bridge resolves: every workload and every other node's address.
pub(crate) fn node_neighbours(t: &Topology, node: &NodeSpec) -> Entries {
    let wls = t.workloads.iter().map(|w| (w.ip, w.mac));
    let hosts = t
        .nodes
        .iter()
        .filter(|n| n.name != node.name)
        .map(|n| (n.host_ip, n.mac));
    wls.chain(hosts).collect()
}

/// Where a node's bridge sends each lab MAC, by port name: a local workload's host
/// veth, or (for everything on other nodes) the uplink.
pub(crate) fn node_fdb(t: &Topology, node: &NodeSpec) -> Vec<([u8; 6], String)> {
    let wls = t.workloads.iter().map(|w| {
        let port = if w.node == node.name {
            w.host_if.clone()
        } else {
            UPLINK.to_string()
        };
        (w.mac, port)
    });
    let hosts = t
        .nodes
        .iter()
        .filter(|n| n.name != node.name)
        .map(|n| (n.mac, UPLINK.to_string()));
    wls.chain(hosts).collect()
}

/// Where the underlay sends each lab MAC: the port of the node it lives on.
pub(crate) fn underlay_fdb(t: &Topology) -> Vec<([u8; 6], String)> {
    let wls = t.workloads.iter().map(|w| (w.mac, underlay_port(&w.node)));
    let hosts = t.nodes.iter().map(|n| (n.mac, underlay_port(&n.name)));
    wls.chain(hosts).collect()
}

/// Makes the permanent IPv4 neighbours of link `index` exactly `want`.
pub(crate) fn sync_neighbours(nl: &Rtnl, index: u32, want: &Entries) -> Result<()> {
    let have = nl.neighbours(index)?;
    let wanted: BTreeMap<Ipv4Addr, [u8; 6]> = want.iter().copied().collect();
    for n in &have {
        if n.permanent && !wanted.contains_key(&n.ip) {
            nl.del_neighbour(index, n.ip)?;
        }
    }
    for (ip, mac) in &wanted {
        let ok = have
            .iter()
            .any(|n| n.permanent && n.ip == *ip && n.mac == Some(*mac));
        if !ok {
            nl.set_neighbour(index, *ip, *mac)?;
        }
    }
    Ok(())
}

/// Makes the static forwarding entries of `bridge` exactly `want` (ports by name,
/// resolved through `ports`).
pub(crate) fn sync_fdb(
    nl: &Rtnl,
    bridge: u32,
    ports: &HashMap<String, u32>,
    want: &[([u8; 6], String)],
) -> Result<()> {
    let mut wanted = BTreeSet::new();
    for (mac, port) in want {
        let index = ports
            .get(port)
            .ok_or_else(|| LabError::Invalid(format!("bridge port {port} is missing")))?;
        wanted.insert((*mac, *index));
    }
    let have: BTreeSet<([u8; 6], u32)> = nl.static_fdb(bridge)?.into_iter().collect();
    for (mac, port) in have.difference(&wanted) {
        nl.del_fdb(*port, *mac)?;
    }
    for (mac, port) in wanted.difference(&have) {
        nl.set_fdb(*port, *mac)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_policy::lab::LabFile;

    fn topo() -> Topology {
        let text = "name: l2\nsubnet: 10.0.0.0/24\nnodes: [{name: n1}, {name: n2}]\nworkloads:\n  - {name: a, ip: 10.0.0.10, node: n1}\n  - {name: b, ip: 10.0.0.11, node: n2}\n";
        match LabFile::parse("t.yaml", text) {
            Ok(l) => Topology::of(&l),
            Err(d) => panic!("{d}"),
        }
    }

    #[test]
    fn workloads_resolve_everyone_but_themselves() {
        let t = topo();
        let a = &t.workloads[0];
        let ips: Vec<Ipv4Addr> = workload_neighbours(&t, a).iter().map(|e| e.0).collect();
        let ip = |d| Ipv4Addr::new(10, 0, 0, d);
        assert_eq!(ips, vec![ip(11), ip(1), ip(2)]);
        let n1 = &t.nodes[0];
        let ips: Vec<Ipv4Addr> = node_neighbours(&t, n1).iter().map(|e| e.0).collect();
        assert_eq!(ips, vec![ip(10), ip(11), ip(2)]);
    }

    #[test]
    fn remote_macs_go_up_the_uplink() {
        let t = topo();
        let fdb = node_fdb(&t, &t.nodes[0]);
        assert_eq!(fdb[0], (t.workloads[0].mac, t.workloads[0].host_if.clone()));
        assert_eq!(fdb[1], (t.workloads[1].mac, UPLINK.to_string()));
        assert_eq!(fdb[2], (t.nodes[1].mac, UPLINK.to_string()));
        let ul = underlay_fdb(&t);
        assert_eq!(ul[1], (t.workloads[1].mac, "n-n2".to_string()));
    }
}
