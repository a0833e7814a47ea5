//! Rulesets and diffs → one batch of netlink messages (one transaction).

use crate::expr;
use crate::msg::{Attrs, Batch, Finished};
use crate::sys;
use bulkhead_compile::nft::{Chain, Diff, Element, ElementKey, Hook, Map, MapKey, Ruleset, TABLE};
use std::net::Ipv4Addr;

/// Element lists are one nested attribute with a u16 length: start a new message well
/// before 64 KiB.
const ELEMENTS_PER_MESSAGE_BYTES: usize = 48 * 1024;

/// The batch that replaces whatever Bulkhead table is in force by `rs`: add the table
/// (so that deleting it cannot fail), delete it, then create everything.
pub fn full(rs: &Ruleset, first_seq: u32) -> Finished {
    let mut b = Batch::new(first_seq);
    drop_table(&mut b);
    b.msg(
        sys::NEWTABLE,
        sys::NLM_F_CREATE,
        format!("create table inet {TABLE}"),
        |a| {
            a.str(sys::TABLE_NAME, TABLE);
            a.bytes(
                sys::TABLE_USERDATA,
                &comment(&format!("bulkhead generation {}", rs.generation)),
            );
        },
    );
    // From nothing, the diff creates every object: it cannot fail.
    if let Some(d) = bulkhead_compile::nft::diff(&Ruleset::default(), rs) {
        steps(&mut b, &d);
    }
    b.finish()
}

/// The batch that turns the ruleset in force into another, given their diff.
pub fn incremental(d: &Diff<'_>, first_seq: u32) -> Finished {
    let mut b = Batch::new(first_seq);
    steps(&mut b, d);
    b.finish()
}

/// The batch that removes the Bulkhead table, whether or not it exists.
pub fn remove(first_seq: u32) -> Finished {
    let mut b = Batch::new(first_seq);
    drop_table(&mut b);
    b.finish()
}

fn drop_table(b: &mut Batch) {
    b.msg(
        sys::NEWTABLE,
        sys::NLM_F_CREATE,
        format!("add table inet {TABLE}"),
        |a| {
            a.str(sys::TABLE_NAME, TABLE);
        },
    );
    b.msg(
        sys::DELTABLE,
        0,
        format!("delete table inet {TABLE}"),
        |a| {
            a.str(sys::TABLE_NAME, TABLE);
        },
    );
}

/// A table comment in libnftnl's userdata format (type, length, NUL-terminated text).
fn comment(text: &str) -> Vec<u8> {
    let text = &text.as_bytes()[..text.len().min(250)];
    let mut v = vec![sys::UDATA_TABLE_COMMENT, text.len() as u8 + 1];
    v.extend_from_slice(text);
    v.push(0);
    v
}

/// Writes a diff's steps in the order [`Diff`] documents.
fn steps(b: &mut Batch, d: &Diff<'_>) {
    for (id, (name, map)) in d.add_maps.iter().enumerate() {
        add_map(b, name, map, id as u32 + 1);
    }
    for (name, chain) in &d.add_chains {
        add_chain(b, name, chain);
    }
    for name in &d.flush_chains {
        b.msg(sys::DELRULE, 0, format!("flush chain {name}"), |a| {
            a.str(sys::RULE_TABLE, TABLE);
            a.str(sys::RULE_CHAIN, name);
        });
    }
    for (map, key, elements) in &d.del_elements {
        write_elements(b, sys::DELSETELEM, map, *key, elements);
    }
    for (map, key, elements) in &d.add_elements {
        write_elements(b, sys::NEWSETELEM, map, *key, elements);
    }
    for (name, chain) in &d.set_rules {
        for (i, r) in chain.rules.iter().enumerate() {
            let what = format!("add rule {i} of chain {name}");
            b.msg(
                sys::NEWRULE,
                sys::NLM_F_CREATE | sys::NLM_F_APPEND,
                what,
                |a| {
                    a.str(sys::RULE_TABLE, TABLE);
                    a.str(sys::RULE_CHAIN, name);
                    expr::rule(a, r);
                },
            );
        }
    }
    for name in &d.del_maps {
        b.msg(sys::DELSET, 0, format!("delete map {name}"), |a| {
            a.str(sys::SET_TABLE, TABLE);
            a.str(sys::SET_NAME, name);
        });
    }
    for name in &d.del_chains {
        b.msg(sys::DELCHAIN, 0, format!("delete chain {name}"), |a| {
            a.str(sys::CHAIN_TABLE, TABLE);
            a.str(sys::CHAIN_NAME, name);
        });
    }
}

