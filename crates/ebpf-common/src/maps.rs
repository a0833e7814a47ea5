//! Keys and values of the policy maps. Each of the generation-dependent maps (ipcache,
//! endpoints, policy) holds two *slots*; a packet reads the generation once from
//! [`Config`] and only looks at slot `generation & 1`, so user space can rewrite the
//! other slot and switch with one 4-byte store (see `bulkhead-bpf`'s `sync` module).

/// `BH_CONFIG[0]`: the generation in force. Slot `generation & 1` is active; 0 means
/// "nothing applied yet" and slot 0 is then empty, so every packet passes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub generation: u32,
    pub _pad: u32,
}

/// An ipcache key: the slot, then the IPv4 address. Host addresses (`/32`, every
/// workload's) are exact keys of the `BH_IPCACHE_HOSTS` hash; shorter prefixes are
/// `BH_IPCACHE` LPM key data (the trie's 4-byte prefix length precedes it), where
/// `a.b.c.d/n` is stored with prefix length `32 + n`. A `/32` is the longest prefix
/// there is, so "hash first, then the trie" is exactly the longest-prefix match, and
/// the trie holds only the few CIDRs policies name: the lookup cost of a workload's
/// address does not grow with the number of workloads.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpcacheKey {
    pub slot: u8,
    pub _pad: [u8; 3],
    /// Network byte order.
    pub addr: [u8; 4],
}

impl IpcacheKey {
    /// Bits of the key before the address: slot and padding.
    pub const FIXED_BITS: u32 = 32;

    pub const fn new(slot: u8, addr: [u8; 4]) -> Self {
        Self {
            slot,
            _pad: [0; 3],
            addr,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpcacheValue {
    pub identity: u32,
}

/// `BH_ENDPOINTS` key: the host-side interface a program runs on, and the slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointKey {
    pub ifindex: u32,
    pub slot: u32,
}

/// What a check point knows about its endpoint.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EndpointValue {
    /// The endpoint's id in policy keys (stable across applies, unlike the program's
    /// dense index, so that adding a workload rewrites no one else's entries).
    pub id: u32,
    /// `MODE_*`.
    pub mode: u8,
    /// Bit `1 << DIR_*` set: that direction is isolated (default deny).
    pub isolated: u8,
    pub _pad: [u8; 2],
    /// The rule reported by an isolated direction's default deny, indexed by `DIR_*`.
    pub default_rule: [u32; 2],
    /// Per `DIR_*`: bit `b` set when some policy entry of this endpoint and direction
    /// matches the port's leading `b` bits (`0..=16`). The program looks up only these
    /// lengths, longest first.
    pub port_lengths: [u32; 2],
}

impl EndpointValue {
    #[inline(always)]
    pub const fn is_isolated(&self, direction: u8) -> bool {
        self.isolated & (1 << direction) != 0
    }
}

/// `BH_POLICY` hash key: slot, direction, protocol, the port prefix's length, endpoint
/// id, peer identity and the port with its bits beyond the prefix cleared.
///
/// A port range is stored as the few aligned prefixes covering it, each an exact key.
/// The program tries only the prefix lengths the endpoint uses
/// ([`EndpointValue::port_lengths`]), longest first, so the first hit is the longest
/// matching prefix: the semantics of a longest-prefix match, at the cost of one hash
/// lookup per length in use (one or two for single ports and "any port"), whatever
/// the number of entries on the node.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyKey {
    pub slot: u8,
    pub direction: u8,
    /// IP protocol number (6, 17, 132), or 0 for every other protocol.
    pub protocol: u8,
    /// How many leading bits of `port` are matched (0..=16).
    pub port_bits: u8,
    /// Big-endian endpoint id.
    pub endpoint: [u8; 4],
    /// Big-endian peer identity; [`crate::ANY_IDENTITY`] holds the wildcard entries.
    pub identity: [u8; 4],
    /// Big-endian port, masked to its leading `port_bits` bits; 0 for protocol 0.
    pub port: [u8; 2],
    pub _pad: [u8; 2],
}

impl PolicyKey {
    #[inline(always)]
    pub const fn new(
        slot: u8,
        direction: u8,
        protocol: u8,
        endpoint: u32,
        identity: u32,
        port: u16,
        port_bits: u8,
    ) -> Self {
        Self {
            slot,
            direction,
            protocol,
            port_bits,
            endpoint: endpoint.to_be_bytes(),
            identity: identity.to_be_bytes(),
            port: mask_port(port, port_bits).to_be_bytes(),
            _pad: [0; 2],
        }
    }
}

/// `port` with all but its leading `bits` bits cleared.
#[inline(always)]
pub const fn mask_port(port: u16, bits: u8) -> u16 {
    if bits == 0 {
        0
    } else if bits >= 16 {
        port
    } else {
        port & !(u16::MAX >> bits)
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PolicyValue {
    /// `ACTION_*`.
    pub action: u8,
    pub _pad: [u8; 3],
    pub rule: u32,
}

const _: () = {
    assert!(core::mem::size_of::<Config>() == 8);
    assert!(core::mem::size_of::<IpcacheKey>() == 8);
    assert!(core::mem::align_of::<IpcacheKey>() == 1);
    assert!(core::mem::size_of::<IpcacheValue>() == 4);
    assert!(core::mem::size_of::<EndpointKey>() == 8);
    assert!(core::mem::size_of::<EndpointValue>() == 24);
    assert!(core::mem::size_of::<PolicyKey>() == 16);
    assert!(core::mem::align_of::<PolicyKey>() == 1);
    assert!(core::mem::size_of::<PolicyValue>() == 8);
};

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: each type is `#[repr(C)]`, `Copy`, has no padding (explicit `_pad`
    // fields; sizes asserted above) and every bit pattern is a valid value.
    unsafe impl aya::Pod for Config {}
    // SAFETY: as above.
    unsafe impl aya::Pod for IpcacheKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for IpcacheValue {}
    // SAFETY: as above.
    unsafe impl aya::Pod for EndpointKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for EndpointValue {}
    // SAFETY: as above.
    unsafe impl aya::Pod for PolicyKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for PolicyValue {}
}
