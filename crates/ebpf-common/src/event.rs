//! Flow events, written by the TC programs into the `BH_EVENTS` ring buffer.

/// One event: a new connection admitted at a check point (`EVENT_NEW`, with the
/// outcome `OUTCOME_ALLOWED` or `OUTCOME_WOULD_DENY`), or a packet dropped
/// (`EVENT_VERDICT`, `OUTCOME_DENIED`). Events that find the ring buffer full are
/// counted in the per-CPU `BH_LOST` counter instead.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawEvent {
    /// `bpf_ktime_get_ns()`: CLOCK_MONOTONIC.
    pub time_ns: u64,
    pub kind: u8,
    pub outcome: u8,
    /// The real IP protocol number.
    pub protocol: u8,
    /// `DIR_*` of the check.
    pub direction: u8,
    pub ifindex: u32,
    /// Network byte order.
    pub saddr: [u8; 4],
    pub daddr: [u8; 4],
    /// Host byte order; 0 for protocols without ports.
    pub sport: u16,
    pub dport: u16,
    /// The deciding rule id in the program of `generation`.
    pub rule: u32,
    pub generation: u32,
    /// The packet's length (bytes).
    pub bytes: u32,
}

const _: () = {
    assert!(core::mem::size_of::<RawEvent>() == 40);
    // The ring buffer hands out 8-byte aligned records.
    assert!(core::mem::align_of::<RawEvent>() <= 8);
};

#[cfg(feature = "user")]
// SAFETY: `#[repr(C)]`, `Copy`, no implicit padding (size asserted above), every bit
// pattern valid.
unsafe impl aya::Pod for RawEvent {}