fn add_map(b: &mut Batch, name: &str, map: &Map, id: u32) {
    let (flags, fields): (u32, &[(u32, u32)]) = match map.key {
        MapKey::Addr => (sys::SET_F_MAP, &[(sys::TYPE_IPADDR, 4)]),
        MapKey::AddrInterval => (
            sys::SET_F_MAP | sys::SET_F_INTERVAL,
            &[(sys::TYPE_IPADDR, 4)],
        ),
        MapKey::AddrProtoPort => (
            sys::SET_F_MAP | sys::SET_F_INTERVAL | sys::SET_F_CONCAT,
            &[
                (sys::TYPE_IPADDR, 4),
                (sys::TYPE_INET_PROTO, 1),
                (sys::TYPE_INET_SERVICE, 2),
            ],
        ),
        MapKey::ProtoPort => (
            sys::SET_F_MAP | sys::SET_F_INTERVAL | sys::SET_F_CONCAT,
            &[(sys::TYPE_INET_PROTO, 1), (sys::TYPE_INET_SERVICE, 2)],
        ),
    };
    let key_type = fields.iter().fold(0, |t, f| (t << sys::TYPE_BITS) | f.0);
    // Each field of a concatenation takes whole 32-bit registers.
    let key_len: u32 = fields.iter().map(|f| f.1.div_ceil(4) * 4).sum();
    let what = format!("create map {name}");
    b.msg(
        sys::NEWSET,
        sys::NLM_F_CREATE | sys::NLM_F_EXCL,
        what,
        |a| {
            a.str(sys::SET_TABLE, TABLE);
            a.str(sys::SET_NAME, name);
            a.be32(sys::SET_FLAGS, flags);
            a.be32(sys::SET_KEY_TYPE, key_type);
            a.be32(sys::SET_KEY_LEN, key_len);
            a.be32(sys::SET_DATA_TYPE, sys::DATA_TYPE_VERDICT);
            a.be32(sys::SET_ID, id);
            if fields.len() > 1 {
                a.nest(sys::SET_DESC, |d| {
                    d.nest(sys::SET_DESC_CONCAT, |c| {
                        for f in fields {
                            c.nest(sys::LIST_ELEM, |e| e.be32(sys::SET_FIELD_LEN, f.1));
                        }
                    });
                });
            }
        },
    );
}

fn add_chain(b: &mut Batch, name: &str, chain: &Chain) {
    b.msg(
        sys::NEWCHAIN,
        sys::NLM_F_CREATE | sys::NLM_F_EXCL,
        format!("create chain {name}"),
        |a| {
            a.str(sys::CHAIN_TABLE, TABLE);
            a.str(sys::CHAIN_NAME, name);
            if let Some(hook) = chain.hook {
                let num = match hook {
                    Hook::Forward => sys::NF_INET_FORWARD,
                    Hook::Input => sys::NF_INET_LOCAL_IN,
                    Hook::Output => sys::NF_INET_LOCAL_OUT,
                };
                a.nest(sys::CHAIN_HOOK, |h| {
                    h.be32(sys::HOOK_HOOKNUM, num);
                    // Priorities are signed; the kernel reads them as be32.
                    h.be32(
                        sys::HOOK_PRIORITY,
                        bulkhead_compile::nft::BASE_PRIORITY as u32,
                    );
                });
                a.be32(sys::CHAIN_POLICY, sys::NF_ACCEPT as u32);
                a.str(sys::CHAIN_TYPE, "filter");
            }
        },
    );
}

