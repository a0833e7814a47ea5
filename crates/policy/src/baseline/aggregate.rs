//! The learning pass: one walk over the observations, summing evidence per
//! (policy, direction, peer, protocol, port) in a hash map of small copyable keys, then
//! the rules are assembled from those sums in a fixed order.
//!
//! Everything that costs per observation is a hash lookup: the endpoint's workload, and
//! one map entry per policy that selects that workload (usually one). Labels, names and
//! CIDRs are only touched per *distinct* key, so a million records cost well under a
//! second (see docs/bench/learn.md).

use super::identity::{identity, policy_name};
use super::{
    Baseline, BaselineError, Endpoint, Evidence, LearnedPeer, LearnedPolicy, LearnedPort,
    LearnedRule, Observation, Options, Skipped,
};
use crate::model::{Direction, Inventory, Labels, NAMESPACE_NAME_LABEL, Protocol, WorkloadId};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;

/// A peer as the pass sees it: interned, `Copy`, cheap to hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum PeerKey {
    /// An identity, by its index in `Index::identities`.
    Identity(u32),
    /// A workload without labels (by inventory index): named by its addresses.
    Unlabeled(u32),
    Host,
    /// An address of the cluster that is no workload's: kept exact.
    Cluster(Ipv4Addr),
    /// An address outside the cluster: grouped into CIDRs.
    World(Ipv4Addr),
}

/// A resolved endpoint.
#[derive(Clone, Copy)]
enum Side {
    Workload(usize),
    Outside(PeerKey),
    /// A workload id the inventory does not know.
    Unknown,
}

type Key = (u32, Direction, PeerKey, u8, u16);

/// Lookups prepared once per run.
struct Index<'a> {
    inv: &'a Inventory,
    by_id: HashMap<&'a WorkloadId, usize>,
    by_ip: HashMap<Ipv4Addr, usize>,
    /// (namespace, labels) of every labelled workload, interned.
    identities: Vec<(String, Labels)>,
    /// Per workload: its peer key.
    peer: Vec<PeerKey>,
    /// Per workload: the policies (indices into the sorted subject identities) selecting it.
    groups_of: Vec<Vec<u32>>,
    /// Per workload: asked for, but without labels to select it by.
    unlabeled_subject: Vec<bool>,
}

/// Learns the baseline of `opts.workloads` (all workloads if empty) from `observations`.
pub fn generate(
    inv: &Inventory,
    observations: &[Observation],
    opts: &Options,
) -> Result<Baseline, BaselineError> {
    if opts.outside_prefix > 32 {
        return Err(BaselineError::Prefix(opts.outside_prefix));
    }
    let (ix, subjects) = Index::new(inv, &opts.workloads)?;
    let mut sums: HashMap<Key, Evidence> = HashMap::new();
    let mut skipped: HashMap<(String, String, u8, u16, &'static str), u64> = HashMap::new();
    for o in observations {
        let (src, dst) = (ix.side(&o.source), ix.side(&o.destination));
        if let (Side::Workload(a), Side::Workload(b)) = (src, dst)
            && a == b
        {
            continue; // a workload reaching itself is always allowed
        }
        let egress = ix.subject_of(src);
        let ingress = ix.subject_of(dst);
        let unlabeled = [src, dst].map(|s| ix.unlabeled(s));
        if egress.is_none() && ingress.is_none() && !unlabeled.contains(&true) {
            continue; // not about the workloads asked for
        }
        let mut skip = |reason: &'static str| {
            let key = (
                o.source.to_string(),
                o.destination.to_string(),
                o.protocol,
                o.port,
                reason,
            );
            let flows = skipped.entry(key).or_default();
            *flows = flows.saturating_add(o.flows);
        };
        if let Some(reason) = ix.unlearnable(o, src, dst, egress, ingress) {
            skip(reason);
            continue;
        }
        // The side asked for without labels learns nothing; the other side still does.
        if unlabeled.contains(&true) {
            skip("the workload has no labels: no policy can select it");
        }
        let ev = Evidence::of(o);
        let mut add = |groups: &[u32], direction, peer| {
            for &g in groups {
                sums.entry((g, direction, peer, o.protocol, o.port))
                    .and_modify(|e| e.add(&ev))
                    .or_insert(ev);
            }
        };
        if let Some(groups) = egress {
            add(groups, Direction::Egress, ix.peer_key(dst));
        }
        if let Some(groups) = ingress {
            add(groups, Direction::Ingress, ix.peer_key(src));
        }
    }
    let mut skipped: Vec<Skipped> = skipped
        .into_iter()
        .map(
            |((source, destination, protocol, port, reason), flows)| Skipped {
                source,
                destination,
                protocol,
                port,
                flows,
                reason: reason.to_string(),
            },
        )
        .collect();
    skipped.sort();
    Ok(Baseline {
        policies: assemble(&ix, &subjects, sums, opts.outside_prefix),
        skipped,
    })
}

