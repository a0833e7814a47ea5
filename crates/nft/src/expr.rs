//! Rules → nf_tables expressions. Each [`Rule`] shape is spelled out as the same
//! expressions `nft` itself generates for its text form (see `nft --debug=netlink`), so
//! `nft list table inet bulkhead` prints back what [`render`](bulkhead_compile::nft::render)
//! printed.

use crate::msg::Attrs;
use crate::sys;
use bulkhead_compile::nft::decision::KIND_MASK;
use bulkhead_compile::nft::{AddrField, Kind, Level, LogMark, MapId, Rule, Verdict};

/// Writes the expression list of one rule.
pub fn rule(a: &mut Attrs, r: &Rule) {
    a.nest(sys::RULE_EXPRESSIONS, |l| match r {
        Rule::AcceptEstablished => {
            ct_state(l, sys::CT_STATE_ESTABLISHED | sys::CT_STATE_RELATED);
            immediate(l, &Verdict::Accept);
        }
        Rule::DropUntracked(field) => {
            ipv4(l);
            ct_state(l, sys::CT_STATE_INVALID | sys::CT_STATE_UNTRACKED);
            addr(l, *field, sys::REG_1);
            lookup(l, &MapId::Enforced.to_string(), None);
            immediate(l, &Verdict::Drop);
        }
        Rule::DropUnknown(field) => {
            ipv4(l);
            addr(l, *field, sys::REG_1);
            lookup(l, &MapId::Unknown.to_string(), None);
            immediate(l, &Verdict::Drop);
        }
        Rule::MarkPeer { field, map } => {
            addr(l, *field, sys::REG_1);
            lookup(l, &map.to_string(), Some(sys::REG_1));
            ct_set_mark(l);
        }
        Rule::Check(map) => check(l, *map),
        Rule::Decide => {
            ct_mark(l, sys::REG_1);
            // Only the kind bits: the verdict map has one element per kind.
            expr(l, "bitwise", |e| {
                e.be32(sys::BITWISE_SREG, sys::REG_1);
                e.be32(sys::BITWISE_DREG, sys::REG_1);
                e.be32(sys::BITWISE_LEN, 4);
                let mask = KIND_MASK.to_ne_bytes();
                e.nest(sys::BITWISE_MASK, |d| d.bytes(sys::DATA_VALUE, &mask));
                e.nest(sys::BITWISE_XOR, |d| d.bytes(sys::DATA_VALUE, &[0; 4]));
            });
            lookup_verdict(l, &MapId::Verdicts.to_string());
        }
        Rule::ResetMark => {
            expr(l, "immediate", |e| {
                e.be32(sys::IMMEDIATE_DREG, sys::REG_1);
                e.nest(sys::IMMEDIATE_DATA, |d| d.bytes(sys::DATA_VALUE, &[0; 4]));
            });
            ct_set_mark(l);
        }
        Rule::JumpIpv4(chain) => {
            ipv4(l);
            immediate(l, &Verdict::Jump(*chain));
        }
        Rule::Log {
            prefix,
            group,
            verdict,
            mark,
        } => {
            match mark {
                LogMark::FromCt | LogMark::FromCtThenClear => {
                    ct_mark(l, sys::REG_1);
                    meta_set_mark(l);
                }
                LogMark::OnlyIfMarked => {
                    meta(l, sys::META_MARK, sys::REG_1);
                    cmp(l, sys::CMP_NEQ, &[0; 4]);
                }
            }
            expr(l, "log", |e| {
                e.be16(sys::LOG_GROUP, *group);
                e.str(sys::LOG_PREFIX, prefix);
            });
            if *mark == LogMark::FromCtThenClear {
                expr(l, "immediate", |e| {
                    e.be32(sys::IMMEDIATE_DREG, sys::REG_1);
                    e.nest(sys::IMMEDIATE_DATA, |d| d.bytes(sys::DATA_VALUE, &[0; 4]));
                });
                meta_set_mark(l);
            }
            immediate(l, verdict);
        }
        Rule::Verdict(v) => immediate(l, v),
    });
}

