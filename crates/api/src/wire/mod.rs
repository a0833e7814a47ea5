//! A compact binary body for `POST /agents/{node}/flows`, sent with
//! `Content-Type: application/vnd.bulkhead.flow-batch` ([`CONTENT_TYPE`]); JSON
//! ([`FlowBatch`]) stays accepted. Parsing JSON cost the server about a microsecond a
//! record, as much as aggregating it (docs/bench/server.md); this body is a few varints
//! a record, and every string is borrowed from the request.
//!
//! Layout (every integer is an unsigned LEB128 varint unless said otherwise):
//!
//! ```text
//! "BHF" 0x01                       magic and version
//! flags: u8                        bit 0: instance present, bit 1: sequence present
//! [instance: len, UTF-8 bytes] [sequence]
//! dropped_records, lost_events
//! strings: count, then each: len, UTF-8 bytes      every name once per batch
//! records: count, then each:
//!   source, destination            indexes into strings
//!   rule                           0: none, i + 1: strings[i]
//!   protocol: u8, verdict: u8      verdict 0 allowed, 1 denied, 2 would-deny
//!   port, packets, bytes, connections
//!   first_seen                     zigzag, milliseconds after the previous record's
//!   last_seen                      zigzag, milliseconds after this record's first_seen
//! ```
//!
//! Names are interned once per batch (an agent's batch mentions a few hundred workloads
//! in tens of thousands of records) and times are deltas, so a record is ~15 bytes
//! instead of ~250 of JSON.

use crate::flow::{FlowBatch, FlowRecord, IpProtocol, Verdict};
use crate::time::Timestamp;
use foldhash::{HashMap, HashMapExt};

mod read;
#[cfg(test)]
mod tests;

pub const CONTENT_TYPE: &str = "application/vnd.bulkhead.flow-batch";
const MAGIC: &[u8; 4] = b"BHF\x01";
const HAS_INSTANCE: u8 = 1;
const HAS_SEQUENCE: u8 = 2;
/// The fewest bytes a record can take: what bounds a claimed count before allocating.
const MIN_RECORD: usize = 11;

/// A body that is not a valid batch: where (byte offset) and which field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("byte {at}: {field}: {message}")]
pub struct DecodeError {
    pub at: usize,
    /// `records[3].verdict`, `strings[0]`, `magic`...
    pub field: String,
    pub message: String,
}

/// One record, its names as indexes into [`BatchView::strings`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView {
    pub source: u32,
    pub destination: u32,
    /// An index into the strings, or `None` when no rule decided.
    pub rule: Option<u32>,
    pub protocol: IpProtocol,
    pub port: u16,
    pub verdict: Verdict,
    pub packets: u64,
    pub bytes: u64,
    pub connections: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// A decoded batch borrowing its strings from the body. Every index in `records` is
/// checked against `strings` by [`decode`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchView<'a> {
    pub instance: Option<&'a str>,
    pub sequence: Option<u64>,
    pub dropped_records: u64,
    pub lost_events: u64,
    pub strings: Vec<&'a str>,
    pub records: Vec<RecordView>,
}

impl<'a> BatchView<'a> {
    /// The string at `i` (`""` out of range, which [`decode`] never lets through).
    pub fn str(&self, i: u32) -> &'a str {
        self.strings.get(i as usize).copied().unwrap_or("")
    }

    /// The owned batch, as JSON would have given it.
    pub fn to_batch(&self) -> FlowBatch {
        let records = self.records.iter().map(|r| FlowRecord {
            source: self.str(r.source).to_string(),
            destination: self.str(r.destination).to_string(),
            protocol: r.protocol,
            port: r.port,
            verdict: r.verdict,
            rule: r.rule.map(|i| self.str(i).to_string()),
            packets: r.packets,
            bytes: r.bytes,
            connections: r.connections,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            node: None,
        });
        FlowBatch {
            instance: self.instance.map(str::to_string),
            sequence: self.sequence,
            records: records.collect(),
            dropped_records: self.dropped_records,
            lost_events: self.lost_events,
        }
    }
}

/// Appends `v` as an unsigned LEB128 varint, the format's every integer (public for
/// tests that write bodies by hand, malformed ones included).
pub fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A signed delta as the unsigned varint value it is sent as (small magnitudes stay small).
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Encodes `batch` (its records' `node` is not sent: the server takes it from the path).
pub fn encode(batch: &FlowBatch) -> Vec<u8> {
    let mut names = Interner {
        ids: HashMap::new(),
        strings: Vec::new(),
    };
    // Interning first, so the strings precede the records that refer to them.
    let refs: Vec<[u32; 3]> = batch
        .records
        .iter()
        .map(|r| {
            let rule = r.rule.as_deref().map_or(0, |x| names.id(x) + 1);
            [names.id(&r.source), names.id(&r.destination), rule]
        })
        .collect();
    let strings = names.strings;
    let mut out = Vec::with_capacity(64 + batch.records.len() * 16);
    out.extend_from_slice(MAGIC);
    let flags = if batch.instance.is_some() {
        HAS_INSTANCE
    } else {
        0
    } | if batch.sequence.is_some() {
        HAS_SEQUENCE
    } else {
        0
    };
    out.push(flags);
    if let Some(i) = &batch.instance {
        put_str(&mut out, i);
    }
    if let Some(s) = batch.sequence {
        put(&mut out, s);
    }
    put(&mut out, batch.dropped_records);
    put(&mut out, batch.lost_events);
    put(&mut out, strings.len() as u64);
    for s in &strings {
        put_str(&mut out, s);
    }
    put(&mut out, batch.records.len() as u64);
    let mut prev = 0i64;
    for (r, [src, dst, rule]) in batch.records.iter().zip(refs) {
        put(&mut out, u64::from(src));
        put(&mut out, u64::from(dst));
        put(&mut out, u64::from(rule));
        out.push(r.protocol.0);
        out.push(verdict_code(r.verdict));
        put(&mut out, u64::from(r.port));
        put(&mut out, r.packets);
        put(&mut out, r.bytes);
        put(&mut out, r.connections);
        let first = r.first_seen.millis();
        put(&mut out, zigzag(first.wrapping_sub(prev)));
        put(&mut out, zigzag(r.last_seen.millis().wrapping_sub(first)));
        prev = first;
    }
    out
}

struct Interner<'a> {
    ids: HashMap<&'a str, u32>,
    strings: Vec<&'a str>,
}

impl<'a> Interner<'a> {
    fn id(&mut self, s: &'a str) -> u32 {
        let next = self.strings.len() as u32;
        let id = *self.ids.entry(s).or_insert(next);
        if id == next {
            self.strings.push(s);
        }
        id
    }
}

fn verdict_code(v: Verdict) -> u8 {
    match v {
        Verdict::Allowed => 0,
        Verdict::Denied => 1,
        Verdict::WouldDeny => 2,
    }
}

/// Decodes a body, borrowing its strings; refuses trailing bytes, truncation, indexes
/// outside the strings, unknown verdicts and ports above 65535, naming the field.
pub fn decode(body: &[u8]) -> Result<BatchView<'_>, DecodeError> {
    read::Reader { body, at: 0 }.batch()
}
