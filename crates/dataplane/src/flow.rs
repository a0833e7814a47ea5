//! Flow events as the kernel reports them, before any aggregation.

use bulkhead_compile::{Outcome, RuleId};
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlowKind {
    /// A new connection passed (allowed, or denied only by monitoring checks).
    New,
    /// A connection ended (or its counters were read); counters are totals so far.
    End,
    /// A packet was dropped (or, with `Outcome::WouldDeny`, would have been).
    Verdict,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowEvent {
    pub kind: FlowKind,
    pub outcome: Outcome,
    pub protocol: u8,
    pub src: Ipv4Addr,
    pub src_port: u16,
    pub dst: Ipv4Addr,
    pub dst_port: u16,
    /// The rule that decided (`NO_RULE` when no policy applies), as numbered by the
    /// program of `generation`: the one in force when the packet was seen.
    pub rule: RuleId,
    pub generation: u32,
    pub packets: u64,
    pub bytes: u64,
    pub time: SystemTime,
}

/// A stream of flow events from one backend.
pub trait FlowSource: Send {
    /// Appends the events available within `timeout` to `out`.
    fn poll(&mut self, out: &mut Vec<FlowEvent>, timeout: Duration) -> Result<(), crate::Error>;

    /// Events the kernel could not deliver (ring buffer full, socket overrun), in total.
    fn lost(&self) -> u64;
}
