//! A batch before it meets the store: records borrowed from however the batch was
//! parsed (typed, or JSON parsed in place), summed per edge and per minute, and the
//! numbers of the names they mention.

use crate::error::ServerError;
use crate::graph::Names;
use crate::graph::recent::MINUTE_MS;
use crate::store::{Counters, FlowWrite};
use bulkhead_api::{FlowRecord, IpProtocol, Verdict};
use foldhash::{HashMap, HashMapExt};

/// One record, borrowed from the batch however it was parsed.
#[derive(Clone, Copy, Debug)]
pub struct Rec<'a> {
    pub source: &'a str,
    pub destination: &'a str,
    pub protocol: IpProtocol,
    pub port: u16,
    pub verdict: Verdict,
    pub rule: Option<&'a str>,
    pub counters: Counters,
}

impl<'a> From<&'a FlowRecord> for Rec<'a> {
    fn from(r: &'a FlowRecord) -> Self {
        Rec {
            source: &r.source,
            destination: &r.destination,
            protocol: r.protocol,
            port: r.port,
            verdict: r.verdict,
            rule: r.rule.as_deref(),
            counters: Counters {
                packets: r.packets,
                bytes: r.bytes,
                connections: r.connections,
                first_seen: r.first_seen,
                last_seen: r.last_seen,
            },
        }
    }
}

/// Everything of a batch but its records.
#[derive(Clone, Debug, Default)]
pub struct BatchMeta {
    pub instance: Option<String>,
    pub sequence: Option<u64>,
    pub dropped_records: u64,
    pub lost_events: u64,
}

/// An edge's identity, borrowed from the batch (the rule is an attribute: graph module).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Key<'a> {
    pub source: &'a str,
    pub destination: &'a str,
    pub protocol: IpProtocol,
    pub port: u16,
    pub verdict: Verdict,
}

/// An edge's counters over the batch, and per minute.
pub(super) struct Sums<'a> {
    pub total: Counters,
    pub minutes: Minutes,
    /// The rule of the most recent record (the later one on equal times).
    pub rule: Option<&'a str>,
    /// Indexes of the names in a binary batch's string table: the server resolves each
    /// once per batch instead of hashing the names of every edge (`wire_sums`).
    pub refs: Option<Refs>,
}

/// Where an edge's names are in a binary batch's string table (the rule: most recent).
#[derive(Clone, Copy)]
pub(super) struct Refs {
    pub source: u32,
    pub destination: u32,
    pub rule: Option<u32>,
}

impl Sums<'_> {
    pub fn new() -> Self {
        Sums {
            total: Counters::EMPTY,
            minutes: Minutes::default(),
            rule: None,
            refs: None,
        }
    }

    /// Adds one record's counters; true if it is the edge's most recent so far (its
    /// rule is the edge's then).
    pub fn add(&mut self, c: &Counters) -> bool {
        let newest = c.last_seen >= self.total.last_seen;
        self.total.add(c);
        self.minutes
            .add(c.last_seen.millis().div_euclid(MINUTE_MS), c);
        newest
    }
}

/// An edge's minutes in a batch: a batch rarely spans more than two, so two are kept
/// inline (no allocation per edge) and any more in a vector.
#[derive(Default)]
pub(super) struct Minutes {
    inline: [Option<(i64, Counters)>; 2],
    more: Vec<(i64, Counters)>,
}

impl Minutes {
    fn add(&mut self, minute: i64, c: &Counters) {
        for slot in &mut self.inline {
            match slot {
                Some((m, have)) if *m == minute => return have.add(c),
                Some(_) => {}
                None => {
                    *slot = Some((minute, *c));
                    return;
                }
            }
        }
        match self.more.iter_mut().find(|(m, _)| *m == minute) {
            Some((_, have)) => have.add(c),
            None => self.more.push((minute, *c)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &(i64, Counters)> {
        self.inline.iter().flatten().chain(&self.more)
    }
}

/// Numbers for the names of a batch: known ones from the graph, new ones the next free
/// numbers (written with the batch, interned after its commit).
pub(super) struct Namer<'a> {
    pub pending: HashMap<&'a str, u32>,
    pub next: u32,
}

impl<'a> Namer<'a> {
    pub fn id(&mut self, names: &Names, name: &'a str, write: &mut FlowWrite) -> u32 {
        if let Some(id) = names.id(name) {
            return id;
        }
        *self.pending.entry(name).or_insert_with(|| {
            let id = self.next;
            self.next += 1;
            write.names.push((id, name.to_string()));
            id
        })
    }
}

/// Edges' sums in the order they first appear in the batch (new edges get ids in that
/// order), found by a map of positions: the sums (~200 bytes) are written once and never
/// moved by a rehash or a sort.
pub(super) type Summed<'a> = Vec<(Key<'a>, Sums<'a>)>;

/// Sums the batch per edge and minute; rejects records that make no sense, naming them.
pub(super) fn aggregate<'a>(records: &[Rec<'a>]) -> Result<Summed<'a>, ServerError> {
    let mut at: HashMap<Key<'a>, u32> = HashMap::with_capacity(records.len().min(1 << 16));
    let mut sums: Summed<'a> = Vec::with_capacity(records.len().min(1 << 16));
    for (i, r) in records.iter().enumerate() {
        check(i, r.source, r.destination, &r.counters)?;
        let key = Key {
            source: r.source,
            destination: r.destination,
            protocol: r.protocol,
            port: r.port,
            verdict: r.verdict,
        };
        let n = *at.entry(key).or_insert_with(|| {
            sums.push((key, Sums::new()));
            (sums.len() - 1) as u32
        });
        let s = &mut sums[n as usize].1;
        if s.add(&r.counters) {
            s.rule = r.rule;
        }
    }
    Ok(sums)
}

/// A record's refusals: empty names, times before 1970 or running backwards.
pub(super) fn check(
    i: usize,
    source: &str,
    destination: &str,
    c: &Counters,
) -> Result<(), ServerError> {
    if source.is_empty() || destination.is_empty() {
        let field = if source.is_empty() {
            "source"
        } else {
            "destination"
        };
        return Err(ServerError::invalid(format!(
            "records[{i}].{field}: must not be empty"
        )));
    }
    // Minutes, hours and days are numbered from the epoch; nothing is seen before it
    // (JSON cannot say so, the binary body could).
    if c.first_seen.millis() < 0 {
        return Err(ServerError::invalid(format!(
            "records[{i}].first_seen: is before 1970"
        )));
    }
    if c.last_seen < c.first_seen {
        return Err(ServerError::invalid(format!(
            "records[{i}].last_seen: is before first_seen"
        )));
    }
    Ok(())
}

pub(super) fn record(k: &Key<'_>, s: &Sums<'_>, node: &str) -> FlowRecord {
    let c = &s.total;
    FlowRecord {
        source: k.source.to_string(),
        destination: k.destination.to_string(),
        protocol: k.protocol,
        port: k.port,
        verdict: k.verdict,
        rule: s.rule.map(str::to_string),
        packets: c.packets,
        bytes: c.bytes,
        connections: c.connections,
        first_seen: c.first_seen,
        last_seen: c.last_seen,
        node: Some(node.to_string()),
    }
}
