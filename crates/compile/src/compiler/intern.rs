//! Peers interned by an exact byte encoding.
//!
//! The same peer is written in many policies (`app: api` in every client's egress),
//! and resolving it once is what keeps identity building proportional to the distinct
//! peers. Hashing the IR directly walks each selector's `BTreeMap` twice (hash, then
//! equality against a stored key elsewhere in memory); on 200,000 peers those scattered
//! reads dominated compile time. Encoding a peer once into a flat, injective byte
//! string (every string length-prefixed) makes hash and equality one pass over
//! contiguous bytes, exactly as discriminating as the structure itself.

use super::hash::FxHasher;
use bulkhead_policy::ir::{Entity, NamespaceMatch, Peer};
use bulkhead_policy::selector::{LabelSelector, Operator};
use ipnet::Ipv4Net;
use std::hash::Hasher;

/// An open-addressing table over one byte arena: probing compares a stored hash
/// first and then contiguous arena bytes, never a separately allocated key.
#[derive(Default)]
pub(crate) struct Interner {
    arena: Vec<u8>,
    /// Power-of-two sized; `None` is an empty slot.
    slots: Vec<Option<Slot>>,
    len: usize,
    buf: Vec<u8>,
}

#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    start: usize,
    end: usize,
    id: u32,
}

impl Interner {
    /// The id of `peer`: `next` if it was not seen before (the caller then records it).
    pub fn intern(&mut self, peer: &Peer, next: u32) -> u32 {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        encode(peer, &mut buf);
        let mut h = FxHasher::default();
        h.write(&buf);
        let id = self.intern_encoded(h.finish(), &buf, next);
        self.buf = buf;
        id
    }

    /// Every peer `other` holds, by its id there: (hash, encoding). Lets a part built
    /// on another thread be merged without reading and encoding its peers again.
    pub fn encoded(&self) -> Vec<(u64, &[u8])> {
        let mut out = vec![(0, &[][..]); self.len];
        for s in self.slots.iter().flatten() {
            out[s.id as usize] = (s.hash, &self.arena[s.start..s.end]);
        }
        out
    }

