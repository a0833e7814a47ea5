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

/// Each edge's counters over the window `[since, until]` (ms), by edge id (`bound` ids),
/// from the minutes at or before `last` (the caller has the later ones in memory), as
/// the buckets would give them: a bucket counts if its minute is in the window and its
/// traffic overlaps it. Only the window's first and last minutes need that overlap test;
/// the minutes between are summed from the coarsest rollups that cover them exactly.
pub fn stored_window(
    conn: &Connection,
    (since, until): (i64, i64),
    last: i64,
    folded: i64,
    bound: usize,
) -> Result<Vec<Option<Counters>>, ServerError> {
    let mut sums = vec![None; bound];
    let (m0, m1) = (since.div_euclid(MINUTE_MS), until.div_euclid(MINUTE_MS));
    let hi = m1.min(last);
    if m0 > hi {
        return Ok(sums);
    }
    edge_minute(conn, m0, (since, until), &mut sums)?;
    if m1 != m0 && m1 <= last {
        edge_minute(conn, m1, (since, until), &mut sums)?;
    }
    let (a, b) = (m0 + 1, hi.min(m1 - 1));
    rollup::sum_rolled(conn, a, b.min(folded), &mut sums)?;
    rollup::sum_range(
        conn,
        "edge_buckets",
        "bucket",
        a.max(folded + 1),
        b,
        &mut sums,
    )?;
    Ok(sums)
}

/// The buckets of one minute at an end of the window whose traffic overlaps it.
fn edge_minute(
    conn: &Connection,
    minute: i64,
    (since, until): (i64, i64),
    sums: &mut [Option<Counters>],
) -> Result<(), ServerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT edge, packets, bytes, connections, first_seen, last_seen FROM edge_buckets
         WHERE bucket = ?1 AND last_seen >= ?2 AND first_seen <= ?3",
    )?;
    rollup::add_rows(stmt.query([minute, since, until])?, sums)
}
