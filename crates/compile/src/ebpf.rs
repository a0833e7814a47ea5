//! [`Program`](crate::Program) → the contents of the eBPF backend's maps (layouts in
//! `bulkhead-ebpf-common`), as plain values: no aya, no kernel. `bulkhead-bpf` writes
//! them, double-buffered by generation slot; the slot is therefore not part of what is
//! computed here.
//!
//! - ipcache: every `(prefix, identity)` of the program, as is.
//! - endpoints: per local endpoint, its interface and [`EndpointValue`].
//! - policy: per endpoint, direction, peer identity (or the wildcard) and protocol, the
//!   port entries, each port range cut into the prefixes that cover it
//!   ([`prefixes::port_prefixes`]); the endpoint's value lists the prefix lengths in use
//!   per direction, which are all the program has to try.
//!
//! **Why key policy by identity, not by address.** A peer's address is mapped to its
//! identity once per new connection (one ipcache lookup), after which the policy lookup
//! is an exact match on (endpoint, direction, identity, protocol) plus a longest-prefix
//! match over the 16 port bits (an exact hash lookup per prefix length in use). Keying by address instead would multiply every rule by
//! the number of peer prefixes it names (each CIDR, each selected workload's address),
//! make the entries of a rule depend on other workloads' addresses (so one workload
//! moving would rewrite everyone's entries) and force a 2-dimensional (address, port)
//! match, which no kernel map does in one lookup. With identities, the number of entries
//! is the number of distinct (identity, port range) decisions, and a lookup costs a few
//! hash lookups (the peer's entry, then the wildcard, each at the prefix lengths in use),
//! whatever the rule count or the number of entries on the node.
//!
//! **Endpoint ids** in keys are not the program's dense `index`: they are assigned by
//! [`ids::assign`] and kept across applies, so adding a workload (which shifts every
//! later dense index) rewrites no other endpoint's entries.

pub mod ids;
pub mod prefixes;
pub mod render;

use crate::program::{DirectionProgram, Endpoint, Program};
use bulkhead_ebpf_common::{
    ACTION_ALLOW, ACTION_DENY, DIR_EGRESS, DIR_INGRESS, EndpointValue, MODE_ENFORCE, MODE_LEARN,
    MODE_MONITOR, PolicyValue, capacity,
};
use bulkhead_policy::{Action, Mode, WorkloadId};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;

pub use ids::assign as assign_ids;
pub use prefixes::port_prefixes;

/// Everything one node's maps must hold (one slot's worth).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeMaps {
    pub ipcache: BTreeMap<Ipv4Net, u32>,
    /// One per local endpoint, in the program's order (by workload id).
    pub endpoints: Vec<EndpointMaps>,
}

/// One endpoint's share of the maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointMaps {
    pub workload: WorkloadId,
    /// The host-side interface the programs are attached to.
    pub interface: String,
    /// The endpoint's value; `value.id` is the endpoint id in its policy keys.
    pub value: EndpointValue,
    pub policy: BTreeMap<PolicyEntry, PolicyValue>,
}

/// A policy key without slot and endpoint id (both added when written).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyEntry {
    /// `DIR_INGRESS` or `DIR_EGRESS`.
    pub direction: u8,
    /// 6, 17, 132, or 0 for every other protocol.
    pub protocol: u8,
    /// The peer identity, or `ANY_IDENTITY` for entries that hold for every peer.
    pub identity: u32,
    /// The first port of the prefix (its low `16 - port_bits` bits are zero).
    pub port: u16,
    /// How many leading bits of `port` are matched (0..=16).
    pub port_bits: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    #[error(
        "workload {workload} has no host-side interface on this node, so eBPF cannot enforce for it"
    )]
    NoInterface { workload: WorkloadId },
    #[error("workload {workload} has no endpoint id assigned")]
    NoEndpointId { workload: WorkloadId },
    #[error("the {map} map would need {needed} entries per generation, more than its {max}")]
    MapFull {
        map: &'static str,
        needed: usize,
        max: u32,
    },
}

