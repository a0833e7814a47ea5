//! Content fingerprints of endpoints, so a backend can tell which endpoints changed
//! between two programs by comparing one `u64` each instead of their tables.
//!
//! The fingerprint covers everything a backend sees *of the endpoint itself*: workload,
//! addresses, interface, identity, mode and both direction tables. It does not cover
//! [`Endpoint::index`] (positional: adding a workload shifts every later index, and no
//! table content changes with it) nor the program-wide tables (`rules`, `identities`,
//! `ipcache`), which a backend compares on their own.
//!
//! SipHash with fixed keys (std's `DefaultHasher::new()`), not the compiler's FxHash: a
//! collision here would make a backend skip a real change, so the hash must mix well on
//! structured input. The value is stable within one build of the program, which is all
//! a backend comparing the last applied program with the next needs; it is not a format.

use super::{DirectionProgram, Endpoint, PortTable, Program};
use std::hash::{DefaultHasher, Hash, Hasher};

/// The fingerprint of one direction's table; the compiler computes it once per table
/// shared by several endpoints.
pub fn direction_fingerprint(d: &DirectionProgram) -> u64 {
    direction_fingerprint_in(d, &mut Vec::new())
}

/// [`direction_fingerprint`] with a reused buffer. The table's bytes are gathered first
/// and hashed in one `write`: SipHash is a stream over the bytes written, so this is the
/// same value as writing field by field, without the per-call bookkeeping on every
/// one- to four-byte field (a fifth of the tables' cost when written field by field).
pub(crate) fn direction_fingerprint_in(d: &DirectionProgram, buf: &mut Vec<u8>) -> u64 {
    buf.clear();
    let mut bytes = Bytes(buf);
    write_direction(&mut bytes, d);
    let mut h = DefaultHasher::new();
    h.write(bytes.0);
    h.finish()
}

/// Collects what is written into it; never asked for a hash of its own.
struct Bytes<'b>(&'b mut Vec<u8>);

impl Hasher for Bytes<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn finish(&self) -> u64 {
        0
    }
}

fn write_direction(h: &mut impl Hasher, d: &DirectionProgram) {
    h.write_u8(u8::from(d.isolated));
    h.write_u32(d.default_rule);
    write_table(h, &d.any);
    h.write_usize(d.peers.len());
    for (id, table) in &d.peers {
        h.write_u32(*id);
        write_table(h, table);
    }
}

fn write_table(h: &mut impl Hasher, t: &PortTable) {
    // Lengths first, so entries cannot slide between neighbouring tables unnoticed.
    h.write_usize(t.entries.len());
    for e in &t.entries {
        h.write_u8(e.protocol);
        h.write_u16(e.first);
        h.write_u16(e.last);
        e.action.hash(h);
        h.write_u32(e.rule);
    }
}

impl Endpoint {
    /// Computes the fingerprint from the endpoint's content, as the compiler stores it in
    /// [`Endpoint::fingerprint`]. Hand-built or edited endpoints call this (or
    /// [`Program::refresh_fingerprints`]) after changing a field.
    pub fn content_fingerprint(&self) -> u64 {
        self.fingerprint_with(
            direction_fingerprint(&self.ingress),
            direction_fingerprint(&self.egress),
        )
    }

    /// The fingerprint given the two directions' fingerprints.
    pub(crate) fn fingerprint_with(&self, ingress: u64, egress: u64) -> u64 {
        let mut h = DefaultHasher::new();
        self.workload.hash(&mut h);
        h.write_usize(self.ips.len());
        for ip in &self.ips {
            h.write_u32(u32::from(*ip));
        }
        self.interface.hash(&mut h);
        h.write_u32(self.identity);
        self.mode.hash(&mut h);
        h.write_u64(ingress);
        h.write_u64(egress);
        // 0 is reserved for "not computed" (hand-built endpoints), which backends
        // never trust.
        h.finish().max(1)
    }
}

