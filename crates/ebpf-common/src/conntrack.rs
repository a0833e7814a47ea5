//! Connection tracking: one entry per connection and *check point* (a host-side veth
//! and the workload direction it checks), so that the two ends of a connection on one
//! node are tracked, and decided, independently, like the two checks of
//! `Program::check`.

/// `BH_CONNTRACK` key: the connection as first seen at this check point.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CtKey {
    pub ifindex: u32,
    /// `DIR_*` of the check that admitted the connection.
    pub direction: u8,
    /// The real IP protocol number (not the policy's 0 for "other").
    pub protocol: u8,
    pub _pad: [u8; 2],
    /// Network byte order.
    pub saddr: [u8; 4],
    pub daddr: [u8; 4],
    /// Network byte order; 0 for protocols without ports.
    pub sport: [u8; 2],
    pub dport: [u8; 2],
}

impl CtKey {
    #[inline(always)]
    pub const fn new(
        ifindex: u32,
        direction: u8,
        protocol: u8,
        saddr: [u8; 4],
        daddr: [u8; 4],
        sport: [u8; 2],
        dport: [u8; 2],
    ) -> Self {
        Self {
            ifindex,
            direction,
            protocol,
            _pad: [0; 2],
            saddr,
            daddr,
            sport,
            dport,
        }
    }

    /// The key the reply of this connection is found under at the same check point:
    /// addresses and ports swapped, the other direction.
    #[inline(always)]
    pub const fn reply(&self) -> Self {
        Self::new(
            self.ifindex,
            self.direction ^ 1,
            self.protocol,
            self.daddr,
            self.saddr,
            self.dport,
            self.sport,
        )
    }
}

/// Per-connection state and counters. Counters are updated with atomic adds from any
/// CPU; `last_seen_ns` with a plain store (a late writer can only make it older by
/// nanoseconds).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtValue {
    /// CLOCK_MONOTONIC of the first packet (`bpf_ktime_get_ns`) and of the latest
    /// (`bpf_ktime_get_coarse_ns`: tick resolution, so it may trail the first by up to
    /// a tick; read on every packet, it must be cheap).
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    /// Packets and bytes in the direction of the first packet, and of the replies.
    pub packets: u64,
    pub bytes: u64,
    pub reply_packets: u64,
    pub reply_bytes: u64,
    /// The rule and generation that admitted the connection.
    pub rule: u32,
    pub generation: u32,
    /// `OUTCOME_ALLOWED` or `OUTCOME_WOULD_DENY`: denied connections are not tracked.
    pub outcome: u8,
    pub _pad: [u8; 7],
}

const _: () = {
    assert!(core::mem::size_of::<CtKey>() == 20);
    assert!(core::mem::size_of::<CtValue>() == 64);
};

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: `#[repr(C)]`, `Copy`, no implicit padding (sizes asserted above), every
    // bit pattern valid.
    unsafe impl aya::Pod for CtKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for CtValue {}
}