/// The map contents for `program`, with endpoint ids from `ids` (see [`ids::assign`]).
/// Fails, before anything touches the kernel, if an endpoint has no interface or a map
/// would overflow.
pub fn node_maps(
    program: &Program,
    ids: &BTreeMap<WorkloadId, u32>,
) -> Result<NodeMaps, EbpfError> {
    let ipcache = ipcache(program);
    check_capacity("ipcache", ipcache.len(), capacity::IPCACHE_PER_SLOT)?;
    check_capacity(
        "endpoints",
        program.endpoints.len(),
        capacity::ENDPOINTS_PER_SLOT,
    )?;
    let endpoints = program
        .endpoints
        .iter()
        .map(|e| {
            let id = ids
                .get(&e.workload)
                .copied()
                .ok_or_else(|| EbpfError::NoEndpointId {
                    workload: e.workload.clone(),
                })?;
            endpoint_maps(e, id)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let entries: usize = endpoints.iter().map(|e| e.policy.len()).sum();
    check_capacity("policy", entries, capacity::POLICY_PER_SLOT)?;
    Ok(NodeMaps { ipcache, endpoints })
}

pub fn check_capacity(map: &'static str, needed: usize, max: u32) -> Result<(), EbpfError> {
    if needed > max as usize {
        return Err(EbpfError::MapFull { map, needed, max });
    }
    Ok(())
}

/// The ipcache: the program's prefixes as they are.
pub fn ipcache(program: &Program) -> BTreeMap<Ipv4Net, u32> {
    program.ipcache.iter().copied().collect()
}

/// One endpoint's value and policy entries, for endpoint id `id`.
pub fn endpoint_maps(endpoint: &Endpoint, id: u32) -> Result<EndpointMaps, EbpfError> {
    let interface = endpoint
        .interface
        .clone()
        .ok_or_else(|| EbpfError::NoInterface {
            workload: endpoint.workload.clone(),
        })?;
    let mut isolated = 0u8;
    let mut default_rule = [0u32; 2];
    let mut policy = BTreeMap::new();
    for (direction, table) in [
        (DIR_INGRESS, &endpoint.ingress),
        (DIR_EGRESS, &endpoint.egress),
    ] {
        if table.isolated {
            isolated |= 1 << direction;
            default_rule[usize::from(direction)] = table.default_rule;
        }
        direction_entries(direction, table, &mut policy);
    }
    let mut port_lengths = [0u32; 2];
    for k in policy.keys() {
        port_lengths[usize::from(k.direction & 1)] |= 1 << k.port_bits;
    }
    let value = EndpointValue {
        id,
        mode: mode(endpoint.mode),
        isolated,
        _pad: [0; 2],
        default_rule,
        port_lengths,
    };
    Ok(EndpointMaps {
        workload: endpoint.workload.clone(),
        interface,
        value,
        policy,
    })
}

fn direction_entries(
    direction: u8,
    table: &DirectionProgram,
    out: &mut BTreeMap<PolicyEntry, PolicyValue>,
) {
    let tables = std::iter::once((bulkhead_ebpf_common::ANY_IDENTITY, &table.any))
        .chain(table.peers.iter().map(|(id, t)| (*id, t)));
    for (identity, ports) in tables {
        for e in &ports.entries {
            let value = PolicyValue {
                action: match e.action {
                    Action::Allow => ACTION_ALLOW,
                    Action::Deny => ACTION_DENY,
                },
                _pad: [0; 3],
                rule: e.rule,
            };
            for (port, port_bits) in port_prefixes(e.first, e.last) {
                let key = PolicyEntry {
                    direction,
                    protocol: e.protocol,
                    identity,
                    port,
                    port_bits,
                };
                out.insert(key, value);
            }
        }
    }
}

pub fn mode(mode: Mode) -> u8 {
    match mode {
        Mode::Enforce => MODE_ENFORCE,
        Mode::Monitor => MODE_MONITOR,
        Mode::Learn => MODE_LEARN,
    }
}
