//! Hand-built [`Program`]s for a [`Node`](super::Node): every workload is its own
//! identity (`2 + i`), `1` is the world, and nothing is isolated until a test says so.

use super::Node;
use bulkhead_compile::Program;
use bulkhead_compile::program::{DirectionProgram, Endpoint, Identity, PortEntry, PortTable};
use bulkhead_policy::ir::Reason;
use bulkhead_policy::{Action, Mode, WorkloadId};
use ipnet::Ipv4Net;

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;

pub fn identity_of(node: &Node, name: &str) -> u32 {
    2 + node.workloads.iter().position(|w| w.name == name).unwrap() as u32
}

pub fn base(node: &Node) -> Program {
    let mut identities = vec![
        Identity {
            description: "any".into(),
            workloads: vec![],
        },
        Identity {
            description: "world".into(),
            workloads: vec![],
        },
    ];
    let mut ipcache = Vec::new();
    let mut endpoints = Vec::new();
    for (i, w) in node.workloads.iter().enumerate() {
        let id = WorkloadId::new("default", &w.name);
        identities.push(Identity {
            description: id.to_string(),
            workloads: vec![id.clone()],
        });
        ipcache.push((Ipv4Net::new(w.ip, 32).unwrap(), 2 + i as u32));
        endpoints.push(Endpoint {
            workload: id,
            index: i as u32,
            ips: vec![w.ip],
            interface: Some(w.interface.clone()),
            identity: 2 + i as u32,
            mode: Mode::Enforce,
            ingress: DirectionProgram::default(),
            egress: DirectionProgram::default(),
            fingerprint: 0,
        });
    }
    ipcache.push(("0.0.0.0/0".parse().unwrap(), 1));
    Program {
        rules: vec![Reason::NotIsolated; 16],
        identities,
        ipcache,
        endpoints,
    }
}

pub fn endpoint<'a>(p: &'a mut Program, name: &str) -> &'a mut Endpoint {
    p.endpoints
        .iter_mut()
        .find(|e| e.workload.name == name)
        .unwrap()
}

/// Isolates a direction, denying by default with rule `default_rule`.
pub fn isolate(d: &mut DirectionProgram, default_rule: u32) {
    d.isolated = true;
    d.default_rule = default_rule;
}

/// Adds an entry for `peer` (or every peer with `None`), keeping the table sorted.
pub fn add(
    d: &mut DirectionProgram,
    peer: Option<u32>,
    protocol: u8,
    ports: (u16, u16),
    action: Action,
    rule: u32,
) {
    let table: &mut PortTable = match peer {
        Some(id) => d.peers.entry(id).or_default(),
        None => &mut d.any,
    };
    table.entries.push(PortEntry {
        protocol,
        first: ports.0,
        last: ports.1,
        action,
        rule,
    });
    table.entries.sort();
}

/// `p` with its fingerprints computed from its content, as the compiler's output has
/// them: the dataplane tells changed endpoints by fingerprint.
pub fn finished(p: &Program) -> Program {
    let mut p = p.clone();
    p.refresh_fingerprints();
    p
}
