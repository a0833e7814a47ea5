//! The reference evaluator with its per-set work done once: which policies isolate each
//! workload in each direction, and which workload owns each address. Replay runs it over
//! every recorded flow, so a flow must cost a few hash lookups and the matching of only
//! the rules that concern it, never a scan of the inventory or of the policy set.
//!
//! Same semantics, same reasons: the differential test below holds it to [`evaluate`]
//! verdict for verdict, reasons included.

use super::compiled::{Compiled, CompiledPeer};
use super::{Flow, Verdict};
use crate::ir::{NamespaceMatch, PolicySet, Reason};
use crate::matching::PeerRef;
use crate::model::{Action, Direction, Inventory, Workload, WorkloadId};
use std::collections::HashMap;
use std::net::Ipv4Addr;

pub struct Prepared<'a> {
    policies: &'a PolicySet,
    inventory: &'a Inventory,
    by_ip: HashMap<Ipv4Addr, usize>,
    by_id: HashMap<&'a WorkloadId, usize>,
    /// Per workload: indices of the policies isolating it, [ingress, egress], name order.
    isolating: Vec<[Vec<usize>; 2]>,
    compiled: Compiled<'a>,
    /// Per workload: whether any of those has a deny rule (most sets have none, and then
    /// the deny pass over the rules is skipped).
    has_deny: Vec<[bool; 2]>,
}

impl<'a> Prepared<'a> {
    pub fn new(policies: &'a PolicySet, inventory: &'a Inventory) -> Prepared<'a> {
        let mut order: Vec<usize> = (0..policies.policies.len()).collect();
        // `PolicySet::new` sorts, but the field is public: never depend on the caller.
        order.sort_by(|a, b| policies.policies[*a].name.cmp(&policies.policies[*b].name));
        // A policy living in a namespace selects only there: look at those, plus the
        // cluster-wide ones, instead of every policy for every workload.
        let mut named: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut anywhere = Vec::new();
        for &i in &order {
            match &policies.policies[i].subject.namespaces {
                NamespaceMatch::Named(ns) => named.entry(ns.as_str()).or_default().push(i),
                NamespaceMatch::Selector(_) => anywhere.push(i),
            }
        }
        let isolating: Vec<[Vec<usize>; 2]> = inventory
            .workloads
            .iter()
            .map(|w| {
                let local = named
                    .get(w.id.namespace.as_str())
                    .map_or(&[][..], Vec::as_slice);
                let mut candidates: Vec<usize> = local.iter().chain(&anywhere).copied().collect();
                // Back to name order (both lists are in it; merged they may not be).
                candidates
                    .sort_by(|a, b| policies.policies[*a].name.cmp(&policies.policies[*b].name));
                [Direction::Ingress, Direction::Egress].map(|d| {
                    candidates
                        .iter()
                        .copied()
                        .filter(|&i| policies.policies[i].isolates(w, d))
                        .collect()
                })
            })
            .collect();
        let has_deny = isolating
            .iter()
            .map(|dirs: &[Vec<usize>; 2]| {
                [Direction::Ingress, Direction::Egress].map(|d| {
                    dirs[usize::from(d == Direction::Egress)].iter().any(|&i| {
                        policies.policies[i]
                            .rules(d)
                            .unwrap_or_default()
                            .iter()
                            .any(|r| r.action == Action::Deny)
                    })
                })
            })
            .collect();
        // The first workload owning an address wins, as `Inventory::workload_by_ip`.
        let mut by_ip = HashMap::new();
        for (i, w) in inventory.workloads.iter().enumerate() {
            for ip in &w.ips {
                by_ip.entry(*ip).or_insert(i);
            }
        }
        let mut by_id = HashMap::new();
        for (i, w) in inventory.workloads.iter().enumerate() {
            by_id.entry(&w.id).or_insert(i);
        }
        Prepared {
            policies,
            inventory,
            by_ip,
            by_id,
            isolating,
            has_deny,
            compiled: Compiled::new(policies, inventory),
        }
    }

    /// The workload with this id, if the inventory has it.
    pub fn workload(&self, id: &WorkloadId) -> Option<&'a Workload> {
        self.by_id.get(id).map(|i| &self.inventory.workloads[*i])
    }

    /// Whether `flow` is allowed: the verdict without its reasons, allocating nothing
    /// (replay asks this of every flow, and the full [`Prepared::evaluate`] of the few
    /// that are denied).
    pub fn allows(&self, flow: &Flow) -> bool {
        let (src, dst) = self.ends(flow);
        if src.is_some() && src == dst {
            return true;
        }
        let ok = |h: Hit| !matches!(h, Hit::Rule(_, _, Action::Deny) | Hit::DefaultDeny);
        src.is_none_or(|s| ok(self.decide(s, Direction::Egress, flow, src, dst)))
            && dst.is_none_or(|d| ok(self.decide(d, Direction::Ingress, flow, src, dst)))
    }

    pub fn evaluate(&self, flow: &Flow) -> Verdict {
        let (src, dst) = self.ends(flow);
        if src.is_some() && src == dst {
            return Verdict {
                allowed: true,
                egress: Reason::SelfTraffic,
                ingress: Reason::SelfTraffic,
            };
        }
        let reason = |subject: Option<usize>, direction| match subject {
            Some(s) => self.reason(s, direction, self.decide(s, direction, flow, src, dst)),
            None => Reason::NotAWorkload,
        };
        let egress = reason(src, Direction::Egress);
        let ingress = reason(dst, Direction::Ingress);
        Verdict {
            allowed: egress.allows() && ingress.allows(),
            egress,
            ingress,
        }
    }

    fn ends(&self, flow: &Flow) -> (Option<usize>, Option<usize>) {
        (
            self.by_ip.get(&flow.src).copied(),
            self.by_ip.get(&flow.dst).copied(),
        )
    }

    /// One direction's check of workload `subject`, as in [`super::evaluate`].
    fn decide(
        &self,
        subject: usize,
        direction: Direction,
        flow: &Flow,
        src: Option<usize>,
        dst: Option<usize>,
    ) -> Hit {
        let isolating = &self.isolating[subject][usize::from(direction == Direction::Egress)];
        if isolating.is_empty() {
            return Hit::NotIsolated;
        }
        let w = |i: Option<usize>| i.map(|i| &self.inventory.workloads[i]);
        let (peer_ip, peer_index) = match direction {
            Direction::Egress => (flow.dst, dst),
            Direction::Ingress => (flow.src, src),
        };
        let peer = PeerRef {
            addr: peer_ip,
            workload: w(peer_index),
        };
        let destination = w(dst);
        let d = usize::from(direction == Direction::Egress);
        let peer_ok = |p: &CompiledPeer<'_>| match p {
            CompiledPeer::Workloads(set) => {
                peer_index.is_some_and(|i| self.compiled.contains(*set, i))
            }
            CompiledPeer::Other(p) => p.matches(peer, self.inventory),
        };
        let first = |action: Action| {
            isolating.iter().find_map(|&i| {
                self.compiled.rules[i][d]
                    .iter()
                    .find(|r| {
                        // Ports first: cheaper than peers, and as exact (both must hold).
                        r.action == action
                            && r.ports.is_none_or(|ps| {
                                ps.iter()
                                    .any(|p| p.matches(flow.protocol, flow.port, destination))
                            })
                            && r.peers.as_ref().is_none_or(|ps| ps.iter().any(peer_ok))
                    })
                    .map(|r| Hit::Rule(i, r.index, action))
            })
        };
        let denies = self.has_deny[subject][usize::from(direction == Direction::Egress)];
        denies
            .then(|| first(Action::Deny))
            .flatten()
            .or_else(|| first(Action::Allow))
            .unwrap_or(Hit::DefaultDeny)
    }

    fn reason(&self, subject: usize, direction: Direction, hit: Hit) -> Reason {
        match hit {
            Hit::NotIsolated => Reason::NotIsolated,
            Hit::Rule(i, index, action) => Reason::Rule {
                policy: self.policies.policies[i].name.clone(),
                direction,
                index,
                action,
            },
            Hit::DefaultDeny => Reason::DefaultDeny {
                direction,
                policies: self.isolating[subject][usize::from(direction == Direction::Egress)]
                    .iter()
                    .map(|&i| self.policies.policies[i].name.clone())
                    .collect(),
            },
        }
    }
}

