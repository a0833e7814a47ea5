//! What a restarted server loads into its in-memory hours (graph::recent with hour
//! periods): the newest hours of `edge_hours` that fit, and the buckets not folded yet.

use super::edges::counters_at;
use super::flows::Counters;
use crate::error::ServerError;
use rusqlite::{Connection, OptionalExtension};

/// The oldest of the newest hours whose rows fit in `cap` entries, and whether that is
/// every hour there is (`(i64::MIN, true)` when there are none; None: not even the
/// newest fits).
pub fn recent_hours(conn: &Connection, cap: usize) -> Result<Option<(i64, bool)>, ServerError> {
    let mut before = conn.prepare("SELECT MAX(hour) FROM edge_hours WHERE hour < ?1")?;
    let mut count = conn.prepare("SELECT COUNT(*) FROM edge_hours WHERE hour = ?1")?;
    let (mut kept, mut total) = (None, 0usize);
    let prev = |before: &mut rusqlite::Statement<'_>, h: i64| -> Result<Option<i64>, ServerError> {
        Ok(before.query_row([h], |r| r.get(0)).optional()?.flatten())
    };
    let mut next = prev(&mut before, i64::MAX)?;
    if next.is_none() {
        return Ok(Some((i64::MIN, true)));
    }
    while let Some(hour) = next {
        let n: i64 = count.query_row([hour], |r| r.get(0))?;
        if total + n as usize > cap {
            return Ok(kept.map(|k| (k, false)));
        }
        total += n as usize;
        kept = Some(hour);
        next = prev(&mut before, hour)?;
    }
    Ok(kept.map(|k| (k, true)))
}

/// Hour rows (edge id, hour, counters) of hours at or after `from`: folded minutes only.
pub fn load_hours(conn: &Connection, from: i64) -> Result<Vec<(u64, i64, Counters)>, ServerError> {
    let mut stmt = conn.prepare(
        "SELECT edge, hour, packets, bytes, connections, first_seen, last_seen
         FROM edge_hours WHERE hour >= ?1",
    )?;
    let rows = stmt.query_map([from], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, counters_at(r, 2)?))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