/// `ct mark set <key> map @map`: the key's fields go into consecutive 32-bit registers
/// from register 1, as `nft` lays out a concatenation.
fn check(l: &mut Attrs, map: MapId) {
    let (dir, peer, kind) = match map {
        MapId::Check(dir, level, kind) => (dir, level == Level::Peer, Some(kind)),
        MapId::Default(dir) => (dir, false, None),
        _ => return,
    };
    if kind == Some(Kind::Other) {
        not_tcp_udp_sctp(l);
    }
    addr(l, dir.own(), sys::REG_1);
    let mut next = sys::REG32_01;
    if peer {
        ct_mark(l, next);
        next += 1;
    }
    if matches!(kind, Some(Kind::Port | Kind::Masked(_) | Kind::Proto)) {
        meta(l, sys::META_L4PROTO, next);
        next += 1;
    }
    if matches!(kind, Some(Kind::Port | Kind::Masked(_))) {
        dport(l, next);
        if let Some(Kind::Masked(p)) = kind {
            expr(l, "bitwise", |e| {
                e.be32(sys::BITWISE_SREG, next);
                e.be32(sys::BITWISE_DREG, next);
                e.be32(sys::BITWISE_LEN, 2);
                let mask = Kind::mask(p).to_be_bytes();
                e.nest(sys::BITWISE_MASK, |d| d.bytes(sys::DATA_VALUE, &mask));
                e.nest(sys::BITWISE_XOR, |d| d.bytes(sys::DATA_VALUE, &[0; 2]));
            });
        }
    }
    lookup(l, &map.to_string(), Some(sys::REG_1));
    ct_set_mark(l);
}

/// `meta nfproto ipv4`: `ip ...` in the inet family implies it.
fn ipv4(l: &mut Attrs) {
    meta(l, sys::META_NFPROTO, sys::REG_1);
    cmp(l, sys::CMP_EQ, &[sys::NFPROTO_IPV4]);
}

/// `ct state & bits != 0`.
fn ct_state(l: &mut Attrs, bits: u32) {
    expr(l, "ct", |e| {
        e.be32(sys::CT_DREG, sys::REG_1);
        e.be32(sys::CT_KEY, sys::CT_STATE);
    });
    expr(l, "bitwise", |e| {
        e.be32(sys::BITWISE_SREG, sys::REG_1);
        e.be32(sys::BITWISE_DREG, sys::REG_1);
        e.be32(sys::BITWISE_LEN, 4);
        // `ct state` is a host-order u32 in the register.
        e.nest(sys::BITWISE_MASK, |d| {
            d.bytes(sys::DATA_VALUE, &bits.to_ne_bytes())
        });
        e.nest(sys::BITWISE_XOR, |d| d.bytes(sys::DATA_VALUE, &[0; 4]));
    });
    cmp(l, sys::CMP_NEQ, &[0; 4]);
}

fn ct_mark(l: &mut Attrs, dreg: u32) {
    expr(l, "ct", |e| {
        e.be32(sys::CT_DREG, dreg);
        e.be32(sys::CT_KEY, sys::CT_MARK);
    });
}

/// `meta mark set <register 1>`.
fn meta_set_mark(l: &mut Attrs) {
    expr(l, "meta", |e| {
        e.be32(sys::META_KEY, sys::META_MARK);
        e.be32(sys::META_SREG, sys::REG_1);
    });
}

fn ct_set_mark(l: &mut Attrs) {
    expr(l, "ct", |e| {
        e.be32(sys::CT_KEY, sys::CT_MARK);
        e.be32(sys::CT_SREG, sys::REG_1);
    });
}

