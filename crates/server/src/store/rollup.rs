//! Per-hour and per-day sums of the minute buckets (`edge_hours`, `edge_days`), so a
//! time window older than the memory holds reads minute buckets only for its two partial
//! hours, hour rows for its partial days, and one row per edge and day for the rest,
//! instead of every minute (docs/bench/server.md).
//!
//! Rollups hold folded minutes only: they grow when minutes are folded into the edges'
//! totals (`fold`, once a minute of traffic) and when a late batch reaches a folded
//! minute. Retention deletes whole UTC days from every level, so all three always agree.

use super::edges::counters_at;
use super::flows::{Counters, int};
use crate::error::ServerError;
use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, ValueRef};

pub const HOUR: i64 = 60;
pub const DAY: i64 = 24 * 60;

/// The levels: table, its period column, minutes per period.
const MINUTES: (&str, &str, i64) = ("edge_buckets", "bucket", 1);
const HOURS: (&str, &str, i64) = ("edge_hours", "hour", HOUR);
const DAYS: (&str, &str, i64) = ("edge_days", "day", DAY);

/// Adds the buckets of minutes `(from, to]` to their hour rows, and recomputes the day
/// rows of days completed by `to` from their hours (part of `fold`, so once a minute
/// while flows arrive: what this costs is paid by ingest, docs/bench/server.md).
pub(super) fn roll_up(conn: &Connection, from: i64, to: i64) -> Result<(), ServerError> {
    // One minute at a time: its buckets are read in (minute, edge) order and are already
    // one row per (hour, edge), so no sort and no GROUP BY. A fold is usually a minute.
    let mut hours = conn.prepare_cached(&format!(
        "INSERT INTO edge_hours (edge, hour, packets, bytes, connections, first_seen, last_seen)
         SELECT edge, ?2, packets, bytes, connections, first_seen, last_seen
         FROM edge_buckets WHERE bucket = ?1 {ADD}"
    ))?;
    // A fold after a long pause starts from the first minute there is.
    let first: Option<i64> = conn
        .prepare_cached("SELECT MIN(bucket) FROM edge_buckets WHERE bucket > ?1")?
        .query_row([from], |r| r.get(0))?;
    let start = first.map_or(to + 1, |f| f.max(from + 1));
    for minute in start..=to {
        hours.execute([minute, minute.div_euclid(HOUR)])?;
    }
    // Days whose last minute was folded now: their rows are their hours' sums, replaced
    // whole (so a day row some late batch started early is made right here).
    let (d0, d1) = ((from + 1).div_euclid(DAY), (to + 1).div_euclid(DAY));
    if d1 > d0 {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO edge_days
               (edge, day, packets, bytes, connections, first_seen, last_seen)
             SELECT edge, hour / 24, SUM(packets), SUM(bytes), SUM(connections),
                    MIN(first_seen), MAX(last_seen)
             FROM edge_hours WHERE hour >= ?1 AND hour < ?2 GROUP BY hour / 24, edge",
        )?
        .execute([d0 * 24, d1 * 24])?;
    }
    Ok(())
}

const ADD: &str = "ON CONFLICT DO UPDATE SET packets = packets + excluded.packets,
    bytes = bytes + excluded.bytes, connections = connections + excluded.connections,
    first_seen = MIN(first_seen, excluded.first_seen),
    last_seen = MAX(last_seen, excluded.last_seen)";

/// Adds a late batch's counters of folded minutes ((edge id, minute, counters)) to
/// their hour and day rows. Rare: a batch reaching minutes already folded.
pub(super) fn add_late(
    conn: &Connection,
    late: &[(u64, i64, Counters)],
) -> Result<(), ServerError> {
    for (table, col, per) in [HOURS, DAYS] {
        let mut stmt = conn.prepare_cached(&format!(
            "INSERT INTO {table} (edge, {col}, packets, bytes, connections, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) {ADD}"
        ))?;
        for (id, minute, c) in late {
            let ms = |v: i64| ToSqlOutput::Borrowed(ValueRef::Integer(v));
            stmt.execute([
                int(*id),
                ms(minute / per),
                int(c.packets),
                int(c.bytes),
                int(c.connections),
                ms(c.first_seen.millis()),
                ms(c.last_seen.millis()),
            ])?;
        }
    }
    Ok(())
}

/// Deletes every bucket and rollup of minutes before `minute`, a day boundary.
pub fn prune(conn: &Connection, minute: i64) -> Result<(), ServerError> {
    debug_assert_eq!(minute % DAY, 0);
    for (table, col, per) in [MINUTES, HOURS, DAYS] {
        conn.prepare_cached(&format!("DELETE FROM {table} WHERE {col} < ?1"))?
            .execute([minute / per])?;
    }
    Ok(())
}

