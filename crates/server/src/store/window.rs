//! Time windows read from the store: each edge's counters over the window.

use super::flows::Counters;
use super::rollup;
use crate::error::ServerError;
use crate::graph::recent::MINUTE_MS;
use bulkhead_api::{IpProtocol, Timestamp, Verdict};
use rusqlite::Connection;

/// An edge with its counters and names, as a query answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeRow {
    pub id: u64,
    pub source: String,
    pub destination: String,
    pub protocol: IpProtocol,
    pub port: u16,
    pub verdict: Verdict,
    pub rule: Option<String>,
    /// The node that reported it last.
    pub node: Option<String>,
    pub counters: Counters,
}

/// Which edges to read, and over which time.
#[derive(Clone, Debug, Default)]
pub struct EdgeFilter<'a> {
    pub workload: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub verdict: Option<Verdict>,
    /// Counters are summed over the minutes in the window (the totals of whole history
    /// are the in-memory graph's: the edges' rows lag behind by a minute or two).
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Only edges with a greater id (paging).
    pub after: u64,
    pub limit: Option<u32>,
    /// Only edges whose verdict is not `allowed` (denied and would-deny: violations).
    pub violations: bool,
}

/// A time span in ms, both ends included (`i64::MAX`: up to now).
pub type Span = (i64, i64);

/// Each edge's counters over the part of the window `[since, until]` (ms) at or before
/// minute `last` (the caller has the later minutes in memory), by edge id (`bound` ids),
/// and the window that part actually covers.
///
/// Old windows are answered at hour granularity, like a time-series store answers old
/// ranges from its downsampled data: the window's start is moved back to its hour's
/// start and, when its end is old too, its end forward to its hour's end (or `last`).
/// So the store reads one hour or day rollup row per edge and period instead of the
/// minute buckets of the two partial hours at the ends (a window's start is usually
/// "now minus a duration", never on the hour): docs/server.md. The answer says so.
pub fn stored_window(
    conn: &Connection,
    (since, until): (i64, i64),
    last: i64,
    folded: i64,
    bound: usize,
) -> Result<(Vec<Option<Counters>>, Span), ServerError> {
    let mut sums = vec![None; bound];
    let (m0, m1) = (since.div_euclid(MINUTE_MS), until.div_euclid(MINUTE_MS));
    let lo = m0.div_euclid(rollup::HOUR) * rollup::HOUR;
    let (hi, covered_until) = if m1 <= last {
        let hi = ((m1.div_euclid(rollup::HOUR) + 1) * rollup::HOUR - 1).min(last);
        (hi, (hi + 1) * MINUTE_MS - 1)
    } else {
        (last, until)
    };
    let covered = (lo * MINUTE_MS, covered_until);
    if lo > hi {
        return Ok((sums, (since, until)));
    }
    let f = hi.min(folded);
    if lo <= f {
        if f == folded {
            // The hour row of the hour being folded holds exactly its folded minutes:
            // the whole hours before it from the coarsest rollups, then that row.
            let frontier = folded.div_euclid(rollup::HOUR);
            rollup::sum_rolled(conn, lo, frontier * rollup::HOUR - 1, &mut sums)?;
            rollup::sum_range(conn, "edge_hours", "hour", frontier, frontier, &mut sums)?;
        } else {
            // Ends before the fold: whole hours, or minutes where `last` cuts an hour.
            rollup::sum_rolled(conn, lo, f, &mut sums)?;
        }
    }
    // Minutes not folded yet are only in the buckets.
    rollup::sum_range(
        conn,
        "edge_buckets",
        "bucket",
        lo.max(folded + 1),
        hi,
        &mut sums,
    )?;
    Ok((sums, covered))
}
