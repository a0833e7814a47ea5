//! Addresses → identities, and the ipcache that maps one to the other.
//!
//! The address space is cut into *atoms*: every prefix any peer, cluster CIDR, workload
//! or host address mentions, each standing for its *region* (the prefix minus the longer
//! listed prefixes inside it). Because every CIDR boundary is listed, a region lies
//! wholly inside or outside each CIDR peer, the cluster and the host set, so one
//! membership test per atom is exact. An atom's *signature* is the list of peers that
//! match it plus the named ports it resolves; atoms with equal signatures are
//! indistinguishable to every rule and share one identity.
//!
//! Work is proportional to the matches, never atoms × peers: each peer walks only the
//! atoms it matches (selector index for workloads, a sorted range for CIDRs) and appends
//! its id, so signatures come out sorted for free.

mod atoms;
mod describe;

use super::csr::Csr;
use super::hash::FastMap;
use super::rules::{NamedId, PeerId, PeerKey, Rules};
use super::select::{Scopes, Selector};
use crate::program::{ANY_IDENTITY, Identity, IdentityId};
use atoms::atoms;
use bulkhead_policy::Inventory;
use bulkhead_policy::ir::{Entity, Peer};
use describe::Parts;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

#[derive(Clone, Default)]
pub(super) struct Atom {
    /// The workload (selector position) owning this /32, the first in inventory order.
    pub owner: Option<u32>,
    pub host: bool,
    /// The longer listed prefixes cover the whole prefix: no address ever lands here.
    pub empty: bool,
    pub world: bool,
}

pub(crate) struct Identities {
    /// `identities[id]`; `[0]` is the wildcard.
    pub identities: Vec<Identity>,
    pub ipcache: Vec<(Ipv4Net, IdentityId)>,
    /// Per peer: the identities it matches, ascending.
    pub peer_sets: Csr<IdentityId>,
    /// Per egress named port: (identity, port) where it resolves, ascending.
    pub named: Csr<(IdentityId, u16)>,
    /// Per workload position: the identity of its primary address.
    pub workload_identity: Vec<IdentityId>,
}

impl Identities {
    pub fn count(&self) -> usize {
        self.identities.len() - 1
    }
}

/// What tells an atom apart: the peers matching it and the named ports it resolves.
type Signature<'s> = (&'s [PeerId], &'s [(NamedId, u16)]);

/// The atom of the /32 prefix of `ip`, if listed.
fn atom_of(nets: &[Ipv4Net], ip: Ipv4Addr) -> Option<usize> {
    nets.binary_search(&Ipv4Net::from(ip)).ok()
}

pub(crate) fn build<'a>(
    inventory: &Inventory,
    selector: &Selector<'a>,
    rules: &Rules<'a>,
) -> Identities {
    let (nets, atoms) = atoms(inventory, selector, rules);
    // (atom, peer) for every match; each peer only visits what it matches.
    let mut pairs: Vec<(u32, PeerId)> = Vec::new();
    let mut scopes = Scopes::default();
    for (pid, (key, peer)) in rules.peers.iter().enumerate() {
        let pid = pid as PeerId;
        match (key, peer) {
            (
                _,
                Peer::Workloads {
                    namespaces,
                    workloads,
                },
            ) => {
                for pos in selector.select(&mut scopes, namespaces, workloads.as_ref()) {
                    for &ip in &selector.workloads[pos as usize].ips {
                        match atom_of(&nets, ip) {
                            Some(a) if atoms[a].owner == Some(pos) => pairs.push((a as u32, pid)),
                            _ => {}
                        }
                    }
                }
            }
            (PeerKey::Cidr { net, except }, _) => {
                // Atoms inside `net` are contiguous in (network, length) order.
                let start = nets.partition_point(|n| n < net);
                let end = nets.partition_point(|n| n.network() <= net.broadcast());
                for a in start..end {
                    if !atoms[a].empty && !except.iter().any(|e| e.contains(&nets[a])) {
                        pairs.push((a as u32, pid));
                    }
                }
            }
            (PeerKey::Entity(entity), _) => {
                for (a, atom) in atoms.iter().enumerate() {
                    let hit = match entity {
                        Entity::World => atom.world,
                        Entity::Host => atom.host,
                    };
                    if hit && !atom.empty {
                        pairs.push((a as u32, pid));
                    }
                }
            }
            // Keys are built from their peers, so the kinds always agree.
            (PeerKey::Workloads, _) => {}
        }
    }
    let sigs = Csr::from_pairs(nets.len(), pairs);
    let named = named_signatures(&nets, &atoms, selector, rules);
    assign(&nets, &atoms, &sigs, &named, selector, rules)
}

