//! Edge identity, folding past minutes, restarts, and windows from memory against the
//! store.
use super::*;
use bulkhead_api::TimeBound;

const T: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn graph(core: &Core, q: GraphQuery) -> Graph {
    match core.execute(Some(&admin()), Command::Graph(q)).unwrap() {
        Outcome::Graph(g) => g,
        other => panic!("unexpected {other:?}"),
    }
}

fn ruled(src: &str, dst: &str, rule: Option<&str>, packets: u64, at: i64) -> FlowRecord {
    FlowRecord {
        rule: rule.map(str::to_string),
        ..record(src, dst, 80, Verdict::Allowed, packets, at)
    }
}

fn open(db: &std::path::Path, recent: usize) -> Core {
    let options = CoreOptions {
        recent_buckets: recent,
        ..CoreOptions::default()
    };
    Core::new(Store::open(db).unwrap(), ADMIN, options).unwrap()
}

/// The bug: a flow recorded in learn mode (no rule) and later passed by a baseline rule
/// was two edges with the same (source, destination, protocol, port, verdict).
#[test]
fn graph_held_one_edge_twice_when_a_learned_flow_later_got_a_baseline_rule() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let baseline = "x/baseline-b ingress[0] (allow)";
    {
        let core = open(&db, 1 << 20);
        ingest(&core, vec![ruled("x/a", "x/b", None, 3, T)]);
        ingest(
            &core,
            vec![ruled("x/a", "x/b", Some(baseline), 4, T + 5 * MIN)],
        );
        // A late batch from before the baseline does not take the rule back.
        ingest(&core, vec![ruled("x/a", "x/b", None, 1, T + MIN)]);
        let g = graph(&core, GraphQuery::default());
        assert_eq!(g.edges.len(), 1, "{:?}", g.edges);
        assert_eq!(g.edges[0].rule.as_deref(), Some(baseline));
        assert_eq!(g.edges[0].packets, 8);
        let page = flows(&core, FlowQuery::default());
        assert_eq!(page.records.len(), 1);
    }
    // The same after a restart, and the edge keeps growing in place.
    let core = open(&db, 1 << 20);
    ingest(
        &core,
        vec![ruled("x/a", "x/b", Some(baseline), 2, T + 6 * MIN)],
    );
    let g = graph(&core, GraphQuery::default());
    assert_eq!(g.edges.len(), 1, "{:?}", g.edges);
    assert_eq!(
        (g.edges[0].rule.as_deref(), g.edges[0].packets),
        (Some(baseline), 10)
    );
    // A different verdict is a different edge.
    ingest(
        &core,
        vec![record("x/a", "x/b", 80, Verdict::Denied, 1, T + 7 * MIN)],
    );
    assert_eq!(graph(&core, GraphQuery::default()).edges.len(), 2);
}

/// Totals and windows are the same after a restart, whether their minutes were folded
/// into the edge rows, still open, or reached late.
#[test]
fn totals_and_windows_survive_restarts_across_folded_and_open_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    // The hour of T first: a server answering from the store answers every window
    // below as that one (old windows are read by the hour).
    let hour = T - T.rem_euclid(60 * MIN);
    let windows = [hour, T, T + 3 * MIN, T + 9 * MIN];
    let window = |core: &Core, since: i64| {
        let q = GraphQuery {
            since: Some(TimeBound::At(Timestamp(since))),
            ..GraphQuery::default()
        };
        let g = graph(core, q);
        (g.edges, g.window.unwrap().since.millis())
    };
    let snapshot = |core: &Core| {
        let mut all = vec![graph(core, GraphQuery::default()).edges];
        for since in windows {
            let (edges, covered) = window(core, since);
            assert_eq!(covered, since, "memory answers by the minute");
            all.push(edges);
        }
        all
    };
    let before = {
        let core = open(&db, 1 << 20);
        for m in 0..10 {
            let mut batch = vec![ruled("x/a", "x/b", None, 1 + m as u64, T + m * MIN)];
            if m % 3 == 0 {
                batch.push(ruled("x/c", &format!("x/d{m}"), None, 2, T + m * MIN));
            }
            ingest(&core, batch);
        }
        // Late: minute 1 is folded by now.
        ingest(&core, vec![ruled("x/c", "x/d0", None, 5, T + MIN)]);
        snapshot(&core)
    };
    assert_eq!(before[0].len(), 5);
    assert!(before[3].len() < before[2].len(), "{before:?}");
    let core = open(&db, 1 << 20);
    assert_eq!(snapshot(&core), before);
    // A server with little memory answers from the store, by the hour: the same as
    // memory did for the hour every window starts in.
    let core = open(&db, 1);
    assert_eq!(graph(&core, GraphQuery::default()).edges, before[0]);
    for since in windows {
        assert_eq!(window(&core, since), (before[1].clone(), hour), "{since}");
    }
}

