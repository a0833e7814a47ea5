//! Windows older than memory, answered from the hour and day rollups; retention; the
//! migration that builds the rollups of an existing database.
use super::*;
use bulkhead_api::TimeBound;
use rusqlite::Connection;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// A day boundary (2023-11-15T00:00Z), so the data below crosses hours and days.
const D0: i64 = 1_700_006_400_000;

fn graph(core: &Core, since: i64) -> Vec<bulkhead_api::GraphEdge> {
    let q = GraphQuery {
        since: Some(TimeBound::At(Timestamp(since))),
        ..GraphQuery::default()
    };
    match core.execute(Some(&admin()), Command::Graph(q)).unwrap() {
        Outcome::Graph(g) => g.edges,
        other => panic!("unexpected {other:?}"),
    }
}

fn graph_covered(
    core: &Core,
    since: i64,
) -> (Vec<bulkhead_api::GraphEdge>, bulkhead_api::CoveredWindow) {
    let q = GraphQuery {
        since: Some(TimeBound::At(Timestamp(since))),
        ..GraphQuery::default()
    };
    match core.execute(Some(&admin()), Command::Graph(q)).unwrap() {
        Outcome::Graph(g) => (g.edges, g.window.unwrap()),
        other => panic!("unexpected {other:?}"),
    }
}

/// The graph takes no `until`: flow pages do, with the same counters.
fn page(core: &Core, since: i64, until: i64) -> FlowPage {
    let q = FlowQuery {
        since: Some(TimeBound::At(Timestamp(since))),
        until: Some(TimeBound::At(Timestamp(until))),
        ..FlowQuery::default()
    };
    flows(core, q)
}

fn open(db: &std::path::Path, recent: usize, retention: Option<u64>) -> Core {
    open_hours(
        db,
        recent,
        crate::graph::recent::DEFAULT_HOURS_CAP,
        retention,
    )
}

/// With at most `hours` (edge, hour) sums in memory.
fn open_hours(db: &std::path::Path, recent: usize, hours: usize, retention: Option<u64>) -> Core {
    let options = CoreOptions {
        recent_buckets: recent,
        recent_hours: hours,
        retention: retention.map(|d| std::time::Duration::from_secs(d * 86_400)),
        ..CoreOptions::default()
    };
    Core::new(Store::open(db).unwrap(), ADMIN, options).unwrap()
}

/// Three days of traffic, every 7 minutes, some records spanning a minute boundary, and
/// a late batch into a folded hour.
fn history(core: &Core) {
    for step in 0..(3 * DAY / (7 * MIN)) {
        let at = D0 - 5 * HOUR + step * 7 * MIN + 29_500;
        let batch = (0..6)
            .filter(|i| (step + i) % 4 != 0)
            .map(|i| {
                record(
                    "x/a",
                    &format!("y/w{i}"),
                    80,
                    Verdict::ALL[(i % 3) as usize],
                    1 + i as u64,
                    at,
                )
            })
            .collect();
        ingest(core, batch);
    }
    ingest(
        core,
        vec![record(
            "x/a",
            "y/w1",
            80,
            Verdict::Denied,
            100,
            D0 + 2 * HOUR,
        )],
    );
}

#[test]
fn windows_read_from_rollups_match_memory_across_hours_and_days() {
    let dir = tempfile::tempdir().unwrap();
    let (mem_db, store_db) = (dir.path().join("m.db"), dir.path().join("s.db"));
    let memory = open(&mem_db, 1 << 20, None);
    let small = open(&store_db, 1 << 20, None);
    history(&memory);
    history(&small);
    drop(small);
    // Restarted holding only the newest minute: every window is read by the hour, from
    // the store's rollups (no hours in memory), from the hours in memory (all of them),
    // or from both (the newest few hours in memory).
    for hours in [0, 1 << 20, 40] {
        let stored = open_hours(&store_db, 1, hours, None);
        let horizon = stored.lock().hours.horizon();
        assert_eq!(
            horizon.is_some(),
            hours < 1 << 20,
            "{hours} hours: {horizon:?}"
        );
        by_the_hour(&memory, &stored, hours);
    }
}

