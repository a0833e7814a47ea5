//! What each piece of the IR matches: the building blocks of the evaluator, public so
//! that the compiler groups addresses and ports by exactly the same predicates.

use crate::ir::{Entity, NamespaceMatch, Peer, Policy, PortMatch, PortSpec, Rule, Subject};
use crate::model::{Direction, Inventory, Labels, Protocol, Workload};
use std::net::Ipv4Addr;

impl NamespaceMatch {
    pub fn matches(&self, namespace: &str, namespace_labels: &Labels) -> bool {
        match self {
            NamespaceMatch::Named(n) => n == namespace,
            NamespaceMatch::Selector(s) => s.matches(namespace_labels),
        }
    }
}

impl Subject {
    pub fn selects(&self, w: &Workload) -> bool {
        self.namespaces
            .matches(&w.id.namespace, &w.namespace_labels)
            && self.workloads.matches(&w.labels)
    }
}

impl Policy {
    /// Whether this policy isolates `w` in `direction` (selects it, and has that direction).
    pub fn isolates(&self, w: &Workload, direction: Direction) -> bool {
        self.rules(direction).is_some() && self.subject.selects(w)
    }
}

/// The other end of a connection, as a rule sees it.
#[derive(Clone, Copy, Debug)]
pub struct PeerRef<'a> {
    pub addr: Ipv4Addr,
    /// The workload owning `addr`, if any.
    pub workload: Option<&'a Workload>,
}

impl Peer {
    pub fn matches(&self, peer: PeerRef<'_>, inventory: &Inventory) -> bool {
        match self {
            Peer::Workloads {
                namespaces,
                workloads,
            } => peer.workload.is_some_and(|w| {
                namespaces.matches(&w.id.namespace, &w.namespace_labels)
                    && workloads.as_ref().is_none_or(|s| s.matches(&w.labels))
            }),
            Peer::Cidr { net, except } => {
                net.contains(&peer.addr) && !except.iter().any(|e| e.contains(&peer.addr))
            }
            Peer::Entity(Entity::World) => !inventory.is_cluster_address(peer.addr),
            Peer::Entity(Entity::Host) => inventory.host_ips.contains(&peer.addr),
        }
    }
}

impl PortSpec {
    /// `destination` is the workload that receives the connection (it defines named ports).
    pub fn matches(&self, protocol: u8, port: u16, destination: Option<&Workload>) -> bool {
        if Protocol::from_number(protocol) != Some(self.protocol) {
            return false;
        }
        match &self.port {
            PortMatch::Any => true,
            PortMatch::Range(first, last) => (*first..=*last).contains(&port),
            PortMatch::Named(name) => destination
                .and_then(|w| w.resolve_named_port(name, self.protocol))
                .is_some_and(|p| p == port),
        }
    }
}

impl Rule {
    /// Whether the rule matches traffic with `peer` on (`protocol`, `port`), where
    /// `destination` is the workload receiving it (the subject for ingress, the peer for egress).
    pub fn matches(
        &self,
        peer: PeerRef<'_>,
        protocol: u8,
        port: u16,
        destination: Option<&Workload>,
        inventory: &Inventory,
    ) -> bool {
        let peer_ok = self
            .peers
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| p.matches(peer, inventory)));
        let port_ok = self
            .ports
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| p.matches(protocol, port, destination)));
        peer_ok && port_ok
    }
}