/// Per atom, the egress named ports its owner resolves: (named id, port), ascending.
fn named_signatures(
    nets: &[Ipv4Net],
    atoms: &[Atom],
    selector: &Selector<'_>,
    rules: &Rules<'_>,
) -> Csr<(NamedId, u16)> {
    let mut pairs: Vec<(u32, (NamedId, u16))> = Vec::new();
    if !rules.named.is_empty() {
        for (pos, w) in selector.workloads.iter().enumerate() {
            let mut seen: Vec<NamedId> = Vec::new();
            let mut resolved: Vec<(NamedId, u16)> = Vec::new();
            for p in &w.ports {
                let Some(name) = &p.name else { continue };
                let Some(nid) = rules.named_id(name, p.protocol) else {
                    continue;
                };
                // The first port with a name wins, as `Workload::resolve_named_port` says.
                if !seen.contains(&nid) {
                    seen.push(nid);
                    resolved.push((nid, p.port));
                }
            }
            for &ip in &w.ips {
                match atom_of(nets, ip) {
                    Some(a) if atoms[a].owner == Some(pos as u32) => {
                        pairs.extend(resolved.iter().map(|&r| (a as u32, r)));
                    }
                    _ => {}
                }
            }
        }
    }
    Csr::from_pairs(nets.len(), pairs)
}

fn assign(
    nets: &[Ipv4Net],
    atoms: &[Atom],
    sigs: &Csr<PeerId>,
    named: &Csr<(NamedId, u16)>,
    selector: &Selector<'_>,
    rules: &Rules<'_>,
) -> Identities {
    let mut ids: FastMap<Signature<'_>, IdentityId> = FastMap::default();
    let mut of_atom = vec![ANY_IDENTITY; nets.len()];
    let mut parts: Vec<Parts> = vec![Parts::default()];
    for a in 0..nets.len() {
        if atoms[a].empty {
            continue;
        }
        let next = parts.len() as IdentityId;
        let id = *ids.entry((sigs.get(a), named.get(a))).or_insert(next);
        if id == next {
            parts.push(Parts::default());
        }
        of_atom[a] = id;
        parts[id as usize].add(&nets[a], &atoms[a]);
    }
    let mut peer_pairs: Vec<(u32, IdentityId)> = Vec::new();
    let mut named_pairs: Vec<(u32, (IdentityId, u16))> = Vec::new();
    for (a, &id) in of_atom.iter().enumerate() {
        peer_pairs.extend(sigs.get(a).iter().map(|&pid| (pid, id)));
        named_pairs.extend(named.get(a).iter().map(|&(nid, port)| (nid, (id, port))));
    }
    let mut ipcache: Vec<(Ipv4Net, IdentityId)> = (0..nets.len())
        .filter(|&a| !atoms[a].empty)
        .map(|a| (nets[a], of_atom[a]))
        .collect();
    ipcache.sort_by_key(|(n, _)| (std::cmp::Reverse(n.prefix_len()), n.network()));
    let workload_identity = selector
        .workloads
        .iter()
        .map(|w| {
            w.ips
                .first()
                .and_then(|&ip| atom_of(nets, ip))
                .map_or(ANY_IDENTITY, |a| of_atom[a])
        })
        .collect();
    let identities = parts.into_iter().map(|p| p.finish(selector)).collect();
    Identities {
        identities,
        ipcache,
        peer_sets: Csr::from_pairs(rules.peers.len(), peer_pairs),
        named: Csr::from_pairs(rules.named.len(), named_pairs),
        workload_identity,
    }
}