/// `stored` answers windows by the hour: as `memory` over the hours it says it covers.
fn by_the_hour(memory: &Core, stored: &Core, hours: usize) {
    let starts = [
        D0 - 5 * HOUR,
        D0 - 3 * HOUR - 17 * MIN - 100,
        D0 - 1,
        D0,
        D0 + 30_000,
        D0 + 2 * HOUR,
        D0 + DAY + 59 * MIN + 59_999,
        D0 + 2 * DAY - 7 * MIN,
    ];
    for since in starts {
        // Old windows are answered by the hour: the same as memory's minute-exact
        // answer over the window the answer says it covers, its start on the hour.
        let (edges, covered) = graph_covered(stored, since);
        let hour = since.div_euclid(HOUR) * HOUR;
        assert_eq!(
            covered.since,
            Timestamp(hour),
            "since {since}, {hours} hours"
        );
        assert_eq!(covered.until, None);
        let (exact, asked) = graph_covered(memory, hour);
        assert_eq!(asked.since, Timestamp(hour), "memory answers minute-exact");
        assert!(!exact.is_empty(), "{since}");
        assert_eq!(exact, edges, "since {since}, {hours} hours");
        if since == hour {
            assert_eq!(graph(memory, since), edges, "hour-aligned {since}");
        }
        for until in [
            since + 3 * HOUR + 1,
            since + DAY + 61 * MIN,
            since + 2 * DAY,
            hour + 3 * HOUR - 1,
        ] {
            let got = page(stored, since, until);
            let w = got.window.unwrap();
            assert_eq!(w.since, Timestamp(hour), "{since}..{until}");
            // An old end moves to its hour's end (the last minute the store holds at
            // most); an end in memory's minutes stays.
            let end = until.div_euclid(HOUR) * HOUR + HOUR - 1;
            let w_until = w.until.unwrap().millis();
            assert!(
                w_until == until || w_until == end,
                "{since}..{until}: {w:?}"
            );
            let want = page(memory, hour, w_until);
            assert!(!want.records.is_empty(), "{since}..{until}");
            assert_eq!(want.records, got.records, "{since}..{until}, {hours} hours");
            if since == hour && (until + 1) % HOUR == 0 {
                assert_eq!(w_until, until, "an hour-aligned window is not widened");
                assert_eq!(page(memory, since, until).records, got.records);
            }
        }
    }
}

#[test]
fn retention_prunes_whole_days_of_buckets_and_rollups_but_no_total() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let today = Timestamp::now().millis().div_euclid(DAY) * DAY;
    let core = open(&db, 1 << 20, Some(2));
    // One record a day for five days, then one now (which folds the past and prunes).
    let days = (1..=5).rev().map(|d| today - d * DAY + HOUR);
    for at in days.chain([Timestamp::now().millis() - 1000]) {
        let r = record("x/a", "x/b", 80, Verdict::Allowed, 1, at);
        ingest(&core, vec![r]);
    }
    let totals = |c: &Core| {
        let q = GraphQuery::default();
        match c.execute(Some(&admin()), Command::Graph(q)).unwrap() {
            Outcome::Graph(g) => g.edges[0].packets,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(totals(&core), 6, "totals keep what retention pruned");
    // Kept: the two days before today's (the cutoff is a day boundary) and today.
    let window = |c: &Core| graph(c, today - 10 * DAY)[0].packets;
    assert_eq!(window(&core), 3);
    let conn = Connection::open(&db).unwrap();
    for (table, col, per) in [
        ("edge_buckets", "bucket", 1),
        ("edge_hours", "hour", 60),
        ("edge_days", "day", 1440),
    ] {
        let count = |cond: &str| -> i64 {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE {col} {cond}");
            conn.query_row(&sql, [(today - 2 * DAY) / MIN / per], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(count("< ?1"), 0, "{table}");
        // Days -2 and -1 (today's record is in a minute not folded yet).
        let kept: i64 = conn
            .query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE {col} >= ?1 AND {col} < ?2"),
                [(today - 2 * DAY) / MIN / per, today / MIN / per],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 2, "{table}");
    }
    drop(core);
    // The same after a restart; a restart with a shorter retention prunes at start.
    assert_eq!(window(&open(&db, 1, Some(2))), 3);
    let core = open(&db, 1 << 20, Some(1));
    assert_eq!((window(&core), totals(&core)), (2, 6));
    let short = CoreOptions {
        retention: Some(std::time::Duration::from_secs(3600)),
        ..CoreOptions::default()
    };
    let e = Core::new(Store::in_memory().unwrap(), ADMIN, short)
        .err()
        .unwrap();
    assert!(e.to_string().contains("at least 1d"), "{e}");
}

/// A database of schema version 2 (before rollups) opens, keeps its flows, and answers
/// old windows as before.
#[test]
fn a_version_2_database_gets_rollups_of_its_folded_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v2.db");
    let (before, totals) = {
        let core = open(&db, 1 << 20, None);
        history(&core);
        let q = GraphQuery::default();
        let Outcome::Graph(g) = core.execute(Some(&admin()), Command::Graph(q)).unwrap() else {
            panic!("not a graph")
        };
        (graph(&core, D0 - 3 * HOUR), g.edges)
    };
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch("DROP TABLE edge_hours; DROP TABLE edge_days; PRAGMA user_version = 2;")
        .unwrap();
    drop(conn);
    let core = open(&db, 1, None);
    assert_eq!(graph(&core, D0 - 3 * HOUR), before);
    let Outcome::Graph(g) = core
        .execute(Some(&admin()), Command::Graph(GraphQuery::default()))
        .unwrap()
    else {
        panic!("not a graph")
    };
    assert_eq!(g.edges, totals);
}
