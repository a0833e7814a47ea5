//! A time window's counters per edge. Minute-exact from the recent minutes in memory;
//! the part older than them by the hour (docs/server.md): from the hours in memory,
//! and from the store's hour and day rollups for what is older still.

use super::state::State;
use crate::error::ServerError;
use crate::graph::recent::{HOUR_MS, MINUTE_MS};
use crate::store::{self, Counters, Span};
use bulkhead_api::{CoveredWindow, Timestamp};
use petgraph::stable_graph::EdgeIndex;

/// Each edge's counters over a window: memory's part by edge index, the store's by
/// edge id, and the window they cover.
pub(super) struct Window {
    memory: Vec<Option<Counters>>,
    stored: Vec<Option<Counters>>,
    /// The window covered, ms: as asked, or widened to whole hours.
    covered: Span,
}

impl Window {
    pub fn get(&self, idx: EdgeIndex, id: u64) -> Option<Counters> {
        let m = self.memory.get(idx.index()).copied().flatten();
        let s = usize::try_from(id)
            .ok()
            .and_then(|i| self.stored.get(i).copied().flatten());
        merge(m, s)
    }

    pub fn covered(&self) -> CoveredWindow {
        let (since, until) = self.covered;
        CoveredWindow {
            since: Timestamp(since),
            until: (until != i64::MAX).then_some(Timestamp(until)),
        }
    }
}

fn merge(a: Option<Counters>, b: Option<Counters>) -> Option<Counters> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            a.add(&b);
            Some(a)
        }
        (a, b) => a.or(b),
    }
}

pub(super) fn window(state: &State, since: i64, until: i64) -> Result<Window, ServerError> {
    let bound = state.graph.edge_bound();
    let m0 = since.div_euclid(MINUTE_MS);
    let from = match state.recent.horizon() {
        Some(from) if m0 < from => from,
        _ => {
            return Ok(Window {
                memory: state.recent.window(since, until, bound),
                stored: Vec::new(),
                covered: (since, until),
            });
        }
    };
    // Older than the minutes: by the hour, up to the first hour the minutes hold whole
    // (`split`), whose minutes and later ones are summed minute by minute.
    let split = (from + 59).div_euclid(60);
    let (h0, h1) = (m0.div_euclid(60), until.div_euclid(HOUR_MS));
    let last = h1.min(split - 1);
    let covered_until = if h1 < split {
        (h1 + 1) * HOUR_MS - 1
    } else {
        until
    };
    let mut memory = state
        .recent
        .window((split * HOUR_MS).max(since), until, bound);
    let hours_from = state.hours.horizon().unwrap_or(i64::MIN);
    let lo = h0.max(hours_from);
    if lo <= last {
        let hours = state
            .hours
            .window(lo * HOUR_MS, (last + 1) * HOUR_MS - 1, bound);
        for (slot, h) in memory.iter_mut().zip(hours) {
            *slot = merge(*slot, h);
        }
    }
    // Hours older than memory's: the store's rollups.
    let stored = if h0 < hours_from && h0 <= last {
        let end = last.min(hours_from - 1);
        store::stored_window(
            state.store.conn(),
            (h0 * HOUR_MS, (end + 1) * HOUR_MS - 1),
            end * 60 + 59,
            state.folded,
            state.graph.next_id() as usize,
        )?
        .0
    } else {
        Vec::new()
    };
    Ok(Window {
        memory,
        stored,
        covered: (h0 * HOUR_MS, covered_until),
    })
}
