//! The recent per-minute buckets in memory, so a graph over a time window is summed here
//! instead of read from SQLite (which stays the durable copy of every minute).
//!
//! Bounded by a number of (edge, minute) entries: when over it, the oldest minutes go
//! (they stay on disk). `from` records how far back memory is complete, so a window
//! that starts before it is answered from the store instead: never a silently partial
//! answer.

use crate::store::Counters;
use foldhash::HashMap;
use petgraph::stable_graph::EdgeIndex;
use std::collections::BTreeMap;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;

/// Per-period counters per edge. The periods are minutes (the recent buckets) or hours
/// (the sums of every minute of an hour, what windows older than the minutes read
/// instead of SQLite's hour rows: docs/server.md); the code names them minutes.
pub struct Recent {
    /// Unix minute (or hour) → counters per edge (by graph edge index).
    minutes: BTreeMap<i64, HashMap<u32, Counters>>,
    entries: usize,
    cap: usize,
    /// Every bucket of a minute at or after this one is in memory.
    from: i64,
    /// A period's length.
    period_ms: i64,
}

impl Recent {
    /// Empty and complete (a new database has no buckets), holding at most `cap` entries.
    pub fn new(cap: usize) -> Recent {
        Recent {
            minutes: BTreeMap::new(),
            entries: 0,
            cap,
            from: i64::MIN,
            period_ms: MINUTE_MS,
        }
    }

    /// The same for hours (unix minute / 60).
    pub fn hours(cap: usize) -> Recent {
        Recent {
            period_ms: HOUR_MS,
            ..Recent::new(cap)
        }
    }

    /// Memory holds every bucket from `minute` on (what the store loads at start).
    pub fn complete_from(&mut self, minute: i64) {
        self.from = minute;
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Adds counters to an edge's minute; a minute older than what memory holds is left
    /// to the store. Evicts the oldest minutes when over the bound.
    pub fn add(&mut self, edge: EdgeIndex, minute: i64, c: &Counters) {
        if minute < self.from {
            return;
        }
        let m = self.minutes.entry(minute).or_default();
        match m.get_mut(&(edge.index() as u32)) {
            Some(have) => have.add(c),
            None => {
                m.insert(edge.index() as u32, *c);
                self.entries += 1;
            }
        }
    }

    /// Drops the oldest minutes until the bound holds (after a batch, not in the middle
    /// of one, so a batch's minutes are never half in memory).
    pub fn trim(&mut self) {
        while self.entries > self.cap {
            let Some((minute, m)) = self.minutes.pop_first() else {
                break;
            };
            self.entries -= m.len();
            self.from = minute + 1;
        }
    }

    /// Whether memory has every bucket of `minute` (so a bucket it lacks is none).
    pub fn holds(&self, minute: i64) -> bool {
        minute >= self.from
    }

    /// The counters of an edge's minute, if memory has any.
    pub fn get(&self, edge: EdgeIndex, minute: i64) -> Option<&Counters> {
        self.minutes.get(&minute)?.get(&(edge.index() as u32))
    }

    /// The first minute memory holds whole, when it does not hold every minute there
    /// is: windows reaching before it read the earlier minutes from the store.
    pub fn horizon(&self) -> Option<i64> {
        (self.from > i64::MIN).then_some(self.from)
    }

    /// Forgets the minutes before `minute` (retention: the store deletes them too).
    pub fn forget_before(&mut self, minute: i64) {
        while let Some(entry) = self.minutes.first_entry() {
            if *entry.key() >= minute {
                break;
            }
            self.entries -= entry.remove().len();
        }
    }

    /// Each edge's counters summed over the buckets of the window (as the store's query:
    /// buckets of the window's minutes whose traffic overlaps it), indexed by edge index.
    pub fn window(&self, since_ms: i64, until_ms: i64, bound: usize) -> Vec<Option<Counters>> {
        let mut out: Vec<Option<Counters>> = vec![None; bound];
        let (lo, hi) = (
            since_ms.div_euclid(self.period_ms),
            until_ms.div_euclid(self.period_ms),
        );
        if lo > hi {
            return out;
        }
        for (_, m) in self.minutes.range(lo..=hi) {
            for (&e, c) in m {
                if c.last_seen.millis() < since_ms || c.first_seen.millis() > until_ms {
                    continue;
                }
                let Some(slot) = out.get_mut(e as usize) else {
                    continue;
                };
                match slot {
                    Some(have) => have.add(c),
                    None => *slot = Some(*c),
                }
            }
        }
        out
    }
}

impl Default for Recent {
    fn default() -> Self {
        Recent::new(DEFAULT_CAP)
    }
}

/// About 100 MB at most (~100 bytes an entry, hash tables included): an hour of 16,000
/// edges active every minute, or 100,000 edges over ten minutes.
pub const DEFAULT_CAP: usize = 1_000_000;

/// The hours' bound, the same size: 10 hours of 100,000 edges, or two days of 20,000.
pub const DEFAULT_HOURS_CAP: usize = 1_000_000;

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_api::Timestamp;

    fn c(first: i64, last: i64) -> Counters {
        Counters {
            packets: 1,
            bytes: 10,
            connections: 1,
            first_seen: Timestamp(first),
            last_seen: Timestamp(last),
        }
    }

    #[test]
    fn windows_sum_minutes_and_trimming_moves_the_horizon() {
        let mut r = Recent::new(3);
        let e = EdgeIndex::new(1);
        r.add(e, 0, &c(0, 1000));
        r.add(e, 1, &c(60_000, 61_000));
        r.add(e, 1, &c(60_500, 62_000));
        r.add(EdgeIndex::new(0), 2, &c(120_000, 121_000));
        assert_eq!(r.entries(), 3);
        let w = r.window(60_000, i64::MAX, 2);
        assert_eq!(w[1].map(|c| c.packets), Some(2));
        assert_eq!(w[0].map(|c| c.packets), Some(1));
        assert_eq!(r.horizon(), None);
        r.add(EdgeIndex::new(0), 3, &c(180_000, 181_000));
        r.trim();
        assert_eq!(r.entries(), 3);
        assert_eq!(r.horizon(), Some(1));
        // A minute older than memory holds is the store's business.
        r.add(e, 0, &c(0, 1000));
        assert_eq!(r.entries(), 3);
    }
}
