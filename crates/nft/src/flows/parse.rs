//! Parsing of the two netlink event streams the nft flow reader listens to: conntrack
//! (`NFNL_SUBSYS_CTNETLINK`) NEW/DESTROY events and NFLOG (`NFNL_SUBSYS_ULOG`) packets.
//! Pure functions over bytes, so every path is unit-tested without a kernel.
//!
//! Attribute numbers are from `linux/netfilter/nfnetlink_conntrack.h` and
//! `nfnetlink_log.h`; they are stable kernel ABI.

use bulkhead_compile::Outcome;
use bulkhead_compile::nft::decision::Decision;
use bulkhead_compile::nft::parse_log_prefix;
use bulkhead_compile::program::{NO_RULE, RuleId};
use bulkhead_dataplane::{FlowEvent, FlowKind};
use std::net::Ipv4Addr;
use std::time::SystemTime;

pub const NLMSG_HDRLEN: usize = 16;
const NFGEN_LEN: usize = 4;
const NLM_F_CREATE: u16 = 0x400;

pub const SUBSYS_CTNETLINK: u16 = 1;
pub const SUBSYS_ULOG: u16 = 4;
const CT_MSG_NEW: u16 = 0;
const CT_MSG_DELETE: u16 = 2;
const ULOG_MSG_PACKET: u16 = 0;

const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
const CTA_COUNTERS_ORIG: u16 = 9;
const CTA_COUNTERS_REPLY: u16 = 10;
const CTA_COUNTERS_PACKETS: u16 = 1;
const CTA_COUNTERS_BYTES: u16 = 2;

const NFULA_PAYLOAD: u16 = 9;
const NFULA_PREFIX: u16 = 10;
/// The packet mark (`skb->mark`), sent when not 0.
const NFULA_MARK: u16 = 2;

/// One netlink message: its type, flags and payload (after the header).
pub struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub payload: &'a [u8],
}

/// Splits a datagram into its netlink messages; a truncated tail is dropped.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Message<'_>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = u32::from_ne_bytes(rest[0..4].try_into().ok()?) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return None;
        }
        let msg = Message {
            kind: u16::from_ne_bytes(rest[4..6].try_into().ok()?),
            flags: u16::from_ne_bytes(rest[6..8].try_into().ok()?),
            payload: &rest[NLMSG_HDRLEN..len],
        };
        rest = &rest[align(len).min(rest.len())..];
        Some(msg)
    })
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// Iterates (type, value) over netlink attributes; the nested and byte-order flag bits
/// are masked off the type.
fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        let value = &rest[4..len];
        rest = &rest[align(len).min(rest.len())..];
        Some((kind, value))
    })
}

fn attr(buf: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(buf).find(|(k, _)| *k == kind).map(|(_, v)| v)
}

fn be16(v: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(v.get(..2)?.try_into().ok()?))
}

fn be64(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.get(..8)?.try_into().ok()?))
}

fn v4(v: &[u8]) -> Option<Ipv4Addr> {
    let b: [u8; 4] = v.get(..4)?.try_into().ok()?;
    Some(Ipv4Addr::from(b))
}

/// A conntrack event as a flow event: NEW (a connection was admitted and confirmed)
/// or DESTROY (it ended), with packet and byte totals of both directions. `None` for
/// other messages and non-IPv4 connections.
pub fn conntrack_event(msg: &Message<'_>, time: SystemTime) -> Option<FlowEvent> {
    if msg.kind >> 8 != SUBSYS_CTNETLINK {
        return None;
    }
    let kind = match msg.kind & 0xff {
        CT_MSG_NEW if msg.flags & NLM_F_CREATE != 0 => FlowKind::New,
        CT_MSG_DELETE => FlowKind::End,
        _ => return None,
    };
    conntrack_flow(msg, kind, time)
}

/// An entry of a conntrack table dump: the counters of a connection still open, as an
/// `End` event (totals so far).
pub fn conntrack_dump_entry(msg: &Message<'_>, time: SystemTime) -> Option<FlowEvent> {
    if msg.kind != (SUBSYS_CTNETLINK << 8) | CT_MSG_NEW {
        return None;
    }
    conntrack_flow(msg, FlowKind::End, time)
}

/// The (already classified) conntrack message's tuple and counters.
fn conntrack_flow(msg: &Message<'_>, kind: FlowKind, time: SystemTime) -> Option<FlowEvent> {
    let body = msg.payload.get(NFGEN_LEN..)?;
    let tuple = attr(body, CTA_TUPLE_ORIG)?;
    let ip = attr(tuple, CTA_TUPLE_IP)?;
    let proto = attr(tuple, CTA_TUPLE_PROTO)?;
    let protocol = *attr(proto, CTA_PROTO_NUM)?.first()?;
    let port = |k| attr(proto, k).and_then(be16).unwrap_or(0);
    let (mut packets, mut bytes) = (0u64, 0u64);
    for k in [CTA_COUNTERS_ORIG, CTA_COUNTERS_REPLY] {
        if let Some(c) = attr(body, k) {
            packets += attr(c, CTA_COUNTERS_PACKETS).and_then(be64).unwrap_or(0);
            bytes += attr(c, CTA_COUNTERS_BYTES).and_then(be64).unwrap_or(0);
        }
    }
    Some(FlowEvent {
        kind,
        outcome: Outcome::Allowed,
        protocol,
        src: v4(attr(ip, CTA_IP_V4_SRC)?)?,
        src_port: port(CTA_PROTO_SRC_PORT),
        dst: v4(attr(ip, CTA_IP_V4_DST)?)?,
        dst_port: port(CTA_PROTO_DST_PORT),
        rule: NO_RULE,
        generation: 0,
        packets,
        bytes,
        time,
    })
}