impl Program {
    /// Recomputes every endpoint's fingerprint from its content (for programs built or
    /// edited by hand; the compiler's output already holds them).
    pub fn refresh_fingerprints(&mut self) {
        for e in &mut self.endpoints {
            e.fingerprint = e.content_fingerprint();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::{Endpoint, PortEntry};
    use bulkhead_policy::{Action, Mode, WorkloadId};

    fn endpoint() -> Endpoint {
        let mut e = Endpoint {
            workload: WorkloadId::new("ns", "a"),
            index: 0,
            ips: vec!["10.0.0.1".parse().unwrap()],
            interface: Some("veth0".into()),
            identity: 3,
            mode: Mode::Enforce,
            ingress: DirectionProgram::default(),
            egress: DirectionProgram::default(),
            fingerprint: 0,
        };
        e.ingress.isolated = true;
        e.ingress.default_rule = 2;
        e.ingress.any.entries.push(PortEntry {
            protocol: 6,
            first: 80,
            last: 80,
            action: Action::Allow,
            rule: 1,
        });
        e.ingress.peers.insert(
            4,
            PortTable {
                entries: vec![PortEntry {
                    protocol: 17,
                    first: 53,
                    last: 53,
                    action: Action::Deny,
                    rule: 3,
                }],
            },
        );
        e.fingerprint = e.content_fingerprint();
        e
    }

    #[test]
    fn gathered_bytes_hash_as_field_by_field_writes() {
        // The value before gathering: every field written straight into SipHash.
        fn streamed(d: &DirectionProgram) -> u64 {
            let mut h = DefaultHasher::new();
            write_direction(&mut h, d);
            h.finish()
        }
        let e = endpoint();
        for d in [&e.ingress, &e.egress, &DirectionProgram::default()] {
            assert_eq!(direction_fingerprint(d), streamed(d));
        }
        let mut big = e.ingress.clone();
        for id in 10..200 {
            big.peers.insert(id, big.peers[&4].clone());
        }
        assert_eq!(direction_fingerprint(&big), streamed(&big));
    }

    #[test]
    fn equal_endpoints_have_equal_fingerprints() {
        assert_eq!(endpoint().fingerprint, endpoint().fingerprint);
        // The position is not content.
        let mut moved = endpoint();
        moved.index = 7;
        assert_eq!(moved.content_fingerprint(), endpoint().fingerprint);
    }

    #[test]
    fn any_change_a_backend_sees_changes_the_fingerprint() {
        let base = endpoint().fingerprint;
        type Change = (&'static str, fn(&mut Endpoint));
        let changes: Vec<Change> = vec![
            ("workload", |e| e.workload = WorkloadId::new("ns", "b")),
            ("ip", |e| e.ips[0] = "10.0.0.2".parse().unwrap()),
            ("second ip", |e| e.ips.push("10.0.0.9".parse().unwrap())),
            ("interface", |e| e.interface = None),
            ("interface name", |e| e.interface = Some("veth1".into())),
            ("identity", |e| e.identity = 5),
            ("mode", |e| e.mode = Mode::Monitor),
            ("isolated", |e| e.egress.isolated = true),
            ("default rule", |e| e.ingress.default_rule = 9),
            ("any action", |e| {
                e.ingress.any.entries[0].action = Action::Deny
            }),
            ("any rule", |e| e.ingress.any.entries[0].rule = 8),
            ("any port", |e| e.ingress.any.entries[0].last = 81),
            ("any protocol", |e| e.ingress.any.entries[0].protocol = 17),
            ("peer id", |e| {
                let t = e.ingress.peers.remove(&4).unwrap();
                e.ingress.peers.insert(6, t);
            }),
            ("peer entry", |e| {
                e.ingress.peers.get_mut(&4).unwrap().entries[0].first = 52
            }),
            ("peer added", |e| {
                e.ingress.peers.insert(9, PortTable::default());
            }),
            ("table moved to the other direction", |e| {
                std::mem::swap(&mut e.ingress, &mut e.egress)
            }),
            ("entry moved from any to a peer", |e| {
                let entry = e.ingress.any.entries.remove(0);
                e.ingress
                    .peers
                    .get_mut(&4)
                    .unwrap()
                    .entries
                    .insert(0, entry);
            }),
        ];
        for (what, change) in changes {
            let mut e = endpoint();
            change(&mut e);
            assert_ne!(e.content_fingerprint(), base, "{what}");
        }
    }

    #[test]
    fn refresh_recomputes_edited_endpoints() {
        let mut p = Program {
            rules: vec![],
            identities: vec![],
            ipcache: vec![],
            endpoints: vec![endpoint()],
        };
        p.endpoints[0].mode = Mode::Learn;
        assert_ne!(
            p.endpoints[0].fingerprint,
            p.endpoints[0].content_fingerprint()
        );
        p.refresh_fingerprints();
        assert_eq!(
            p.endpoints[0].fingerprint,
            p.endpoints[0].content_fingerprint()
        );
    }
}