/// Ranges of periods to read for the minutes `[lo, hi]`: whole days, the whole hours
/// around them, the minutes around those. At most two ranges per level.
fn plan(lo: i64, hi: i64) -> Vec<((&'static str, &'static str, i64), i64, i64)> {
    let mut out = Vec::new();
    split(lo, hi, &[MINUTES, HOURS, DAYS], &mut out);
    out
}

/// Splits `[lo, hi]` (in units of `levels[0]`) into the whole periods of the next level
/// and the ends that are not, recursively.
fn split(
    lo: i64,
    hi: i64,
    levels: &[(&'static str, &'static str, i64)],
    out: &mut Vec<((&'static str, &'static str, i64), i64, i64)>,
) {
    if lo > hi {
        return;
    }
    let [this, next, ..] = levels else {
        if let [this] = levels {
            out.push((*this, lo, hi));
        }
        return;
    };
    let k = next.2 / this.2;
    // Whole periods of the next level: [first, last] in its units.
    let (first, last) = (
        lo.div_euclid(k) + i64::from(lo.rem_euclid(k) != 0),
        (hi + 1).div_euclid(k) - 1,
    );
    if first > last {
        out.push((*this, lo, hi));
        return;
    }
    if lo < first * k {
        out.push((*this, lo, first * k - 1));
    }
    if (last + 1) * k <= hi {
        out.push((*this, (last + 1) * k, hi));
    }
    split(first, last, &levels[1..], out);
}

/// Each edge's counters over the folded minutes `[lo, hi]` (all at or before the last
/// folded minute), added into `sums` by edge id (ids beyond its length are ignored).
pub fn sum_rolled(
    conn: &Connection,
    lo: i64,
    hi: i64,
    sums: &mut [Option<Counters>],
) -> Result<(), ServerError> {
    for ((table, col, _), a, b) in plan(lo, hi) {
        sum_range(conn, table, col, a, b, sums)?;
    }
    Ok(())
}

/// Adds the rows of `table` with `col` in `[a, b]` into `sums`: a range of the primary
/// key, read in order, no join (the names are the in-memory graph's).
pub(super) fn sum_range(
    conn: &Connection,
    table: &str,
    col: &str,
    a: i64,
    b: i64,
    sums: &mut [Option<Counters>],
) -> Result<(), ServerError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT edge, packets, bytes, connections, first_seen, last_seen
         FROM {table} WHERE {col} BETWEEN ?1 AND ?2"
    ))?;
    add_rows(stmt.query([a, b])?, sums)
}

/// Adds rows of (edge id, five counter columns) into `sums` by id.
pub(super) fn add_rows(
    mut rows: rusqlite::Rows<'_>,
    sums: &mut [Option<Counters>],
) -> Result<(), ServerError> {
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let c = counters_at(r, 1)?;
        if let Some(slot) = usize::try_from(id).ok().and_then(|i| sums.get_mut(i)) {
            match slot {
                Some(have) => have.add(&c),
                None => *slot = Some(c),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(lo: i64, hi: i64) -> Vec<(&'static str, i64, i64)> {
        plan(lo, hi)
            .into_iter()
            .map(|((t, _, _), a, b)| (t, a, b))
            .collect()
    }

    #[test]
    fn a_range_is_read_from_the_coarsest_whole_periods() {
        // Inside one hour: minutes only.
        assert_eq!(plan_of(61, 100), [("edge_buckets", 61, 100)]);
        // Exactly one hour.
        assert_eq!(plan_of(60, 119), [("edge_hours", 1, 1)]);
        // Two days and a bit on each side.
        let (lo, hi) = (DAY - 90, 3 * DAY + 61);
        assert_eq!(
            plan_of(lo, hi),
            [
                ("edge_buckets", DAY - 90, DAY - 61),
                ("edge_buckets", 3 * DAY + 60, 3 * DAY + 61),
                ("edge_hours", 23, 23),
                ("edge_hours", 72, 72),
                ("edge_days", 1, 2),
            ]
        );
        // Every minute is read exactly once.
        for (lo, hi) in [(0, 5000), (59, 60), (1439, 2880), (7, 7), (100, 99)] {
            let mut covered = 0;
            for ((_, _, per), a, b) in plan(lo, hi) {
                covered += (b - a + 1) * per;
            }
            assert_eq!(covered, (hi - lo + 1).max(0), "{lo}..{hi}");
        }
    }
}