    /// [`Interner::intern`] of a peer already encoded (and hashed) by an interner.
    pub fn intern_encoded(&mut self, hash: u64, bytes: &[u8], next: u32) -> u32 {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mut i = self.home(hash);
        loop {
            match self.slots[i] {
                Some(s) if s.hash == hash && self.arena[s.start..s.end] == *bytes => {
                    return s.id;
                }
                Some(_) => i = (i + 1) & (self.slots.len() - 1),
                None => break,
            }
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        self.slots[i] = Some(Slot {
            hash,
            start,
            end: self.arena.len(),
            id: next,
        });
        self.len += 1;
        next
    }

    /// The first slot to probe. FxHash mixes into the high bits, so index by those.
    fn home(&self, hash: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (hash >> (64 - bits)) as usize
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(64);
        let old = std::mem::replace(&mut self.slots, vec![None; size]);
        for s in old.into_iter().flatten() {
            let mut i = self.home(s.hash);
            while self.slots[i].is_some() {
                i = (i + 1) & (size - 1);
            }
            self.slots[i] = Some(s);
        }
    }
}

fn string(s: &str, out: &mut Vec<u8>) {
    count(s.len(), out);
    out.extend_from_slice(s.as_bytes());
}

/// LEB128: seven bits a byte, the high bit set on all but the last. Prefix-free, so the
/// encoding stays injective, and the lengths and counts of real selectors take one
/// byte instead of eight: a third of the bytes to copy, hash and compare per peer.
fn count(n: usize, out: &mut Vec<u8>) {
    let mut n = n as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn net(n: &Ipv4Net, out: &mut Vec<u8>) {
    let n = n.trunc();
    out.extend_from_slice(&n.network().octets());
    out.push(n.prefix_len());
}

fn selector(s: &LabelSelector, out: &mut Vec<u8>) {
    count(s.match_labels.len(), out);
    for (k, v) in &s.match_labels {
        string(k, out);
        string(v, out);
    }
    count(s.match_expressions.len(), out);
    for r in &s.match_expressions {
        string(&r.key, out);
        out.push(match r.operator {
            Operator::In => 0,
            Operator::NotIn => 1,
            Operator::Exists => 2,
            Operator::DoesNotExist => 3,
        });
        count(r.values.len(), out);
        for v in &r.values {
            string(v, out);
        }
    }
}

fn encode(peer: &Peer, out: &mut Vec<u8>) {
    match peer {
        Peer::Workloads {
            namespaces,
            workloads,
        } => {
            out.push(0);
            match namespaces {
                NamespaceMatch::Named(n) => {
                    out.push(0);
                    string(n, out);
                }
                NamespaceMatch::Selector(s) => {
                    out.push(1);
                    selector(s, out);
                }
            }
            match workloads {
                None => out.push(0),
                Some(s) => {
                    out.push(1);
                    selector(s, out);
                }
            }
        }
        Peer::Cidr { net: n, except } => {
            out.push(1);
            net(n, out);
            count(except.len(), out);
            for e in except {
                net(e, out);
            }
        }
        Peer::Entity(e) => {
            out.push(2);
            out.push(match e {
                Entity::World => 0,
                Entity::Host => 1,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ns: &str, labels: &[(&str, &str)]) -> Peer {
        Peer::Workloads {
            namespaces: NamespaceMatch::Named(ns.into()),
            workloads: Some(LabelSelector {
                match_labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                match_expressions: vec![],
            }),
        }
    }

    #[test]
    fn the_table_grows_without_losing_entries() {
        let mut i = Interner::default();
        for n in 0..1000u32 {
            assert_eq!(i.intern(&pod("x", &[("app", &n.to_string())]), n), n);
        }
        for n in 0..1000u32 {
            assert_eq!(i.intern(&pod("x", &[("app", &n.to_string())]), 5000), n);
        }
    }

    #[test]
    fn counts_are_prefix_free() {
        let enc = |n: usize| {
            let mut v = Vec::new();
            count(n, &mut v);
            v
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(127), [127]);
        assert_eq!(enc(128), [0x80, 1]);
        assert_eq!(enc(300), [0xac, 0x02]);
        assert_eq!(enc(usize::MAX).len(), 10);
        // A string of 128 bytes and one of 0 followed by other bytes stay apart.
        let mut i = Interner::default();
        let long = "a".repeat(128);
        assert_eq!(i.intern(&pod("x", &[(&long, "")]), 0), 0);
        assert_eq!(i.intern(&pod("x", &[("", &long)]), 1), 1);
        assert_eq!(i.intern(&pod("x", &[(&long, "")]), 2), 0);
    }

    #[test]
    fn equal_peers_share_an_id_and_different_ones_do_not() {
        let mut i = Interner::default();
        assert_eq!(i.intern(&pod("x", &[("a", "b")]), 0), 0);
        assert_eq!(i.intern(&pod("x", &[("a", "b")]), 1), 0);
        // Length prefixes keep ("ab","") apart from ("a","b").
        assert_eq!(i.intern(&pod("x", &[("ab", "")]), 1), 1);
        assert_eq!(i.intern(&pod("xa", &[]), 2), 2);
        let cidr = |s: &str| Peer::Cidr {
            net: s.parse().unwrap(),
            except: vec![],
        };
        // Host bits do not matter: both are 10.0.0.0/8.
        assert_eq!(i.intern(&cidr("10.0.0.0/8"), 3), 3);
        assert_eq!(i.intern(&cidr("10.1.0.0/8"), 4), 3);
        assert_eq!(i.intern(&Peer::Entity(Entity::World), 4), 4);
        assert_eq!(i.intern(&Peer::Entity(Entity::Host), 5), 5);
    }
}