/// Adds or deletes elements, as many messages as their size needs.
fn write_elements(b: &mut Batch, kind: u16, map: &str, key: MapKey, elements: &[&Element]) {
    let verb = if kind == sys::NEWSETELEM {
        "add"
    } else {
        "delete"
    };
    let mut rest = elements;
    while !rest.is_empty() {
        let what = format!("{verb} {} elements of map {map}", rest.len());
        let mut taken = 0;
        b.msg(kind, sys::NLM_F_CREATE, what, |a| {
            a.str(sys::SET_ELEM_LIST_TABLE, TABLE);
            a.str(sys::SET_ELEM_LIST_SET, map);
            a.nest(sys::SET_ELEM_LIST_ELEMENTS, |l| {
                let mark = l.mark();
                for e in rest {
                    if l.since(mark) > ELEMENTS_PER_MESSAGE_BYTES {
                        break;
                    }
                    element(l, key, e, kind == sys::NEWSETELEM);
                    taken += 1;
                }
            });
        });
        rest = &rest[taken..];
    }
}

/// One element; an address range in an rbtree map is two: its start, and the address
/// after its end flagged as an interval end (none when the range reaches the top).
fn element(l: &mut Attrs, key: MapKey, e: &Element, with_data: bool) {
    let data = |a: &mut Attrs| {
        if with_data {
            a.nest(sys::SET_ELEM_DATA, |d| expr::verdict_data(d, &e.verdict));
        }
    };
    match (key, e.key) {
        (MapKey::AddrInterval, ElementKey::AddrRange(lo, hi)) => {
            l.nest(sys::LIST_ELEM, |x| {
                value(x, sys::SET_ELEM_KEY, &lo.octets());
                data(x);
            });
            if let Some(end) = u32::from(hi).checked_add(1) {
                l.nest(sys::LIST_ELEM, |x| {
                    value(x, sys::SET_ELEM_KEY, &Ipv4Addr::from(end).octets());
                    x.be32(sys::SET_ELEM_FLAGS, sys::SET_ELEM_INTERVAL_END);
                });
            }
        }
        (_, k) => l.nest(sys::LIST_ELEM, |x| {
            let (start, end) = bounds(k);
            value(x, sys::SET_ELEM_KEY, &start);
            if let Some(end) = end {
                value(x, sys::SET_ELEM_KEY_END, &end);
            }
            data(x);
        }),
    }
}

fn value(a: &mut Attrs, ty: u16, bytes: &[u8]) {
    a.nest(ty, |d| d.bytes(sys::DATA_VALUE, bytes));
}

/// Key bytes as the registers hold them: each field padded to 4 bytes, ports big-endian.
/// Concatenations are ranges (start and end key); a plain address is exact.
fn bounds(k: ElementKey) -> (Vec<u8>, Option<Vec<u8>>) {
    let field = |v: &mut Vec<u8>, bytes: &[u8]| {
        v.extend_from_slice(bytes);
        v.resize(v.len().div_ceil(4) * 4, 0);
    };
    match k {
        ElementKey::Addr(a) | ElementKey::AddrRange(a, _) => (a.octets().to_vec(), None),
        ElementKey::Concat {
            addrs,
            protocol,
            ports,
        } => {
            let key = |addr: Ipv4Addr, port: u16| {
                let mut v = Vec::with_capacity(12);
                field(&mut v, &addr.octets());
                field(&mut v, &[protocol]);
                field(&mut v, &port.to_be_bytes());
                v
            };
            (key(addrs.0, ports.0), Some(key(addrs.1, ports.1)))
        }
        ElementKey::ProtoPort { protocol, ports } => {
            let key = |port: u16| {
                let mut v = Vec::with_capacity(8);
                field(&mut v, &[protocol]);
                field(&mut v, &port.to_be_bytes());
                v
            };
            (key(ports.0), Some(key(ports.1)))
        }
    }
}
