//! Time windows and pages of edges read from the store, with their names.

use super::edges::{counters_at, verdict_at};
use super::flows::{Counters, verdict_code};
use crate::error::ServerError;
use bulkhead_api::{IpProtocol, Timestamp, Verdict};
use rusqlite::{Connection, Row, params};

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

fn edge_row(r: &Row<'_>) -> rusqlite::Result<EdgeRow> {
    Ok(EdgeRow {
        id: r.get::<_, i64>(0)? as u64,
        source: r.get(1)?,
        destination: r.get(2)?,
        protocol: IpProtocol(r.get(3)?),
        port: r.get(4)?,
        verdict: verdict_at(r, 5)?,
        rule: r.get(6)?,
        node: r.get(7)?,
        counters: counters_at(r, 8)?,
    })
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

const NAMES: &str = "JOIN names s ON s.id = e.src JOIN names d ON d.id = e.dst
    LEFT JOIN names r ON r.id = e.rule LEFT JOIN names n ON n.id = e.node";

const FILTERS: &str = "(?1 IS NULL OR s.name = ?1 OR d.name = ?1)
    AND (?2 IS NULL OR s.ns = ?2 OR d.ns = ?2)
    AND (?3 IS NULL OR e.verdict = ?3) AND e.id > ?4";

/// Edges passing `f` with their counters over its window, in id order.
pub fn query_window(conn: &Connection, f: &EdgeFilter<'_>) -> Result<Vec<EdgeRow>, ServerError> {
    let limit = f.limit.map_or(-1, i64::from);
    let verdict = f.verdict.map(|v| verdict_code(v) as i64);
    let after = super::to_i64(f.after);
    // A constant clause, not a parameter: each of the two statement shapes stays cached.
    let violations = if f.violations {
        "AND e.verdict <> 0"
    } else {
        ""
    };
    let since = f.since.map_or(0, Timestamp::millis);
    let until = f.until.map_or(i64::MAX, Timestamp::millis);
    let sql = format!(
        "SELECT e.id, s.name, d.name, e.protocol, e.port, e.verdict, r.name, n.name,
                SUM(b.packets), SUM(b.bytes), SUM(b.connections), MIN(b.first_seen), MAX(b.last_seen)
         FROM edge_buckets b JOIN edges e ON e.id = b.edge {NAMES}
         WHERE b.bucket BETWEEN ?6 AND ?7 AND b.last_seen >= ?8 AND b.first_seen <= ?9
           AND {FILTERS} {violations}
         GROUP BY e.id ORDER BY e.id LIMIT ?5"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            f.workload,
            f.namespace,
            verdict,
            after,
            limit,
            since / 60_000,
            until / 60_000,
            since,
            until
        ],
        edge_row,
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
