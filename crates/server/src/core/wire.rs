//! The binary batch's fast path: records are summed by the indexes of their names in
//! the batch's string table (integers, hashed in a few instructions) instead of by the
//! names themselves, and each name is resolved to the server's number once per batch
//! (`Resolved`) instead of once per edge. Same sums, order and refusals as `aggregate`.

use super::aggregate::{Key, Namer, Refs, Summed, Sums, check};
use crate::error::ServerError;
use crate::graph::Names;
use crate::store::{Counters, FlowWrite};
use bulkhead_api::wire::BatchView;
use bulkhead_api::{IpProtocol, Verdict};
use foldhash::{HashMap, HashMapExt};

/// An edge's identity by string indexes (canonical ones: see `wire_sums`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct IdKey {
    source: u32,
    destination: u32,
    protocol: IpProtocol,
    port: u16,
    verdict: Verdict,
}

/// Sums a decoded binary batch per edge and minute, each edge with its names' indexes.
pub(super) fn wire_sums<'a>(view: &BatchView<'a>) -> Result<Vec<(Key<'a>, Sums<'a>)>, ServerError> {
    // The encoder interns every name once, but a body is untrusted: a name repeated
    // under two indexes must still be one name, so every index maps to the first
    // index of its string (one hash per string, not per record).
    let mut first: HashMap<&str, u32> = HashMap::with_capacity(view.strings.len());
    let canon: Vec<u32> = (0..view.strings.len() as u32)
        .map(|i| *first.entry(view.str(i)).or_insert(i))
        .collect();
    let at = |i: u32| canon[i as usize];
    let mut found: HashMap<IdKey, u32> = HashMap::with_capacity(view.records.len().min(1 << 16));
    let mut sums: Summed<'a> = Vec::with_capacity(view.records.len().min(1 << 16));
    for (i, r) in view.records.iter().enumerate() {
        let c = Counters {
            packets: r.packets,
            bytes: r.bytes,
            connections: r.connections,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
        };
        check(i, view.str(r.source), view.str(r.destination), &c)?;
        let id = IdKey {
            source: at(r.source),
            destination: at(r.destination),
            protocol: r.protocol,
            port: r.port,
            verdict: r.verdict,
        };
        let n = *found.entry(id).or_insert_with(|| {
            let key = Key {
                source: view.str(id.source),
                destination: view.str(id.destination),
                protocol: id.protocol,
                port: id.port,
                verdict: id.verdict,
            };
            sums.push((key, Sums::new()));
            (sums.len() - 1) as u32
        });
        let s = &mut sums[n as usize].1;
        if s.add(&c) {
            let rule = r.rule.map(at);
            s.rule = rule.map(|x| view.str(x));
            s.refs = Some(Refs {
                source: id.source,
                destination: id.destination,
                rule,
            });
        }
    }
    Ok(sums)
}

/// The server's numbers of a batch's names, by string index, each looked up once.
#[derive(Default)]
pub(super) struct Resolved {
    ids: Vec<Option<u32>>,
}

impl Resolved {
    /// The number of `name`, at `index` in the string table (none: a batch without
    /// one, looked up by the name).
    pub fn id<'a>(
        &mut self,
        namer: &mut Namer<'a>,
        names: &Names,
        (index, name): (Option<u32>, &'a str),
        write: &mut FlowWrite,
    ) -> u32 {
        let Some(index) = index else {
            return namer.id(names, name, write);
        };
        let i = index as usize;
        if i >= self.ids.len() {
            self.ids.resize(i + 1, None);
        }
        *self.ids[i].get_or_insert_with(|| namer.id(names, name, write))
    }
}
