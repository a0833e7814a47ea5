//! Rules → nf_tables expressions. Each [`Rule`] shape is spelled out as the same
//! expressions `nft` itself generates for its text form (see `nft --debug=netlink`), so
//! `nft list table inet bulkhead` prints back what [`render`](bulkhead_compile::nft::render)
//! printed.

use crate::msg::Attrs;
use crate::sys;
use bulkhead_compile::nft::{AddrField, Rule, Verdict};

/// Writes the expression list of one rule.
pub fn rule(a: &mut Attrs, r: &Rule) {
    a.nest(sys::RULE_EXPRESSIONS, |l| match r {
        Rule::AcceptEstablished => {
            expr(l, "ct", |e| {
                e.be32(sys::CT_DREG, sys::REG_1);
                e.be32(sys::CT_KEY, sys::CT_STATE);
            });
            let mask = sys::CT_STATE_ESTABLISHED | sys::CT_STATE_RELATED;
            expr(l, "bitwise", |e| {
                e.be32(sys::BITWISE_SREG, sys::REG_1);
                e.be32(sys::BITWISE_DREG, sys::REG_1);
                e.be32(sys::BITWISE_LEN, 4);
                // `ct state` is a host-order u32 in the register.
                e.nest(sys::BITWISE_MASK, |d| {
                    d.bytes(sys::DATA_VALUE, &mask.to_ne_bytes())
                });
                e.nest(sys::BITWISE_XOR, |d| d.bytes(sys::DATA_VALUE, &[0; 4]));
            });
            cmp(l, sys::CMP_NEQ, &[0; 4]);
            immediate(l, &Verdict::Accept);
        }
        Rule::AddrVmap { field, map } => {
            // In the inet family, `ip ...` implies `meta nfproto ipv4`.
            meta(l, sys::META_NFPROTO, sys::REG_1);
            cmp(l, sys::CMP_EQ, &[sys::NFPROTO_IPV4]);
            addr(l, *field, sys::REG_1);
            lookup(l, map, sys::REG_1);
        }
        Rule::PortVmap { field, map } => {
            addr(l, *field, sys::REG_1);
            meta(l, sys::META_L4PROTO, sys::REG32_01);
            dport(l, sys::REG32_02);
            lookup(l, map, sys::REG_1);
        }
        Rule::OtherVmap { field, map } => {
            not_tcp_udp_sctp(l);
            addr(l, *field, sys::REG_1);
            lookup(l, map, sys::REG_1);
        }
        Rule::AnyPortVmap { map } => {
            meta(l, sys::META_L4PROTO, sys::REG_1);
            dport(l, sys::REG32_01);
            lookup(l, map, sys::REG_1);
        }
        Rule::OtherVerdict(v) => {
            not_tcp_udp_sctp(l);
            immediate(l, v);
        }
        Rule::Log {
            prefix,
            group,
            verdict,
        } => {
            expr(l, "log", |e| {
                e.be16(sys::LOG_GROUP, *group);
                e.str(sys::LOG_PREFIX, prefix);
            });
            immediate(l, verdict);
        }
        Rule::Verdict(v) => immediate(l, v),
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
            d.str(sys::VERDICT_CHAIN, c);
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

fn lookup(l: &mut Attrs, map: &str, sreg: u32) {
    expr(l, "lookup", |e| {
        e.str(sys::LOOKUP_SET, map);
        e.be32(sys::LOOKUP_SREG, sreg);
        e.be32(sys::LOOKUP_DREG, sys::REG_VERDICT);
    });
}

fn immediate(l: &mut Attrs, v: &Verdict) {
    expr(l, "immediate", |e| {
        e.be32(sys::IMMEDIATE_DREG, sys::REG_VERDICT);
        e.nest(sys::IMMEDIATE_DATA, |d| verdict_data(d, v));
    });
}
