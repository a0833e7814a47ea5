//! Old windows over data spread across hours: the worst case's records, a batch every
//! 15 minutes (about five hours), so a window starting mid-hour reaches whole hours and
//! the hour rollups, and answered by a server whose memory holds only the newest minute
//! (the store's path) and by one holding them all (memory, minute-exact).

use super::{BATCH, Res};
use crate::work::{
    admin, batches, core_at, core_with, core_with_hours, ingest, inventory, ms, timed,
};
use bulkhead_api::{GraphQuery, TimeBound, Timestamp};
use bulkhead_server::core::{Command, Core, Outcome};
use std::fmt::Write as _;
use std::path::Path;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const STEP: i64 = 15 * MIN;

/// Writes the section's table into `o`.
pub fn old_windows(dir: &Path, total: usize, o: &mut String) -> Res<()> {
    let db = dir.join("old.db");
    let all: Vec<_> = batches(total, BATCH)
        .into_iter()
        .enumerate()
        .map(|(b, mut records)| {
            // Re-stamped: batch b at base + b x 15 minutes, in one minute.
            for r in &mut records {
                let at = r.first_seen.millis() - b as i64 * 10_000 + b as i64 * STEP;
                r.first_seen = Timestamp(at);
                r.last_seen = Timestamp(at + 500);
            }
            records
        })
        .collect();
    let first = all
        .first()
        .and_then(|b| b.first())
        .map(|r| r.first_seen.millis())
        .ok_or("no records")?;
    let span = all.len() as i64 * STEP;
    {
        let core = core_at(&db)?;
        for b in all {
            ingest(&core, b)?;
        }
    }
    // Restarted: one with memory for all the minutes, one for the newest batch's only
    // (and the hours in memory), one with no hours in memory either (the store's).
    let memory = core_at(&db)?;
    let small = core_with(&db, BATCH)?;
    let bare = core_with_hours(&db, BATCH, 0)?;
    inventory(&memory)?;
    inventory(&small)?;
    inventory(&bare)?;
    // Mid-hour, 7.5 minutes after the first batch (never on the hour), and on the hour.
    let mid = first + 7 * MIN + 30_000;
    let aligned = mid - mid.rem_euclid(HOUR) + HOUR;
    let q = |since: i64| GraphQuery {
        since: Some(TimeBound::At(Timestamp(since))),
        ..GraphQuery::default()
    };
    let run = |core: &Core, since: i64| {
        timed(5, || {
            Ok(core.execute(Some(&admin()), Command::Graph(q(since)))?)
        })
    };
    let covered = |core: &Core, since: i64| -> Res<String> {
        let Outcome::Graph(g) = core.execute(Some(&admin()), Command::Graph(q(since)))? else {
            return Err("not a graph".into());
        };
        let w = g.window.ok_or("no window")?;
        Ok(format!("{} edges, from {}", g.edges.len(), w.since))
    };
    writeln!(
        o,
        "\n## Old windows ({total} records, a batch every 15 minutes: {:.1} hours; median of 5)\n\n| query | wall ms | CPU ms | answer |\n|---|---:|---:|---|",
        span as f64 / HOUR as f64
    )?;
    for (name, core, since) in [
        (
            "whole graph since mid-hour, from memory (minute-exact)",
            &memory,
            mid,
        ),
        (
            "the same window, minutes not in memory: by the hour, hours in memory",
            &small,
            mid,
        ),
        (
            "the same window, no hours in memory either: the store's hour rollups",
            &bare,
            mid,
        ),
        (
            "whole graph since an hour start, from memory (minute-exact)",
            &memory,
            aligned,
        ),
        (
            "the same window, minutes not in memory: hours in memory",
            &small,
            aligned,
        ),
        (
            "the same window, no hours in memory either: the store's hour rollups",
            &bare,
            aligned,
        ),
    ] {
        let (wall, cpu) = run(core, since)?;
        writeln!(
            o,
            "| {name} | {} | {} | {} |",
            ms(wall),
            ms(cpu),
            covered(core, since)?
        )?;
    }
    Ok(())
}
