//! The binary batch's fast path (sums by string index): the same answers as the names.
use super::*;
use bulkhead_api::wire::{put as varint, zigzag};

const T: i64 = 1_700_000_000_000;

/// A body by hand (the encoder never repeats a name): `strings`, then records of
/// (source, destination, rule index + 1 or 0, packets, first_seen) to x port 80, denied.
fn body(strings: &[&str], records: &[(u64, u64, u64, u64, i64)]) -> Vec<u8> {
    let mut out = b"BHF\x01\x00".to_vec();
    varint(&mut out, 0);
    varint(&mut out, 0);
    varint(&mut out, strings.len() as u64);
    for s in strings {
        varint(&mut out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
    varint(&mut out, records.len() as u64);
    let mut prev = 0;
    for &(src, dst, rule, packets, at) in records {
        for v in [src, dst, rule] {
            varint(&mut out, v);
        }
        out.extend_from_slice(&[6, 1]);
        for v in [
            80,
            packets,
            packets * 60,
            1,
            zigzag(at - prev),
            zigzag(1000),
        ] {
            varint(&mut out, v);
        }
        prev = at;
    }
    out
}

fn send(core: &Core, body: Vec<u8>) -> IngestResult {
    match core
        .execute(Some(&admin()), Command::IngestWire("n1".into(), body))
        .unwrap()
    {
        Outcome::Ingested(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

fn edges(core: &Core) -> Vec<bulkhead_api::GraphEdge> {
    match core
        .execute(Some(&admin()), Command::Graph(GraphQuery::default()))
        .unwrap()
    {
        Outcome::Graph(g) => g.edges,
        other => panic!("unexpected {other:?}"),
    }
}

fn denied(src: &str, rule: &str, packets: u64, at: i64) -> FlowRecord {
    FlowRecord {
        rule: Some(rule.into()),
        packets,
        bytes: packets * 60,
        ..record(src, "x/b", 80, Verdict::Denied, packets, at)
    }
}

#[test]
fn a_binary_batch_naming_one_workload_under_two_indexes_sums_it_as_one_edge() {
    let wire = core();
    let typed = core();
    // "x/a" at 0 and 2; the newest record's rule (r2) is the edge's.
    let strings = ["x/a", "x/b", "x/a", "r1", "r2", "x/c"];
    let r = send(
        &wire,
        body(
            &strings,
            &[
                (0, 1, 4, 1, T),
                (2, 1, 5, 2, T + 1000),
                (5, 1, 0, 4, T + 2000),
            ],
        ),
    );
    assert_eq!((r.accepted, r.edges), (3, 2));
    ingest(
        &typed,
        vec![
            denied("x/a", "r1", 1, T),
            denied("x/a", "r2", 2, T + 1000),
            FlowRecord {
                rule: None,
                ..denied("x/c", "-", 4, T + 2000)
            },
        ],
    );
    let got = edges(&wire);
    assert_eq!(got, edges(&typed));
    assert_eq!(got.len(), 2, "{got:?}");
    // A later batch with the names at other indexes reaches the same edges.
    let later = body(&["x/b", "r1", "x/a"], &[(2, 0, 2, 8, T + 3000)]);
    assert_eq!(send(&wire, later).edges, 1);
    ingest(&typed, vec![denied("x/a", "r1", 8, T + 3000)]);
    let got = edges(&wire);
    assert_eq!(got, edges(&typed));
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got.iter().map(|e| e.packets).sum::<u64>(), 15);
}

#[test]
fn a_binary_record_with_an_empty_name_is_refused_naming_it() {
    let core = core();
    let e = core
        .execute(
            Some(&admin()),
            Command::IngestWire("n1".into(), body(&["x/a", ""], &[(0, 1, 0, 1, T)])),
        )
        .err()
        .unwrap();
    assert!(e.to_string().contains("records[0].destination"), "{e}");
    assert!(edges(&core).is_empty());
}
