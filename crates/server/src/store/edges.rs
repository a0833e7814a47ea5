//! Reading the flow tables back at start, and folding past minutes into the edges.

use super::flows::{Counters, EdgeData, StoredEdge};
use crate::error::ServerError;
use bulkhead_api::{IpProtocol, Timestamp, Verdict};
use rusqlite::{Connection, OptionalExtension, Row};

pub(super) fn verdict_at(r: &Row<'_>, i: usize) -> rusqlite::Result<Verdict> {
    let code: i64 = r.get(i)?;
    usize::try_from(code)
        .ok()
        .and_then(|c| Verdict::ALL.get(c).copied())
        .ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                i,
                rusqlite::types::Type::Integer,
                format!("verdict code {code}").into(),
            )
        })
}

/// Counters from five columns from `i`; NULL times (nothing folded yet) make them empty.
pub(super) fn counters_at(r: &Row<'_>, i: usize) -> rusqlite::Result<Counters> {
    let (first, last): (Option<i64>, Option<i64>) = (r.get(i + 3)?, r.get(i + 4)?);
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(Counters::EMPTY);
    };
    Ok(Counters {
        packets: r.get::<_, i64>(i)? as u64,
        bytes: r.get::<_, i64>(i + 1)? as u64,
        connections: r.get::<_, i64>(i + 2)? as u64,
        first_seen: Timestamp(first),
        last_seen: Timestamp(last),
    })
}

/// Every name, in id order.
pub fn load_names(conn: &Connection) -> Result<Vec<(u32, String)>, ServerError> {
    let mut stmt = conn.prepare("SELECT id, name FROM names ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The last minute folded into the edges' totals.
pub fn folded_through(conn: &Connection) -> Result<i64, ServerError> {
    Ok(
        conn.query_row("SELECT value FROM meta WHERE key = 'folded'", [], |r| {
            r.get(0)
        })?,
    )
}

/// Every edge with its whole totals, in id order: the folded part from its row plus its
/// buckets after `folded_through` (a minute or two of them). What the graph is rebuilt
/// from.
pub fn load_edges(conn: &Connection) -> Result<Vec<StoredEdge>, ServerError> {
    let mut stmt = conn.prepare(
        "SELECT id, src, dst, protocol, port, verdict, rule, node,
                packets, bytes, connections, first_seen, last_seen FROM edges ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(StoredEdge {
            src: r.get(1)?,
            dst: r.get(2)?,
            data: EdgeData {
                id: r.get::<_, i64>(0)? as u64,
                protocol: IpProtocol(r.get(3)?),
                port: r.get(4)?,
                verdict: verdict_at(r, 5)?,
                rule: r.get(6)?,
                node: r.get(7)?,
                counters: counters_at(r, 8)?,
            },
        })
    })?;
    let mut edges = rows.collect::<Result<Vec<_>, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT edge, SUM(packets), SUM(bytes), SUM(connections), MIN(first_seen), MAX(last_seen)
         FROM edge_buckets WHERE bucket > ?1 GROUP BY edge ORDER BY edge",
    )?;
    let open = stmt.query_map([folded_through(conn)?], |r| {
        Ok((r.get::<_, i64>(0)? as u64, counters_at(r, 1)?))
    })?;
    for row in open {
        let (id, c) = row?;
        // Both in id order: a binary search finds the edge.
        if let Ok(i) = edges.binary_search_by_key(&id, |e| e.data.id) {
            edges[i].data.counters.add(&c);
        }
    }
    Ok(edges)
}

/// Adds the buckets of minutes `(from, to]` to their edges' totals and to the hour and
/// day rollups, and records `to` as folded: statements inside SQLite, no row crosses
/// into Rust.
pub fn fold(conn: &Connection, from: i64, to: i64) -> Result<(), ServerError> {
    conn.prepare_cached(
        "UPDATE edges SET packets = packets + s.p, bytes = bytes + s.b,
           connections = connections + s.c,
           first_seen = MIN(COALESCE(first_seen, s.f), s.f),
           last_seen = MAX(COALESCE(last_seen, s.l), s.l)
         FROM (SELECT edge, SUM(packets) AS p, SUM(bytes) AS b, SUM(connections) AS c,
                      MIN(first_seen) AS f, MAX(last_seen) AS l
               FROM edge_buckets WHERE bucket > ?1 AND bucket <= ?2 GROUP BY edge) AS s
         WHERE edges.id = s.edge",
    )?
    .execute([from, to])?;
    super::rollup::roll_up(conn, from, to)?;
    conn.prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'folded'")?
        .execute([to])?;
    Ok(())
}

/// The newest minutes of buckets that fit in `cap` entries, walking back from the newest
/// (index range counts: the work is bounded by `cap`, not by the history on disk).
/// Returns the oldest minute kept, and whether that is every minute there is.
pub fn recent_minutes(conn: &Connection, cap: usize) -> Result<Option<(i64, bool)>, ServerError> {
    let mut before = conn.prepare("SELECT MAX(bucket) FROM edge_buckets WHERE bucket < ?1")?;
    let mut count = conn.prepare("SELECT COUNT(*) FROM edge_buckets WHERE bucket = ?1")?;
    let (mut kept, mut total) = (None, 0usize);
    let mut next: Option<i64> = before
        .query_row([i64::MAX], |r| r.get(0))
        .optional()?
        .flatten();
    while let Some(minute) = next {
        let n: i64 = count.query_row([minute], |r| r.get(0))?;
        if total + n as usize > cap {
            return Ok(kept.map(|k| (k, false)));
        }
        total += n as usize;
        kept = Some(minute);
        next = before
            .query_row([minute], |r| r.get(0))
            .optional()?
            .flatten();
    }
    Ok(kept.map(|k| (k, true)))
}

/// The buckets of minute `from` and later: (edge id, minute, counters).
pub fn load_buckets(
    conn: &Connection,
    from: i64,
) -> Result<Vec<(u64, i64, Counters)>, ServerError> {
    let mut stmt = conn.prepare(
        "SELECT edge, bucket, packets, bytes, connections, first_seen, last_seen
         FROM edge_buckets WHERE bucket >= ?1",
    )?;
    let rows = stmt.query_map([from], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, counters_at(r, 2)?))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The newest minute with any bucket (None: no flows yet).
pub fn newest_minute(conn: &Connection) -> Result<Option<i64>, ServerError> {
    Ok(conn.query_row("SELECT MAX(bucket) FROM edge_buckets", [], |r| r.get(0))?)
}