/// An NFLOG packet logged by a Bulkhead deny (or monitor) chain: the dropped packet's
/// addresses, the generation from the log prefix, and the deciding rule from the decision
/// code the log chain copied into the packet mark (see `nft::decision`). `None` for packets logged by
/// anyone else (another prefix) and for non-IPv4 packets.
pub fn nflog_event(msg: &Message<'_>, time: SystemTime) -> Option<FlowEvent> {
    if msg.kind >> 8 != SUBSYS_ULOG || msg.kind & 0xff != ULOG_MSG_PACKET {
        return None;
    }
    let body = msg.payload.get(NFGEN_LEN..)?;
    let prefix = attr(body, NFULA_PREFIX)?;
    let prefix = parse_log_prefix(std::str::from_utf8(prefix).ok()?)?;
    let pkt = attr(body, NFULA_PAYLOAD)?;
    if pkt.first()? >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let protocol = *pkt.get(9)?;
    let (src_port, dst_port) = match protocol {
        6 | 17 | 132 => (be16(pkt.get(ihl..)?)?, be16(pkt.get(ihl + 2..)?)?),
        _ => (0, 0),
    };
    Some(FlowEvent {
        kind: FlowKind::Verdict,
        outcome: if prefix.would_deny {
            Outcome::WouldDeny
        } else {
            Outcome::Denied
        },
        protocol,
        src: v4(pkt.get(12..)?)?,
        src_port,
        dst: v4(pkt.get(16..)?)?,
        dst_port,
        rule: if prefix.attributed {
            logged_rule(body, prefix.would_deny)
        } else {
            NO_RULE
        },
        generation: prefix.generation,
        packets: 1,
        bytes: u64::from(be16(pkt.get(2..)?)?),
        time,
    })
}

