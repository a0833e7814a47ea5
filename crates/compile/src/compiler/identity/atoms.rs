//! The atoms: every prefix anything lists, and what lies in its region.

use super::Atom;
use crate::compiler::rules::{PeerKey, Rules};
use crate::compiler::select::Selector;
use bulkhead_policy::Inventory;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// Every listed prefix, sorted by (network, length), with what lies in its region.
///
/// Gathered into a `Vec` and sorted once rather than inserted into a `BTreeMap`: the
/// workloads' /32s arrive nearly sorted, and a stable sort keeps the inventory order
/// among equal prefixes, so merging duplicates keeps the first owner.
pub(super) fn atoms(
    inventory: &Inventory,
    selector: &Selector<'_>,
    rules: &Rules<'_>,
) -> (Vec<Ipv4Net>, Vec<Atom>) {
    let mut listed: Vec<(Ipv4Net, Atom)> = Vec::with_capacity(inventory.workloads.len() + 16);
    let host_net = |ip: Ipv4Addr| Ipv4Net::from(ip);
    let bare = |net: Ipv4Net| (net, Atom::default());
    for (i, w) in inventory.workloads.iter().enumerate() {
        for &ip in &w.ips {
            let owner = Some(selector.position[i]);
            listed.push((
                host_net(ip),
                Atom {
                    owner,
                    ..Atom::default()
                },
            ));
        }
    }
    for &ip in &inventory.host_ips {
        let host = Atom {
            host: true,
            ..Atom::default()
        };
        listed.push((host_net(ip), host));
    }
    for (key, _) in &rules.peers {
        if let PeerKey::Cidr { net, except } = key {
            listed.push(bare(*net));
            listed.extend(except.iter().map(|e| bare(*e)));
        }
    }
    let cluster: Vec<Ipv4Net> = inventory.cluster_cidrs.iter().map(Ipv4Net::trunc).collect();
    listed.extend(cluster.iter().map(|c| bare(*c)));
    listed.push(bare(Ipv4Net::default()));
    listed.sort_by_key(|(net, _)| *net);
    let mut nets: Vec<Ipv4Net> = Vec::with_capacity(listed.len());
    let mut atoms: Vec<Atom> = Vec::with_capacity(listed.len());
    for (net, atom) in listed {
        match atoms.last_mut() {
            Some(last) if nets.last() == Some(&net) => {
                last.owner = last.owner.or(atom.owner);
                last.host |= atom.host;
            }
            _ => {
                nets.push(net);
                atoms.push(atom);
            }
        }
    }
    for (atom, net) in atoms.iter_mut().zip(&nets) {
        atom.world = !cluster.iter().any(|c| c.contains(net));
    }
    mark_empty(&nets, &mut atoms);
    (nets, atoms)
}

/// A region is empty when its direct children cover the whole prefix. In (network,
/// length) order a prefix comes before everything inside it, so a stack of the open
/// ancestors finds each prefix's parent.
fn mark_empty(nets: &[Ipv4Net], atoms: &mut [Atom]) {
    let size = |n: &Ipv4Net| 1u64 << (32 - u32::from(n.prefix_len()));
    let mut covered = vec![0u64; nets.len()];
    let mut stack: Vec<usize> = Vec::new();
    for (i, net) in nets.iter().enumerate() {
        while stack.last().is_some_and(|&top| !nets[top].contains(net)) {
            stack.pop();
        }
        if let Some(&parent) = stack.last() {
            covered[parent] += size(net);
        }
        stack.push(i);
    }
    for (i, atom) in atoms.iter_mut().enumerate() {
        atom.empty = covered[i] == size(&nets[i]);
    }
}