impl<'a> Index<'a> {
    fn new(
        inv: &'a Inventory,
        asked: &[WorkloadId],
    ) -> Result<(Index<'a>, Vec<(String, Labels)>), BaselineError> {
        let by_id: HashMap<&WorkloadId, usize> = inv
            .workloads
            .iter()
            .enumerate()
            .map(|(i, w)| (&w.id, i))
            .collect();
        let mut by_ip = HashMap::new();
        for (i, w) in inv.workloads.iter().enumerate() {
            for ip in &w.ips {
                by_ip.entry(*ip).or_insert(i);
            }
        }
        let chosen: Vec<usize> = if asked.is_empty() {
            (0..inv.workloads.len()).collect()
        } else {
            asked
                .iter()
                .map(|id| {
                    by_id
                        .get(id)
                        .copied()
                        .ok_or_else(|| BaselineError::UnknownWorkload(id.clone()))
                })
                .collect::<Result<_, _>>()?
        };
        let labels: Vec<Labels> = inv.workloads.iter().map(identity).collect();
        let mut interned: BTreeMap<(String, Labels), u32> = BTreeMap::new();
        let mut identities = Vec::new();
        let peer = inv
            .workloads
            .iter()
            .zip(&labels)
            .enumerate()
            .map(|(i, (w, l))| {
                if l.is_empty() {
                    return PeerKey::Unlabeled(i as u32);
                }
                let key = (w.id.namespace.clone(), l.clone());
                let id = *interned.entry(key.clone()).or_insert_with(|| {
                    identities.push(key);
                    (identities.len() - 1) as u32
                });
                PeerKey::Identity(id)
            })
            .collect();
        let mut unlabeled_subject = vec![false; inv.workloads.len()];
        let mut subjects: BTreeSet<(String, Labels)> = BTreeSet::new();
        for i in chosen {
            if labels[i].is_empty() {
                unlabeled_subject[i] = true;
            } else {
                subjects.insert((inv.workloads[i].id.namespace.clone(), labels[i].clone()));
            }
        }
        let subjects: Vec<(String, Labels)> = subjects.into_iter().collect();
        let groups_of = inv
            .workloads
            .iter()
            .map(|w| {
                (0..subjects.len() as u32)
                    .filter(|&g| {
                        let (ns, sel) = &subjects[g as usize];
                        *ns == w.id.namespace && sel.iter().all(|(k, v)| w.labels.get(k) == Some(v))
                    })
                    .collect()
            })
            .collect();
        let ix = Index {
            inv,
            by_id,
            by_ip,
            identities,
            peer,
            groups_of,
            unlabeled_subject,
        };
        Ok((ix, subjects))
    }

    fn side(&self, e: &Endpoint) -> Side {
        match e {
            Endpoint::Workload(id) => self
                .by_id
                .get(id)
                .map_or(Side::Unknown, |i| Side::Workload(*i)),
            Endpoint::Address(ip) => match self.by_ip.get(ip) {
                Some(i) => Side::Workload(*i),
                None if self.inv.host_ips.contains(ip) => Side::Outside(PeerKey::Host),
                None if self.inv.is_cluster_address(*ip) => Side::Outside(PeerKey::Cluster(*ip)),
                None => Side::Outside(PeerKey::World(*ip)),
            },
        }
    }

    /// The policies learning from this side, if it is a selected workload.
    fn subject_of(&self, s: Side) -> Option<&[u32]> {
        match s {
            Side::Workload(i) if !self.groups_of[i].is_empty() => Some(&self.groups_of[i]),
            _ => None,
        }
    }

    /// Whether this side is a workload asked for that has no labels to select it by.
    fn unlabeled(&self, s: Side) -> bool {
        matches!(s, Side::Workload(i) if self.unlabeled_subject[i])
    }

    fn peer_key(&self, s: Side) -> PeerKey {
        match s {
            Side::Workload(i) => self.peer[i],
            Side::Outside(p) => p,
            // `unlearnable` turned these away before any key is made.
            Side::Unknown => PeerKey::Host,
        }
    }

    /// Why no rule can be learned from `o`, if that is so.
    fn unlearnable(
        &self,
        o: &Observation,
        src: Side,
        dst: Side,
        egress: Option<&[u32]>,
        ingress: Option<&[u32]>,
    ) -> Option<&'static str> {
        let Some(protocol) = Protocol::from_number(o.protocol) else {
            return Some(
                "traffic without ports (not TCP, UDP or SCTP): a port rule cannot allow it; add a rule by hand if it is needed",
            );
        };
        if (egress.is_some() && matches!(dst, Side::Unknown))
            || (ingress.is_some() && matches!(src, Side::Unknown))
        {
            return Some("the peer is a workload the inventory does not know (gone?)");
        }
        if let Side::Workload(d) = dst {
            let w = &self.inv.workloads[d];
            let listens = w
                .ports
                .iter()
                .any(|p| p.protocol == protocol && p.port == o.port);
            if o.port >= 32768 && !w.ports.is_empty() && !listens {
                return Some(
                    "an ephemeral port the destination does not listen on (a reply recorded as a flow?)",
                );
            }
        }
        None
    }
}

