//! Map elements → NEWSETELEM/DELSETELEM messages: most of a full apply's bytes.

use crate::expr;
use crate::msg::{Attrs, Batch};
use crate::sys;
use bulkhead_compile::nft::{Element, ElementKey, Kind, Level, MapId, TABLE, Value};

/// Element lists are one nested attribute with a u16 length: start a new message well
/// before 64 KiB.
const ELEMENTS_PER_MESSAGE_BYTES: usize = 48 * 1024;

/// Below this many elements a second thread costs more than it saves.
const ELEMENTS_PER_THREAD: usize = 16 * 1024;

/// Adds elements; a full apply's 270,000 are encoded on two threads, each writing
/// the second half of every map's elements apart, appended after the first halves
/// (messages of one map need not be adjacent, only after the map's creation).
pub(super) fn add_elements(b: &mut Batch, maps: &[(MapId, Vec<&Element>)]) {
    let total: usize = maps.iter().map(|(_, e)| e.len()).sum();
    if total < 2 * ELEMENTS_PER_THREAD {
        for (map, elements) in maps {
            write_elements(b, sys::NEWSETELEM, *map, elements);
        }
        return;
    }
    let half = |e: &Vec<&Element>| e.len() / 2;
    let second = std::thread::scope(|s| {
        let second = s.spawn(|| {
            let mut f = Batch::fragment();
            f.reserve(total / 2 * 40);
            for (map, elements) in maps {
                write_elements(&mut f, sys::NEWSETELEM, *map, &elements[half(elements)..]);
            }
            f
        });
        for (map, elements) in maps {
            write_elements(b, sys::NEWSETELEM, *map, &elements[..half(elements)]);
        }
        // A panic while encoding is a bug; carry it to the caller unchanged.
        second
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    b.append(second);
}

/// Adds or deletes elements, as many messages as their size needs.
pub(super) fn write_elements(b: &mut Batch, kind: u16, map: MapId, elements: &[&Element]) {
    let verb = if kind == sys::NEWSETELEM {
        "add"
    } else {
        "delete"
    };
    let name = map.to_string();
    let mut rest = elements;
    while !rest.is_empty() {
        let what = format!("{verb} {} elements of map {name}", rest.len());
        let mut taken = 0;
        b.msg(kind, sys::NLM_F_CREATE, what, |a| {
            a.str(sys::SET_ELEM_LIST_TABLE, TABLE);
            a.str(sys::SET_ELEM_LIST_SET, &name);
            a.nest(sys::SET_ELEM_LIST_ELEMENTS, |l| {
                let mark = l.mark();
                for e in rest {
                    if l.since(mark) > ELEMENTS_PER_MESSAGE_BYTES {
                        break;
                    }
                    element(l, map, e, kind == sys::NEWSETELEM);
                    taken += 1;
                }
            });
        });
        rest = &rest[taken..];
    }
}

/// One element; an `ipcache` range is two: its start, and the address after its end
/// flagged as an interval end (none when the range reaches the top). Where one range
/// ends and the next begins, the end and the start share a key, which the kernel keeps
/// apart by the end flag.
fn element(l: &mut Attrs, map: MapId, e: &Element, with_data: bool) {
    l.nest(sys::LIST_ELEM, |x| {
        value(x, sys::SET_ELEM_KEY, &key_bytes(map, e.key));
        if with_data {
            match &e.value {
                Value::None => {}
                Value::Mark(m) => value(x, sys::SET_ELEM_DATA, &m.to_ne_bytes()),
                Value::Verdict(v) => x.nest(sys::SET_ELEM_DATA, |d| expr::verdict_data(d, v)),
            }
        }
    });
    if let ElementKey::Range(_, hi) = e.key
        && let Some(end) = u32::from(hi).checked_add(1)
    {
        l.nest(sys::LIST_ELEM, |x| {
            value(x, sys::SET_ELEM_KEY, &end.to_be_bytes());
            x.be32(sys::SET_ELEM_FLAGS, sys::SET_ELEM_INTERVAL_END);
        });
    }
}

fn value(a: &mut Attrs, ty: u16, bytes: &[u8]) {
    a.nest(ty, |d| d.bytes(sys::DATA_VALUE, bytes));
}

/// Key bytes as the registers hold them: each field padded to 4 bytes, addresses and
/// ports big-endian, marks in host order (the kernel's `ct mark` is a host u32).
/// Returned in place (at most four fields): a full apply writes 270,000 keys.
fn key_bytes(map: MapId, k: ElementKey) -> KeyBytes {
    let mut v = KeyBytes {
        bytes: [0; 16],
        len: 0,
    };
    match k {
        ElementKey::Addr(a) | ElementKey::Range(a, _) => v.field(&a.octets()),
        ElementKey::Mark(m) => v.field(&m.to_ne_bytes()),
        ElementKey::Check {
            own,
            peer,
            protocol,
            port,
        } => {
            v.field(&own.octets());
            if let MapId::Check(_, level, kind) = map {
                if level == Level::Peer {
                    v.field(&peer.to_ne_bytes());
                }
                if kind != Kind::Other {
                    v.field(&[protocol]);
                }
                if matches!(kind, Kind::Port | Kind::Masked(_)) {
                    v.field(&port.to_be_bytes());
                }
            }
        }
    }
    v
}

/// A key's register bytes: up to four 4-byte fields.
struct KeyBytes {
    bytes: [u8; 16],
    len: usize,
}

impl KeyBytes {
    fn field(&mut self, b: &[u8]) {
        // Every field is at most 4 bytes and a key has at most four.
        self.bytes[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += 4;
    }
}

impl std::ops::Deref for KeyBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[cfg(test)]
mod tests;
