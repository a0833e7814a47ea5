//! Workload namespaces and their veths, reconciled in passes so that no pass depends on
//! the order of threads:
//!
//! 1. every workload namespace exists (new ones get `lo` up and IPv6 off);
//! 2. in each node, host veths not wanted *on that node* go (removed workloads, and
//!    workloads that moved to another node: deleting one end deletes the pair);
//! 3. in each node, every wanted host veth exists, is paired with its workload's
//!    namespace and is an up port of the bridge; the bridge's static L2 tables match;
//! 4. in each workload, `eth0` has its MAC and exactly its address, is up, routes via
//!    its node, and resolves every lab address statically (see [`crate::l2`]).
//!
//! Each pass checks before it changes, so unchanged workloads see no change at all.

use crate::error::{LabError, Result};
use crate::nodes::{quiet_ipv6, up_lo};
use crate::rtnl::Rtnl;
use crate::topology::{BRIDGE, NodeSpec, Topology, WORKLOAD_IF, WorkloadSpec};
use crate::{l2, netns, parallel};
use std::collections::{BTreeSet, HashMap};
use std::os::fd::AsFd;

/// Brings every workload to the topology's state.
pub(crate) fn ensure(t: &Topology) -> Result<()> {
    parallel::try_map(&t.workloads, parallel::WIDTH, |w| {
        if netns::exists(&w.netns) {
            return Ok(());
        }
        netns::create(&w.netns, || {
            quiet_ipv6()?;
            up_lo(&Rtnl::open()?)
        })
    })?;
    parallel::try_map(&t.nodes, parallel::WIDTH, |n| {
        netns::run_in(&n.netns, || prune(t, n))
    })?;
    parallel::try_map(&t.nodes, parallel::WIDTH, |n| attach(t, n))?;
    parallel::try_map(&t.workloads, parallel::WIDTH, |w| {
        netns::run_in(&w.netns, || configure(t, w))
    })?;
    Ok(())
}

/// Whether a link name is one of the lab's host veths (`v` and 8 hex digits).
pub(crate) fn is_host_veth(name: &str) -> bool {
    name.len() == 9
        && name.starts_with('v')
        && name[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn prune(t: &Topology, node: &NodeSpec) -> Result<()> {
    let wanted: BTreeSet<&str> = t.on_node(&node.name).map(|w| w.host_if.as_str()).collect();
    let nl = Rtnl::open()?;
    for l in nl.links()? {
        if is_host_veth(&l.name) && !wanted.contains(l.name.as_str()) {
            nl.del_link(l.index)?;
        }
    }
    Ok(())
}

fn attach(t: &Topology, node: &NodeSpec) -> Result<()> {
    let mine: Vec<&WorkloadSpec> = t.on_node(&node.name).collect();
    // Opened here, outside the node namespace, where the names resolve the same anyway.
    let files = mine
        .iter()
        .map(|w| netns::open(&w.netns))
        .collect::<Result<Vec<_>>>()?;
    netns::run_in(&node.netns, || {
        let nl = Rtnl::open()?;
        let br = nl.link(BRIDGE)?.ok_or_else(|| {
            LabError::Invalid(format!("node {} has no bridge {BRIDGE}", node.netns))
        })?;
        let links: HashMap<String, crate::rtnl::Link> = nl
            .links()?
            .into_iter()
            .map(|l| (l.name.clone(), l))
            .collect();
        for (w, file) in mine.iter().zip(&files) {
            let want_peer = nl.netns_id(&w.netns)?;
            match links.get(&w.host_if) {
                Some(l) if l.peer_netns_id.is_some() && l.peer_netns_id == want_peer => {
                    if l.controller != Some(br.index) || !l.up {
                        nl.set_up(l.index, Some(br.index))?;
                    }
                    continue;
                }
                // Paired with something else (a namespace since deleted and made
                // again): replace it.
                Some(l) => nl.del_link(l.index)?,
                None => {}
            }
            nl.add_veth(
                &w.host_if,
                Some(br.index),
                WORKLOAD_IF,
                file.as_fd(),
                Some(w.mac),
            )?;
        }
        // Ports as they are now (some were just made).
        let ports: HashMap<String, u32> =
            nl.links()?.into_iter().map(|l| (l.name, l.index)).collect();
        l2::sync_fdb(&nl, br.index, &ports, &l2::node_fdb(t, node))?;
        l2::sync_neighbours(&nl, br.index, &l2::node_neighbours(t, node))
    })
}

fn configure(t: &Topology, w: &WorkloadSpec) -> Result<()> {
    let nl = Rtnl::open()?;
    let eth = nl.link(WORKLOAD_IF)?.ok_or_else(|| {
        LabError::Invalid(format!("{} has no {WORKLOAD_IF} after attaching", w.netns))
    })?;
    // Everyone else's static entries name this MAC.
    if eth.mac != Some(w.mac) {
        nl.set_mac(eth.index, w.mac)?;
    } else if !eth.up {
        nl.set_up(eth.index, None)?;
    }
    nl.ensure_addr(eth.index, w.ip, t.prefix)?;
    nl.ensure_default_route(eth.index, w.gateway)?;
    l2::sync_neighbours(&nl, eth.index, &l2::workload_neighbours(t, w))
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_veth_names() {
        assert!(super::is_host_veth("v0123abcd"));
        assert!(!super::is_host_veth("v0123abcg"));
        assert!(!super::is_host_veth("uplink"));
        assert!(!super::is_host_veth("br0"));
        assert!(!super::is_host_veth("v0123abcde"));
    }
}