/// The rule in a logged packet's mark; [`NO_RULE`] when it has no mark or the mark holds
/// no decision of the logged kind (the event still counts, just not attributed).
fn logged_rule(body: &[u8], would_deny: bool) -> RuleId {
    let code =
        attr(body, NFULA_MARK).and_then(|m| Some(u32::from_be_bytes(m.get(..4)?.try_into().ok()?)));
    match code.and_then(Decision::from_code) {
        Some(Decision::Deny(r)) if !would_deny => r,
        Some(Decision::Monitor(r)) if would_deny => r,
        _ => NO_RULE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builders for the tests: an attribute, a nested attribute, a message.
    fn a(kind: u16, value: &[u8]) -> Vec<u8> {
        let len = (4 + value.len()) as u16;
        let mut v = len.to_ne_bytes().to_vec();
        v.extend((kind).to_ne_bytes());
        v.extend(value);
        while !v.len().is_multiple_of(4) {
            v.push(0);
        }
        v
    }

    fn nest(kind: u16, parts: &[Vec<u8>]) -> Vec<u8> {
        a(kind | 0x8000, &parts.concat())
    }

    fn msg(kind: u16, flags: u16, attrs: &[Vec<u8>]) -> Vec<u8> {
        let body = [vec![2, 0, 0, 0], attrs.concat()].concat();
        let len = (NLMSG_HDRLEN + body.len()) as u32;
        let mut v = len.to_ne_bytes().to_vec();
        v.extend(kind.to_ne_bytes());
        v.extend(flags.to_ne_bytes());
        v.extend([0u8; 8]);
        v.extend(body);
        v
    }

    fn ct(kind: u16, flags: u16) -> Vec<u8> {
        let tuple = nest(
            CTA_TUPLE_ORIG,
            &[
                nest(
                    CTA_TUPLE_IP,
                    &[
                        a(CTA_IP_V4_SRC, &[10, 0, 0, 1]),
                        a(CTA_IP_V4_DST, &[10, 0, 0, 2]),
                    ],
                ),
                nest(
                    CTA_TUPLE_PROTO,
                    &[
                        a(CTA_PROTO_NUM, &[6]),
                        a(CTA_PROTO_SRC_PORT, &40000u16.to_be_bytes()),
                        a(CTA_PROTO_DST_PORT, &80u16.to_be_bytes()),
                    ],
                ),
            ],
        );
        let counters = |k, p: u64, b: u64| {
            nest(
                k,
                &[
                    a(CTA_COUNTERS_PACKETS, &p.to_be_bytes()),
                    a(CTA_COUNTERS_BYTES, &b.to_be_bytes()),
                ],
            )
        };
        msg(
            (SUBSYS_CTNETLINK << 8) | kind,
            flags,
            &[
                tuple,
                counters(CTA_COUNTERS_ORIG, 3, 180),
                counters(CTA_COUNTERS_REPLY, 2, 120),
            ],
        )
    }

    #[test]
    fn conntrack_new_and_destroy_events_parse_with_counters() {
        let now = SystemTime::now();
        let buf = [
            ct(CT_MSG_NEW, NLM_F_CREATE),
            ct(CT_MSG_DELETE, 0),
            ct(CT_MSG_NEW, 0),
        ]
        .concat();
        let events: Vec<_> = messages(&buf)
            .filter_map(|m| conntrack_event(&m, now))
            .collect();
        assert_eq!(
            events.len(),
            2,
            "an update (NEW without CREATE) is not a new flow"
        );
        assert_eq!(events[0].kind, FlowKind::New);
        assert_eq!(events[1].kind, FlowKind::End);
        let e = &events[1];
        assert_eq!((e.src, e.src_port), (Ipv4Addr::new(10, 0, 0, 1), 40000));
        assert_eq!(
            (e.dst, e.dst_port, e.protocol),
            (Ipv4Addr::new(10, 0, 0, 2), 80, 6)
        );
        assert_eq!((e.packets, e.bytes), (5, 300));
        // A dump answers with NEW messages without CREATE: counters of open connections.
        let dumped = ct(CT_MSG_NEW, 0);
        let e = messages(&dumped)
            .find_map(|m| conntrack_dump_entry(&m, now))
            .unwrap();
        assert_eq!((e.kind, e.packets, e.bytes), (FlowKind::End, 5, 300));
    }

    #[test]
    fn nflog_packets_parse_with_their_rule() {
        let mut ip = vec![
            0x45, 0, 0, 60, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 3, 10, 0, 0, 4,
        ];
        ip.extend(5353u16.to_be_bytes());
        ip.extend(53u16.to_be_bytes());
        let mark = |d: Decision| a(NFULA_MARK, &d.code().to_be_bytes());
        let m = msg(
            SUBSYS_ULOG << 8,
            0,
            &[
                a(NFULA_PREFIX, b"bh:7:w\0"),
                a(NFULA_PAYLOAD, &ip),
                mark(Decision::Monitor(3)),
            ],
        );
        let e = messages(&m)
            .find_map(|m| nflog_event(&m, SystemTime::now()))
            .unwrap();
        assert_eq!(e.outcome, Outcome::WouldDeny);
        assert_eq!((e.rule, e.generation, e.bytes), (3, 7, 60));
        // Dropped: the prefix says so and the mark names the rule.
        let m = msg(
            SUBSYS_ULOG << 8,
            0,
            &[
                a(NFULA_PREFIX, b"bh:8:d\0"),
                a(NFULA_PAYLOAD, &ip),
                mark(Decision::Deny(12)),
            ],
        );
        let e = messages(&m)
            .find_map(|m| nflog_event(&m, SystemTime::now()))
            .unwrap();
        assert_eq!((e.outcome, e.rule, e.generation), (Outcome::Denied, 12, 8));
        // No connection, or a mark of another kind: still a drop, with no rule named.
        for extra in [vec![], mark(Decision::Monitor(12)), mark(Decision::Allow)] {
            let m = msg(
                SUBSYS_ULOG << 8,
                0,
                &[a(NFULA_PREFIX, b"bh:8:d\0"), a(NFULA_PAYLOAD, &ip), extra],
            );
            let e = messages(&m)
                .find_map(|m| nflog_event(&m, SystemTime::now()))
                .unwrap();
            assert_eq!((e.outcome, e.rule), (Outcome::Denied, NO_RULE));
        }
        // A would-deny packet that kept its own mark: whatever the mark, no rule.
        let m = msg(
            SUBSYS_ULOG << 8,
            0,
            &[
                a(NFULA_PREFIX, b"bh:8:u\0"),
                a(NFULA_PAYLOAD, &ip),
                mark(Decision::Monitor(12)),
            ],
        );
        let e = messages(&m)
            .find_map(|m| nflog_event(&m, SystemTime::now()))
            .unwrap();
        assert_eq!((e.outcome, e.rule), (Outcome::WouldDeny, NO_RULE));
        assert_eq!((e.src_port, e.dst_port, e.protocol), (5353, 53, 17));
        let other = msg(
            SUBSYS_ULOG << 8,
            0,
            &[a(NFULA_PREFIX, b"other\0"), a(NFULA_PAYLOAD, &ip)],
        );
        assert!(messages(&other).all(|m| nflog_event(&m, SystemTime::now()).is_none()));
    }

    #[test]
    fn truncated_datagrams_yield_nothing() {
        let m = ct(CT_MSG_NEW, NLM_F_CREATE);
        assert_eq!(messages(&m[..m.len() - 1]).count(), 0);
        assert_eq!(messages(&m[..10]).count(), 0);
    }
}