/// A check's outcome by index: turned into a [`Reason`] (which owns names) only when asked.
#[derive(Clone, Copy)]
enum Hit {
    NotIsolated,
    /// (policy index, rule index, action)
    Rule(usize, usize, Action),
    DefaultDeny,
}

/// Kept beside the fast path so the two never drift apart unnoticed.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::evaluate;
    use crate::lab::LabFile;

    #[test]
    fn prepared_gives_the_reference_verdicts_and_reasons() {
        let lab = LabFile::parse(
            "shop.yaml",
            include_str!("../../../../policies/labs/shop.yaml"),
        )
        .unwrap();
        let inv = lab.inventory();
        let mut addrs: Vec<Ipv4Addr> = inv.workloads.iter().map(|w| w.ips[0]).collect();
        addrs.extend(
            ["10.20.0.1", "10.20.0.200", "8.8.8.8"].map(|a| a.parse::<Ipv4Addr>().unwrap()),
        );
        let sets = [
            include_str!("../../../../policies/examples/native-shop.yaml"),
            include_str!("../../../../policies/examples/k8s-shop.yaml"),
            include_str!("../../../../policies/examples/native-guard.yaml"),
            include_str!("../../../../policies/examples/native-ports-and-entities.yaml"),
            include_str!("../../../../policies/examples/k8s-basics.yaml"),
        ];
        let mut compared = 0;
        for text in sets {
            let set = PolicySet::new(crate::parse_documents("p.yaml", text).unwrap()).unwrap();
            let prepared = Prepared::new(&set, &inv);
            for &src in &addrs {
                for &dst in &addrs {
                    for protocol in [6, 17, 1, 132] {
                        for port in [0, 53, 80, 4444, 5432, 6379, 8080, 9090] {
                            let f = Flow {
                                src,
                                dst,
                                protocol,
                                port,
                            };
                            let want = evaluate(&set, &inv, &f);
                            assert_eq!(prepared.allows(&f), want.allowed, "{f:?}");
                            assert_eq!(prepared.evaluate(&f), want, "{f:?}");
                            compared += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(compared, 5 * 9 * 9 * 4 * 8);
    }
}
