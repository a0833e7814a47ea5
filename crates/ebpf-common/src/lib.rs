#![no_std]
//! The layout contract between Bulkhead's TC programs (`ebpf/`) and user space
//! (`bulkhead-compile`'s map entries, `bulkhead-bpf`'s loader and readers).
//!
//! Every type is `#[repr(C)]`, `Copy`, free of implicit padding (explicit `_pad`
//! fields, zeroed by every constructor, because the kernel hashes and compares whole
//! keys), and its size is asserted at compile time so that both sides fail to build
//! rather than disagree. Multi-byte fields that take part in a longest-prefix match are
//! stored big-endian (`[u8; N]`): the LPM trie compares bits from the most significant
//! bit of the first byte on.
//!
//! With the `user` feature each type also implements `aya::Pod`, which user space needs
//! to read and write maps; the eBPF side and the pure compiler build without aya.

pub mod conntrack;
pub mod event;
pub mod maps;

pub use conntrack::{CtKey, CtValue};
pub use event::RawEvent;
pub use maps::{
    Config, EndpointKey, EndpointValue, IpcacheKey, IpcacheValue, PolicyKey, PolicyValue, mask_port,
};

/// Map names: the ELF symbols of the maps and their pin file names.
pub mod names {
    pub const CONFIG: &str = "BH_CONFIG";
    pub const IPCACHE: &str = "BH_IPCACHE";
    pub const IPCACHE_HOSTS: &str = "BH_IPCACHE_HOSTS";
    pub const ENDPOINTS: &str = "BH_ENDPOINTS";
    pub const POLICY: &str = "BH_POLICY";
    pub const CONNTRACK: &str = "BH_CONNTRACK";
    pub const EVENTS: &str = "BH_EVENTS";
    pub const LOST: &str = "BH_LOST";
    /// Every map the programs declare, in a fixed order.
    pub const ALL: [&str; 8] = [
        CONFIG,
        IPCACHE,
        IPCACHE_HOSTS,
        ENDPOINTS,
        POLICY,
        CONNTRACK,
        EVENTS,
        LOST,
    ];
    /// The program attached to a host-side veth's TC ingress: the workload's egress.
    pub const PROG_FROM_WORKLOAD: &str = "bh_from_wl";
    /// The program attached to a host-side veth's TC egress: the workload's ingress.
    pub const PROG_TO_WORKLOAD: &str = "bh_to_wl";
}

/// Map capacities, shared by the map definitions and by the compiler's validation, so
/// that "the map is full" is reported before anything is written.
pub mod capacity {
    /// Policy entries per generation slot (the map holds two slots).
    pub const POLICY_PER_SLOT: u32 = 1 << 19;
    /// ipcache prefixes per generation slot, host addresses and CIDRs each.
    pub const IPCACHE_PER_SLOT: u32 = 1 << 16;
    /// Endpoints per generation slot.
    pub const ENDPOINTS_PER_SLOT: u32 = 1 << 13;
    /// Connections tracked at once over all check points (LRU: the oldest are evicted).
    pub const CONNTRACK: u32 = 1 << 17;
    /// Ring-buffer bytes for flow events (a power of two multiple of the page size).
    pub const EVENT_BYTES: u32 = 1 << 24;
}

/// Directions, seen from the workload (not from the interface).
pub const DIR_INGRESS: u8 = 0;
pub const DIR_EGRESS: u8 = 1;

/// Endpoint modes, in [`EndpointValue::mode`].
pub const MODE_ENFORCE: u8 = 0;
pub const MODE_MONITOR: u8 = 1;
pub const MODE_LEARN: u8 = 2;

/// Actions, in [`PolicyValue::action`].
pub const ACTION_ALLOW: u8 = 0;
pub const ACTION_DENY: u8 = 1;

/// Outcomes of a check point, in events and conntrack entries.
pub const OUTCOME_ALLOWED: u8 = 0;
pub const OUTCOME_WOULD_DENY: u8 = 1;
pub const OUTCOME_DENIED: u8 = 2;

/// Event kinds, in [`RawEvent::kind`].
pub const EVENT_NEW: u8 = 0;
pub const EVENT_VERDICT: u8 = 1;

/// The wildcard peer identity (`any` entries); also what an address outside every
/// ipcache prefix maps to.
pub const ANY_IDENTITY: u32 = 0;

/// Protocols with ports. Every other protocol is looked up as protocol 0, port 0.
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_SCTP: u8 = 132;

/// The protocol and port a policy lookup uses for a packet: TCP, UDP and SCTP keep
/// theirs, every other protocol is (0, 0), as in the compiled program.
#[inline(always)]
pub const fn policy_protocol_port(protocol: u8, port: u16) -> (u8, u16) {
    match protocol {
        PROTO_TCP | PROTO_UDP | PROTO_SCTP => (protocol, port),
        _ => (0, 0),
    }
}
