//! One check point's decision for one packet.
//!
//! 1. Only IPv4 packets on interfaces with an endpoint in the active slot are checked.
//! 2. A packet of a connection this check point admitted before (either way round)
//!    passes and is counted: replies of allowed connections always pass, and a
//!    connection's verdict does not change mid-flight. This is looked up first, before
//!    the endpoint: it is what most packets are, and they need nothing else.
//! 3. Otherwise it opens a connection: the peer's identity (ipcache), then the policy
//!    entry for that identity, else the wildcard entry, else the endpoint's default,
//!    exactly `DirectionProgram::lookup`. Monitor and learn never drop.

use crate::maps::{
    BH_CONFIG, BH_CONNTRACK, BH_ENDPOINTS, BH_EVENTS, BH_IPCACHE, BH_IPCACHE_HOSTS, BH_LOST,
    BH_POLICY,
};
use crate::packet::{Packet, parse};
use aya_ebpf::bindings::{BPF_ANY, BPF_NOEXIST};
use aya_ebpf::helpers::{bpf_ktime_get_coarse_ns, bpf_ktime_get_ns};
use aya_ebpf::maps::lpm_trie::Key;
use aya_ebpf::programs::TcContext;
use bulkhead_ebpf_common::{
    ACTION_DENY, ANY_IDENTITY, CtKey, CtValue, DIR_EGRESS, EVENT_NEW, EVENT_VERDICT, EndpointKey,
    EndpointValue, IpcacheKey, MODE_ENFORCE, MODE_MONITOR, OUTCOME_ALLOWED, OUTCOME_DENIED,
    OUTCOME_WOULD_DENY, PolicyKey, PolicyValue, RawEvent, policy_protocol_port,
};
use core::intrinsics::{AtomicOrdering, atomic_xadd};

/// TCX_NEXT: "no objection", so programs attached after ours still run.
pub const TC_ACT_UNSPEC: i32 = -1;
pub const TC_ACT_SHOT: i32 = 2;

#[inline(always)]
pub fn try_check(ctx: &TcContext, direction: u8) -> Result<i32, ()> {
    // Read once: every lookup below uses this generation's slot, so a packet never
    // sees half of one program and half of the next.
    let generation = match BH_CONFIG.get(0) {
        Some(c) => c.generation,
        None => return Ok(TC_ACT_UNSPEC),
    };
    if generation == 0 {
        return Ok(TC_ACT_UNSPEC);
    }
    let slot = (generation & 1) as u8;
    // SAFETY: reading the context's `ifindex` field, checked by the verifier.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    let endpoint_key = EndpointKey {
        ifindex,
        slot: u32::from(slot),
    };
    let pkt = match parse(ctx) {
        Ok(Some(pkt)) => pkt,
        Ok(None) => return Ok(TC_ACT_UNSPEC),
        // Unreadable headers fail closed only where an endpoint is enforced.
        Err(()) if BH_ENDPOINTS.get_ptr(&endpoint_key).is_some() => return Err(()),
        Err(()) => return Ok(TC_ACT_UNSPEC),
    };

    let key = CtKey::new(
        ifindex,
        direction,
        pkt.protocol,
        pkt.saddr,
        pkt.daddr,
        pkt.sport,
        pkt.dport,
    );
    // A connection admitted by another generation is checked again by its next
    // opening packet (a TCP SYN reusing the tuple, or any UDP/ICMP packet): a policy
    // change then applies to new connections that happen to reuse a tuple, and to
    // connectionless flows, while established TCP connections carry on.
    let mut stale = false;
    // Packets of admitted connections are most packets: their timestamp comes from the
    // coarse clock (the same CLOCK_MONOTONIC, at the resolution of a tick), which reads
    // a variable instead of the clock source.
    // SAFETY: a helper without arguments or preconditions.
    let coarse = || unsafe { bpf_ktime_get_coarse_ns() };
    if let Some(ct) = BH_CONNTRACK.get_ptr_mut(&key) {
        // SAFETY: `ct` points at a live map value (RCU); the counters are only updated
        // with atomic adds, the other fields with plain aligned stores.
        unsafe {
            if !pkt.opens() || (*ct).generation == generation {
                (*ct).last_seen_ns = coarse();
                count(&raw mut (*ct).packets, &raw mut (*ct).bytes, pkt.len);
                return Ok(TC_ACT_UNSPEC);
            }
        }
        stale = true;
    } else if !pkt.is_tcp_syn() {
        if let Some(ct) = BH_CONNTRACK.get_ptr_mut(key.reply()) {
            // SAFETY: as above.
            unsafe {
                (*ct).last_seen_ns = coarse();
                count(
                    &raw mut (*ct).reply_packets,
                    &raw mut (*ct).reply_bytes,
                    pkt.len,
                );
            }
            return Ok(TC_ACT_UNSPEC);
        }
    }

    // Packets of admitted connections (most packets) passed above without looking up
    // the endpoint: a tracked connection on an interface implies it was enforced there,
    // and without an endpoint the verdict would be the same pass.
    let endpoint = match BH_ENDPOINTS.get_ptr(&endpoint_key) {
        // SAFETY: the pointer is a live map value (RCU keeps it valid during this
        // program run); user space writes only the inactive slot's keys.
        Some(p) => unsafe { *p },
        None => return Ok(TC_ACT_UNSPEC),
    };

    // A new connection at this check point: its events carry the precise time.
    // SAFETY: a helper without arguments or preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    let peer = if direction == DIR_EGRESS {
        pkt.daddr
    } else {
        pkt.saddr
    };
    let identity = identity_of(slot, peer);
    let (protocol, port) = policy_protocol_port(pkt.protocol, u16::from_be_bytes(pkt.dport));
    let mut hit = None;
    if identity != ANY_IDENTITY {
        hit = policy(slot, direction, protocol, &endpoint, identity, port);
    }
    if hit.is_none() {
        hit = policy(slot, direction, protocol, &endpoint, ANY_IDENTITY, port);
    }
    let (deny, rule) = match hit {
        Some(v) => (v.action == ACTION_DENY, v.rule),
        None if endpoint.is_isolated(direction) => {
            (true, endpoint.default_rule[usize::from(direction & 1)])
        }
        None => (false, 0),
    };
    let outcome = match (deny, endpoint.mode) {
        (false, _) => OUTCOME_ALLOWED,
        (true, MODE_ENFORCE) => OUTCOME_DENIED,
        (true, MODE_MONITOR) => OUTCOME_WOULD_DENY,
        // Learn: allowed, and recorded with the rule that would have denied.
        (true, _) => OUTCOME_ALLOWED,
    };
    let event = |kind| RawEvent {
        time_ns: now,
        kind,
        outcome,
        protocol: pkt.protocol,
        direction,
        ifindex,
        saddr: pkt.saddr,
        daddr: pkt.daddr,
        sport: u16::from_be_bytes(pkt.sport),
        dport: u16::from_be_bytes(pkt.dport),
        rule,
        generation,
        bytes: pkt.len,
    };
    if outcome == OUTCOME_DENIED {
        if stale {
            let _ = BH_CONNTRACK.remove(&key);
        }
        emit(&event(EVENT_VERDICT));
        return Ok(TC_ACT_SHOT);
    }
    track(&key, &pkt, now, rule, generation, outcome, stale);
    emit(&event(EVENT_NEW));
    Ok(TC_ACT_UNSPEC)
}

