//! The reference evaluator: the one place the verdict semantics are written down as code.
//! The compiler and both kernel backends are tested against it, and `policy eval`,
//! replay and UI previews call it. `docs/policy.md` states the same rules in prose.
//!
//! A connection from `src` to `dst` needs two checks to allow it: the source workload's
//! *egress* and the destination workload's *ingress*. A side that is not a workload has
//! nothing to check ([`Reason::NotAWorkload`]); a workload reaching itself is always
//! allowed ([`Reason::SelfTraffic`]). Each check, over the policies that isolate the
//! workload in that direction (in name order, rules in index order):
//! 1. the first matching `deny` rule denies, whatever allows it elsewhere;
//! 2. else the first matching `allow` rule allows;
//! 3. else, if any policy isolates the workload, it is denied by default
//!    ([`Reason::DefaultDeny`], naming those policies);
//! 4. else it is not isolated ([`Reason::NotIsolated`]): allowed.

mod compiled;
mod prepared;

pub use prepared::Prepared;

use crate::ir::{PolicySet, Reason};
use crate::matching::PeerRef;
use crate::model::{Action, Direction, Inventory, Workload};
use std::net::Ipv4Addr;

/// The first packet of a connection (or a datagram).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// IP protocol number (6 TCP, 17 UDP, 132 SCTP, 1 ICMP...).
    pub protocol: u8,
    /// Destination port; ignored for protocols without ports.
    pub port: u16,
}

/// Both checks of a flow, each with the reason behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// The source's egress check.
    pub egress: Reason,
    /// The destination's ingress check.
    pub ingress: Reason,
}

impl Verdict {
    /// The reason that denied (egress first: the packet leaves the source before it
    /// reaches the destination), else the most specific allowing reason: a rule over self
    /// traffic over "not isolated" over "not a workload", the ingress side on a tie.
    pub fn deciding(&self) -> &Reason {
        if !self.egress.allows() {
            return &self.egress;
        }
        if !self.ingress.allows() {
            return &self.ingress;
        }
        let rank = |r: &Reason| match r {
            Reason::Rule { .. } => 3,
            Reason::SelfTraffic => 2,
            Reason::NotIsolated => 1,
            Reason::NotAWorkload | Reason::DefaultDeny { .. } => 0,
        };
        if rank(&self.egress) > rank(&self.ingress) {
            &self.egress
        } else {
            &self.ingress
        }
    }
}

pub fn evaluate(policies: &PolicySet, inventory: &Inventory, flow: &Flow) -> Verdict {
    let src = inventory.workload_by_ip(flow.src);
    let dst = inventory.workload_by_ip(flow.dst);
    if let (Some(s), Some(d)) = (src, dst)
        && s.id == d.id
    {
        return Verdict {
            allowed: true,
            egress: Reason::SelfTraffic,
            ingress: Reason::SelfTraffic,
        };
    }
    let egress = match src {
        Some(s) => {
            let peer = PeerRef {
                addr: flow.dst,
                workload: dst,
            };
            check(policies, inventory, s, Direction::Egress, peer, flow, dst)
        }
        None => Reason::NotAWorkload,
    };
    let ingress = match dst {
        Some(d) => {
            let peer = PeerRef {
                addr: flow.src,
                workload: src,
            };
            check(
                policies,
                inventory,
                d,
                Direction::Ingress,
                peer,
                flow,
                Some(d),
            )
        }
        None => Reason::NotAWorkload,
    };
    Verdict {
        allowed: egress.allows() && ingress.allows(),
        egress,
        ingress,
    }
}

/// One direction's check of `subject` against `peer`; `destination` is the workload that
/// receives the flow (where named ports resolve).
fn check(
    policies: &PolicySet,
    inventory: &Inventory,
    subject: &Workload,
    direction: Direction,
    peer: PeerRef<'_>,
    flow: &Flow,
    destination: Option<&Workload>,
) -> Reason {
    let mut isolating: Vec<_> = policies
        .policies
        .iter()
        .filter(|p| p.isolates(subject, direction))
        .collect();
    if isolating.is_empty() {
        return Reason::NotIsolated;
    }
    // `PolicySet::new` sorts, but the field is public: never depend on the caller.
    isolating.sort_by(|a, b| a.name.cmp(&b.name));
    let first = |action: Action| {
        isolating.iter().find_map(|p| {
            p.rules(direction)
                .unwrap_or_default()
                .iter()
                .find(|r| {
                    r.action == action
                        && r.matches(peer, flow.protocol, flow.port, destination, inventory)
                })
                .map(|r| Reason::Rule {
                    policy: p.name.clone(),
                    direction,
                    index: r.index,
                    action,
                })
        })
    };
    first(Action::Deny)
        .or_else(|| first(Action::Allow))
        .unwrap_or_else(|| Reason::DefaultDeny {
            direction,
            policies: isolating.iter().map(|p| p.name.clone()).collect(),
        })
}

#[cfg(test)]
mod tests;
