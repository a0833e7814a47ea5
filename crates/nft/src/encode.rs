//! Rulesets and diffs → one batch of netlink messages (one transaction).

mod elements;

use crate::expr;
use crate::msg::{Batch, Finished};
use crate::sys;
use bulkhead_compile::nft::{
    Chain, ChainName, Diff, Hook, Kind, Level, Map, MapId, Ruleset, TABLE,
};
use elements::{add_elements, write_elements};

/// The batch that replaces whatever Bulkhead table is in force by `rs`: add the table
/// (so that deleting it cannot fail), delete it, then create everything.
pub fn full(rs: &Ruleset, first_seq: u32) -> Finished {
    let mut b = Batch::new(first_seq);
    // About 38 bytes per element: growing a 10 MB buffer by doubling copies it again.
    b.reserve(rs.element_count() * 40);
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
    for (id, (map, desc)) in d.add_maps.iter().enumerate() {
        add_map(b, *map, desc, id as u32 + 1);
    }
    for (name, chain) in &d.add_chains {
        add_chain(b, *name, chain);
    }
    for name in &d.flush_chains {
        let name = name.to_string();
        b.msg(sys::DELRULE, 0, format!("flush chain {name}"), |a| {
            a.str(sys::RULE_TABLE, TABLE);
            a.str(sys::RULE_CHAIN, &name);
        });
    }
    for (name, chain) in &d.set_rules {
        let name = name.to_string();
        for (i, r) in chain.rules.iter().enumerate() {
            let what = format!("add rule {i} of chain {name}");
            b.msg(
                sys::NEWRULE,
                sys::NLM_F_CREATE | sys::NLM_F_APPEND,
                what,
                |a| {
                    a.str(sys::RULE_TABLE, TABLE);
                    a.str(sys::RULE_CHAIN, &name);
                    expr::rule(a, r);
                },
            );
        }
    }
    for (map, elements) in &d.del_elements {
        write_elements(b, sys::DELSETELEM, *map, elements);
    }
    add_elements(b, &d.add_elements);
    for name in &d.del_maps {
        let name = name.to_string();
        b.msg(sys::DELSET, 0, format!("delete map {name}"), |a| {
            a.str(sys::SET_TABLE, TABLE);
            a.str(sys::SET_NAME, &name);
        });
    }
    for name in &d.del_chains {
        let name = name.to_string();
        b.msg(sys::DELCHAIN, 0, format!("delete chain {name}"), |a| {
            a.str(sys::CHAIN_TABLE, TABLE);
            a.str(sys::CHAIN_NAME, &name);
        });
    }
}

/// A map's key fields: (nft type id, length in bytes).
fn key_fields(id: MapId) -> &'static [(u32, u32)] {
    const ADDR: (u32, u32) = (sys::TYPE_IPADDR, 4);
    const MARK: (u32, u32) = (sys::TYPE_MARK, 4);
    const PROTO: (u32, u32) = (sys::TYPE_INET_PROTO, 1);
    const PORT: (u32, u32) = (sys::TYPE_INET_SERVICE, 2);
    match id {
        MapId::Enforced
        | MapId::Unknown
        | MapId::Ipcache
        | MapId::IpcacheExact
        | MapId::Default(_) => &[ADDR],
        MapId::Verdicts => &[MARK],
        MapId::Check(_, level, kind) => match (level, kind) {
            (Level::Peer, Kind::Port | Kind::Masked(_)) => &[ADDR, MARK, PROTO, PORT],
            (Level::Peer, Kind::Proto) => &[ADDR, MARK, PROTO],
            (Level::Peer, Kind::Other) => &[ADDR, MARK],
            (Level::Any, Kind::Port | Kind::Masked(_)) => &[ADDR, PROTO, PORT],
            (Level::Any, Kind::Proto) => &[ADDR, PROTO],
            (Level::Any, Kind::Other) => &[ADDR],
        },
    }
}

fn add_map(b: &mut Batch, id: MapId, map: &Map, set_id: u32) {
    let fields = key_fields(id);
    let mut flags = 0;
    let set = matches!(id, MapId::Enforced | MapId::Unknown);
    if !set {
        flags |= sys::SET_F_MAP;
    }
    if matches!(id, MapId::Ipcache | MapId::Unknown) {
        flags |= sys::SET_F_INTERVAL;
    }
    if fields.len() > 1 {
        flags |= sys::SET_F_CONCAT;
    }
    let key_type = fields.iter().fold(0, |t, f| (t << sys::TYPE_BITS) | f.0);
    // Each field of a concatenation takes whole 32-bit registers.
    let key_len: u32 = fields.iter().map(|f| f.1.div_ceil(4) * 4).sum();
    let name = id.to_string();
    let what = format!("create map {name}");
    b.msg(
        sys::NEWSET,
        sys::NLM_F_CREATE | sys::NLM_F_EXCL,
        what,
        |a| {
            a.str(sys::SET_TABLE, TABLE);
            a.str(sys::SET_NAME, &name);
            a.be32(sys::SET_FLAGS, flags);
            a.be32(sys::SET_KEY_TYPE, key_type);
            a.be32(sys::SET_KEY_LEN, key_len);
            match id {
                MapId::Enforced | MapId::Unknown => {}
                MapId::Verdicts => a.be32(sys::SET_DATA_TYPE, sys::DATA_TYPE_VERDICT),
                _ => {
                    a.be32(sys::SET_DATA_TYPE, sys::TYPE_MARK);
                    a.be32(sys::SET_DATA_LEN, 4);
                }
            }
            a.be32(sys::SET_ID, set_id);
            // Marks are host-order u32s: say so, or `nft list` prints them byte-swapped.
            let mut udata = Vec::new();
            if id == MapId::Verdicts {
                udata.extend(byteorder(sys::UDATA_SET_KEYBYTEORDER));
            }
            if !matches!(id, MapId::Enforced | MapId::Unknown | MapId::Verdicts) {
                udata.extend(byteorder(sys::UDATA_SET_DATABYTEORDER));
            }
            if !udata.is_empty() {
                a.bytes(sys::SET_USERDATA, &udata);
            }
            if fields.len() > 1 || map.size > 0 {
                a.nest(sys::SET_DESC, |d| {
                    if map.size > 0 {
                        d.be32(sys::SET_DESC_SIZE, map.size);
                    }
                    if fields.len() > 1 {
                        d.nest(sys::SET_DESC_CONCAT, |c| {
                            for f in fields {
                                c.nest(sys::LIST_ELEM, |e| e.be32(sys::SET_FIELD_LEN, f.1));
                            }
                        });
                    }
                });
            }
        },
    );
}

/// A libnftnl set userdata TLV saying "host byte order".
fn byteorder(ty: u8) -> Vec<u8> {
    let mut v = vec![ty, 4];
    v.extend_from_slice(&sys::BYTEORDER_HOST_ENDIAN.to_ne_bytes());
    v
}

fn add_chain(b: &mut Batch, name: ChainName, chain: &Chain) {
    let name = name.to_string();
    b.msg(
        sys::NEWCHAIN,
        sys::NLM_F_CREATE | sys::NLM_F_EXCL,
        format!("create chain {name}"),
        |a| {
            a.str(sys::CHAIN_TABLE, TABLE);
            a.str(sys::CHAIN_NAME, &name);
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