/// Writes a verdict as nf_tables data (`NFTA_DATA_VERDICT`), for rules and map elements.
pub fn verdict_data(a: &mut Attrs, v: &Verdict) {
    let (code, chain) = match v {
        Verdict::Accept => (sys::NF_ACCEPT, None),
        Verdict::Drop => (sys::NF_DROP, None),
        Verdict::Return => (sys::NFT_RETURN, None),
        Verdict::Jump(c) => (sys::NFT_JUMP, Some(c)),
        Verdict::Goto(c) => (sys::NFT_GOTO, Some(c)),
    };
    a.nest(sys::DATA_VERDICT, |d| {
        // Verdict codes are signed; the kernel reads them as be32.
        d.be32(sys::VERDICT_CODE, code as u32);
        if let Some(c) = chain {
            d.str(sys::VERDICT_CHAIN, &c.to_string());
        }
    });
}

fn expr(l: &mut Attrs, name: &str, body: impl FnOnce(&mut Attrs)) {
    l.nest(sys::LIST_ELEM, |e| {
        e.str(sys::EXPR_NAME, name);
        e.nest(sys::EXPR_DATA, body);
    });
}

fn meta(l: &mut Attrs, key: u32, dreg: u32) {
    expr(l, "meta", |e| {
        e.be32(sys::META_DREG, dreg);
        e.be32(sys::META_KEY, key);
    });
}

fn payload(l: &mut Attrs, base: u32, offset: u32, len: u32, dreg: u32) {
    expr(l, "payload", |e| {
        e.be32(sys::PAYLOAD_DREG, dreg);
        e.be32(sys::PAYLOAD_BASE, base);
        e.be32(sys::PAYLOAD_OFFSET, offset);
        e.be32(sys::PAYLOAD_LEN, len);
    });
}

/// `ip saddr` is at offset 12 of the IPv4 header, `ip daddr` at 16.
fn addr(l: &mut Attrs, field: AddrField, dreg: u32) {
    let offset = match field {
        AddrField::Saddr => 12,
        AddrField::Daddr => 16,
    };
    payload(l, sys::PAYLOAD_NETWORK_HEADER, offset, 4, dreg);
}

/// `th dport`: bytes 2..4 of the transport header (TCP, UDP and SCTP alike).
fn dport(l: &mut Attrs, dreg: u32) {
    payload(l, sys::PAYLOAD_TRANSPORT_HEADER, 2, 2, dreg);
}

fn cmp(l: &mut Attrs, op: u32, value: &[u8]) {
    expr(l, "cmp", |e| {
        e.be32(sys::CMP_SREG, sys::REG_1);
        e.be32(sys::CMP_OP, op);
        e.nest(sys::CMP_DATA, |d| d.bytes(sys::DATA_VALUE, value));
    });
}

/// `meta l4proto != { tcp, udp, sctp }` as three comparisons (no anonymous set needed).
fn not_tcp_udp_sctp(l: &mut Attrs) {
    meta(l, sys::META_L4PROTO, sys::REG_1);
    for p in [6u8, 17, 132] {
        cmp(l, sys::CMP_NEQ, &[p]);
    }
}

/// A set lookup on register 1; with `dreg`, a map lookup writing its data there.
fn lookup(l: &mut Attrs, map: &str, dreg: Option<u32>) {
    expr(l, "lookup", |e| {
        e.str(sys::LOOKUP_SET, map);
        e.be32(sys::LOOKUP_SREG, sys::REG_1);
        if let Some(dreg) = dreg {
            e.be32(sys::LOOKUP_DREG, dreg);
        }
    });
}

fn lookup_verdict(l: &mut Attrs, map: &str) {
    expr(l, "lookup", |e| {
        e.str(sys::LOOKUP_SET, map);
        e.be32(sys::LOOKUP_SREG, sys::REG_1);
        e.be32(sys::LOOKUP_DREG, sys::REG_VERDICT);
    });
}

fn immediate(l: &mut Attrs, v: &Verdict) {
    expr(l, "immediate", |e| {
        e.be32(sys::IMMEDIATE_DREG, sys::REG_VERDICT);
        e.nest(sys::IMMEDIATE_DATA, |d| verdict_data(d, v));
    });
}