/// Sums → policies, in (namespace, selector) order, each policy's rules in peer order.
fn assemble(
    ix: &Index<'_>,
    subjects: &[(String, Labels)],
    sums: HashMap<Key, Evidence>,
    prefix: u8,
) -> Vec<LearnedPolicy> {
    type Rules = BTreeMap<LearnedPeer, (BTreeSet<LearnedPort>, Evidence)>;
    let mut rules: Vec<[Rules; 2]> = vec![Default::default(); subjects.len()];
    // Outside addresses seen per (policy, direction, network): lowest and highest.
    let mut spans: HashMap<(u32, usize, Ipv4Net), (Ipv4Addr, Ipv4Addr)> = HashMap::new();
    for ((g, direction, peer, protocol, port), ev) in sums {
        let Some(protocol) = Protocol::from_number(protocol) else {
            continue; // turned away by `unlearnable`
        };
        let port = LearnedPort { protocol, port };
        let d = usize::from(direction == Direction::Egress);
        for p in ix.peers(peer, prefix) {
            if let (PeerKey::World(ip), LearnedPeer::Cidr { cidr }) = (peer, &p) {
                let span = spans.entry((g, d, *cidr)).or_insert((ip, ip));
                *span = (span.0.min(ip), span.1.max(ip));
            }
            let (ports, total) = rules[g as usize][d]
                .entry(p)
                .or_insert((BTreeSet::new(), ev));
            if !ports.is_empty() {
                total.add(&ev);
            }
            ports.insert(port);
        }
    }
    // Each network of outside addresses shrinks to the smallest CIDR covering them.
    for ((g, d, net), (low, high)) in spans {
        let slot = &mut rules[g as usize][d];
        if let Some((ports, ev)) = slot.remove(&LearnedPeer::Cidr { cidr: net }) {
            let len = (u32::from(low) ^ u32::from(high)).leading_zeros() as u8;
            let cidr = Ipv4Net::new(low, len).map_or(net, |n| n.trunc());
            let (all, total) = slot
                .entry(LearnedPeer::Cidr { cidr })
                .or_insert((BTreeSet::new(), ev));
            if !all.is_empty() {
                total.add(&ev);
            }
            all.extend(ports);
        }
    }
    let mut used: BTreeSet<(String, String)> = BTreeSet::new();
    subjects
        .iter()
        .zip(rules)
        .enumerate()
        .map(|(g, ((namespace, selector), [ingress, egress]))| {
            let base = policy_name(selector);
            let mut name = base.clone();
            let mut n = 2;
            while !used.insert((namespace.clone(), name.clone())) {
                name = format!("{base}-{n}");
                n += 1;
            }
            let members = ix
                .inv
                .workloads
                .iter()
                .zip(&ix.groups_of)
                .filter(|(_, gs)| gs.contains(&(g as u32)))
                .map(|(w, _)| w.id.clone())
                .collect();
            let list = |r: Rules| {
                r.into_iter()
                    .map(|(peer, (ports, evidence))| LearnedRule {
                        peer,
                        ports: ports.into_iter().collect(),
                        evidence,
                    })
                    .collect()
            };
            LearnedPolicy {
                name,
                namespace: namespace.clone(),
                selector: selector.clone(),
                members,
                ingress: list(ingress),
                egress: list(egress),
            }
        })
        .collect()
}

impl Index<'_> {
    /// The rule peers a pass peer becomes (a workload without labels: one per address).
    fn peers(&self, p: PeerKey, prefix: u8) -> Vec<LearnedPeer> {
        let host = |ip: Ipv4Addr| LearnedPeer::Cidr {
            cidr: Ipv4Net::from(ip),
        };
        match p {
            PeerKey::Identity(i) => {
                let (namespace, labels) = &self.identities[i as usize];
                vec![LearnedPeer::Workloads {
                    namespace: namespace.clone(),
                    labels: labels.clone(),
                }]
            }
            PeerKey::Unlabeled(i) => self.inv.workloads[i as usize]
                .ips
                .iter()
                .map(|ip| host(*ip))
                .collect(),
            PeerKey::Host => vec![LearnedPeer::Host],
            PeerKey::Cluster(ip) => vec![host(ip)],
            // Grouped per network here; `assemble` shrinks each network to the smallest
            // CIDR covering the addresses seen.
            PeerKey::World(ip) => vec![LearnedPeer::Cidr {
                cidr: Ipv4Net::new(ip, prefix).map_or(Ipv4Net::from(ip), |n| n.trunc()),
            }],
        }
    }
}

/// The namespace label a peer in another namespace is selected by.
pub(super) fn namespace_labels(namespace: &str) -> Labels {
    Labels::from([(NAMESPACE_NAME_LABEL.to_string(), namespace.to_string())])
}