/// The identity of `addr` in `slot`: its host entry, else the longest CIDR holding it,
/// else the wildcard.
#[inline(always)]
fn identity_of(slot: u8, addr: [u8; 4]) -> u32 {
    let key = IpcacheKey::new(slot, addr);
    // SAFETY: a live map value (RCU keeps it valid during this program run), copied out
    // at once.
    if let Some(v) = unsafe { BH_IPCACHE_HOSTS.get(&key) } {
        return v.identity;
    }
    match BH_IPCACHE.get(Key::new(IpcacheKey::FIXED_BITS + 32, key)) {
        Some(v) => v.identity,
        None => ANY_IDENTITY,
    }
}

/// The longest port prefix entry of (endpoint, direction, protocol, identity) that
/// holds `port`: one exact lookup per prefix length the endpoint uses, longest first.
#[inline(always)]
fn policy(
    slot: u8,
    direction: u8,
    protocol: u8,
    endpoint: &EndpointValue,
    identity: u32,
    port: u16,
) -> Option<PolicyValue> {
    let lengths = endpoint.port_lengths[usize::from(direction & 1)];
    let mut bits: u32 = 17;
    while bits > 0 {
        bits -= 1;
        if lengths & (1 << bits) == 0 {
            continue;
        }
        let key = PolicyKey::new(
            slot,
            direction,
            protocol,
            endpoint.id,
            identity,
            port,
            bits as u8,
        );
        // SAFETY: as in `identity_of`: a live map value, copied out at once.
        if let Some(v) = unsafe { BH_POLICY.get(&key) } {
            return Some(*v);
        }
    }
    None
}

#[inline(always)]
fn track(
    key: &CtKey,
    pkt: &Packet,
    now: u64,
    rule: u32,
    generation: u32,
    outcome: u8,
    replace: bool,
) {
    let value = CtValue {
        first_seen_ns: now,
        last_seen_ns: now,
        packets: 1,
        bytes: u64::from(pkt.len),
        reply_packets: 0,
        reply_bytes: 0,
        rule,
        generation,
        outcome,
        _pad: [0; 7],
    };
    // NOEXIST for a new connection: if another CPU admitted it a moment ago, its entry
    // (and counters) stay and this packet is simply not counted. A re-checked one
    // replaces its stale entry. The LRU map evicts instead of failing when full, so an
    // error here needs no handling.
    let flags = if replace { BPF_ANY } else { BPF_NOEXIST };
    let _ = BH_CONNTRACK.insert(key, &value, u64::from(flags));
}

/// # Safety
/// Both pointers point into one live conntrack value.
#[inline(always)]
unsafe fn count(packets: *mut u64, bytes: *mut u64, len: u32) {
    // The bpf target has no compare-and-swap, so `AtomicU64::fetch_add` does not
    // exist there; the intrinsic with an unused result lowers to the BPF atomic add
    // instruction every kernel with BPF supports.
    // SAFETY: the caller guarantees live, 8-byte aligned map memory; atomic adds make
    // concurrent updates from several CPUs add up.
    unsafe {
        atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(packets, 1);
        atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(bytes, u64::from(len));
    }
}

#[inline(always)]
fn emit(event: &RawEvent) {
    match BH_EVENTS.reserve::<RawEvent>(0) {
        Some(mut entry) => {
            entry.write(*event);
            entry.submit(0);
        }
        None => {
            // Never lose an event silently: count it per CPU (no atomics needed).
            if let Some(lost) = BH_LOST.get_ptr_mut(0) {
                // SAFETY: a per-CPU array value, only touched by this CPU.
                unsafe { *lost += 1 };
            }
        }
    }
}
