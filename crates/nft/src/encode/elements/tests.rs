use super::*;
use bulkhead_compile::nft::{Builder, Stamps};
use bulkhead_compile::synthetic;

/// One message: its sequence number, type, and (set, element bytes) of each element.
type Message = (u32, u16, Vec<(String, Vec<u8>)>);

/// Every message of a finished batch.
fn messages(bytes: &[u8]) -> Vec<Message> {
    let u16_at = |b: &[u8], i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
    let u32_at = |b: &[u8], i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    // Type-length-values of `b`: (type without flags, value).
    let tlvs = |mut b: &[u8]| {
        let mut out = Vec::new();
        while b.len() >= 4 {
            let len = u16_at(b, 0) as usize;
            out.push((u16_at(b, 2) & !sys::NLA_F_NESTED, b[4..len].to_vec()));
            b = &b[(len.div_ceil(4) * 4).min(b.len())..];
        }
        out
    };
    let (mut out, mut at) = (Vec::new(), 0);
    while at < bytes.len() {
        let len = u32_at(bytes, at) as usize;
        assert_eq!(len % 4, 0, "message at {at} is not aligned");
        let (ty, seq) = (u16_at(bytes, at + 4) & 0xff, u32_at(bytes, at + 8));
        let mut elements = Vec::new();
        if ty == sys::NEWSETELEM && len > 20 {
            let attrs = tlvs(&bytes[at + 20..at + len]);
            let set = attrs.iter().find(|a| a.0 == sys::SET_ELEM_LIST_SET);
            let set = String::from_utf8_lossy(&set.expect("a set name").1).into_owned();
            for (t, list) in &attrs {
                if *t == sys::SET_ELEM_LIST_ELEMENTS {
                    elements.extend(tlvs(list).into_iter().map(|e| (set.clone(), e.1)));
                }
            }
        }
        out.push((seq, ty, elements));
        at += len;
    }
    out
}

#[test]
fn two_threads_write_the_elements_one_thread_writes() {
    let p = synthetic::scale(1500, 10).compile().expect("compile");
    let rs = Builder::default()
        .build(&p, &Stamps::next(None, &p, 1))
        .expect("build");
    let nothing = Default::default();
    let maps = bulkhead_compile::nft::diff(&nothing, &rs)
        .expect("from nothing")
        .add_elements;
    let total: usize = maps.iter().map(|m| m.1.len()).sum();
    assert!(
        total >= 2 * ELEMENTS_PER_THREAD,
        "{total} elements take one thread"
    );
    let mut one = Batch::new(100);
    for (map, elements) in &maps {
        write_elements(&mut one, sys::NEWSETELEM, *map, elements);
    }
    let mut two = Batch::new(100);
    add_elements(&mut two, &maps);
    let (one, two) = (one.finish(), two.finish());
    let (a, b) = (messages(&one.bytes), messages(&two.bytes));
    // Numbered in order from the first, and every number described.
    for (i, m) in b.iter().enumerate() {
        assert_eq!(m.0, 100 + i as u32);
        assert!(two.describe(m.0).is_some());
    }
    assert_eq!(two.commit_seq(), 100 + b.len() as u32 - 1);
    // The same elements of the same maps, in another order.
    let all = |v: &[Message]| {
        let mut e: Vec<_> = v.iter().flat_map(|m| m.2.clone()).collect();
        e.sort();
        e
    };
    let (ea, eb) = (all(&a), all(&b));
    // A range is two list entries (start, end) unless it reaches the top.
    let entries: usize = (maps.iter().flat_map(|m| &m.1))
        .map(|e| match e.key {
            ElementKey::Range(_, hi) if u32::from(hi) != u32::MAX => 2,
            _ => 1,
        })
        .sum();
    assert_eq!(ea.len(), entries);
    assert!(ea == eb, "the two-thread batch holds other elements");
}