/// The recent buckets in memory answer windows exactly as the store does.
#[test]
fn windows_from_memory_match_the_store() {
    let memory = core();
    let store_only = Core::new(
        Store::in_memory().unwrap(),
        ADMIN,
        CoreOptions {
            recent_buckets: 0,
            ..CoreOptions::default()
        },
    )
    .unwrap();
    for m in 0..6 {
        let batch: Vec<FlowRecord> = (0..20)
            .filter(|i| (i + m) % 4 != 0)
            .map(|i| {
                let v = [Verdict::Allowed, Verdict::Denied, Verdict::WouldDeny][i % 3];
                let dst = format!("y/w{}", i % 7);
                record(
                    "x/a",
                    &dst,
                    80 + i as u16,
                    v,
                    1 + i as u64,
                    T + m as i64 * MIN + 30_000,
                )
            })
            .collect();
        ingest(&memory, batch.clone());
        ingest(&store_only, batch);
    }
    for since in [T, T + 2 * MIN + 31_000, T + 5 * MIN] {
        let since = Some(TimeBound::At(Timestamp(since)));
        for q in [
            GraphQuery {
                since,
                ..GraphQuery::default()
            },
            GraphQuery {
                since,
                namespace: Some("y".into()),
                verdict: Some(Verdict::Denied),
                ..GraphQuery::default()
            },
            GraphQuery {
                since,
                workload: Some("y/w3".into()),
                ..GraphQuery::default()
            },
        ] {
            // The store answers by the hour: memory over the window it covered.
            let b = graph(&store_only, q.clone());
            let covered = b.window.unwrap();
            assert_eq!(covered.since.millis() % (60 * MIN), 0, "{covered:?}");
            let q = GraphQuery {
                since: Some(TimeBound::At(covered.since)),
                ..q
            };
            let a = graph(&memory, q.clone());
            assert!(!a.edges.is_empty(), "{q:?}");
            assert_eq!(a.edges, b.edges, "{q:?}");
            assert_eq!(a.window, Some(covered), "memory covers what was asked");
        }
        let fq = FlowQuery {
            since,
            limit: Some(7),
            ..FlowQuery::default()
        };
        let b = flows(&store_only, fq.clone());
        let covered = b.window.unwrap();
        let fq = FlowQuery {
            since: Some(TimeBound::At(covered.since)),
            ..fq
        };
        assert_eq!(flows(&memory, fq), b);
    }
}

/// A JSON body parsed in place gives what the typed batch gives (escaped strings
/// included), and refuses what the typed batch refuses, naming the field.
#[test]
fn json_batches_parsed_in_place_match_typed_ones() {
    let records = vec![
        ruled(
            "x/a",
            "x/b",
            Some("x/p \"quoted\" ingress[0] (allow)"),
            3,
            T,
        ),
        ruled("x/a", "10.0.0.1", None, 2, T + 1000),
    ];
    let batch = FlowBatch {
        records: records.clone(),
        dropped_records: 4,
        ..FlowBatch::default()
    };
    let (typed, json) = (core(), core());
    ingest(&typed, records);
    let body = serde_json::to_vec(&batch).unwrap();
    let run = |b: Vec<u8>| json.execute(Some(&admin()), Command::IngestJson("n1".into(), b));
    assert!(matches!(run(body).unwrap(), Outcome::Ingested(r) if r.accepted == 2));
    assert_eq!(
        graph(&json, GraphQuery::default()).edges,
        graph(&typed, GraphQuery::default()).edges
    );
    let unknown = br#"{"records":[{"source":"x/a","destination":"x/b","protocol":"TCP",
        "port":80,"verdict":"allowed","packets":1,"bytes":1,"first_seen":"2025-01-01T00:00:00Z",
        "last_seen":"2025-01-01T00:00:00Z","colour":"red"}]}"#;
    let err = run(unknown.to_vec()).unwrap_err().to_string();
    assert!(
        err.contains("records[0]") && err.contains("colour"),
        "{err}"
    );
    let broken = run(b"{\"records\": [".to_vec()).unwrap_err();
    assert_eq!(broken.status(), 400, "{broken}");
}
