//! Flow ingest, the graph, filters, windows, retries.
use super::*;

#[test]
fn flows_aggregate_into_graph_edges() {
    let core = core();
    let t = 1_700_000_000_000;
    let r = ingest(
        &core,
        vec![
            record("x/a", "x/b", 80, Verdict::Allowed, 3, t),
            record("x/a", "x/b", 80, Verdict::Allowed, 4, t + 5000),
            record("x/a", "y/c", 443, Verdict::Denied, 1, t),
        ],
    );
    assert_eq!((r.accepted, r.edges), (3, 2));
    ingest(
        &core,
        vec![record("x/a", "x/b", 80, Verdict::Allowed, 10, t + 120_000)],
    );
    let Outcome::Graph(g) = core
        .execute(Some(&admin()), Command::Graph(GraphQuery::default()))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(g.edges.len(), 2);
    let ab = &g.edges[0];
    assert_eq!(
        (
            ab.source.as_str(),
            ab.destination.as_str(),
            ab.packets,
            ab.bytes,
            ab.connections
        ),
        ("x/a", "x/b", 17, 1700, 3)
    );
    assert_eq!(
        (ab.first_seen, ab.last_seen),
        (Timestamp(t), Timestamp(t + 121_000))
    );
    assert_eq!(
        g.edges[1].rule.as_deref(),
        Some("x/web default-deny ingress")
    );
    let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["x/a", "x/b", "y/c"]);

    // Filters.
    let denied = flows(
        &core,
        FlowQuery {
            verdict: Some(Verdict::Denied),
            ..FlowQuery::default()
        },
    );
    assert_eq!(denied.records.len(), 1);
    assert_eq!(denied.records[0].node.as_deref(), Some("n1"));
    assert_eq!(
        flows(
            &core,
            FlowQuery {
                namespace: Some("y".into()),
                ..FlowQuery::default()
            }
        )
        .records
        .len(),
        1
    );
    assert_eq!(
        flows(
            &core,
            FlowQuery {
                workload: Some("x/b".into()),
                ..FlowQuery::default()
            }
        )
        .records
        .len(),
        1
    );
    // A window sums only its minutes.
    let since = bulkhead_api::TimeBound::At(Timestamp(t + 60_000));
    let recent = flows(
        &core,
        FlowQuery {
            since: Some(since),
            ..FlowQuery::default()
        },
    );
    assert_eq!(recent.records.len(), 1);
    assert_eq!(recent.records[0].packets, 10);
    // Paging walks every edge once.
    let p1 = flows(
        &core,
        FlowQuery {
            limit: Some(1),
            ..FlowQuery::default()
        },
    );
    let p2 = flows(
        &core,
        FlowQuery {
            limit: Some(1),
            cursor: p1.next_cursor,
            ..FlowQuery::default()
        },
    );
    assert_eq!(
        (p1.records.len(), p2.records.len(), p2.next_cursor),
        (1, 1, None)
    );
    assert_ne!(p1.records[0], p2.records[0]);
}

#[test]
fn retried_batches_are_counted_once() {
    let core = core();
    let batch = FlowBatch {
        instance: Some("agent-1".into()),
        sequence: Some(7),
        records: vec![record("x/a", "x/b", 80, Verdict::Allowed, 3, 1_000_000)],
        dropped_records: 2,
        lost_events: 1,
    };
    let first = core
        .execute(
            Some(&admin()),
            Command::IngestFlows("n1".into(), batch.clone()),
        )
        .unwrap();
    let again = core
        .execute(Some(&admin()), Command::IngestFlows("n1".into(), batch))
        .unwrap();
    assert!(matches!(
        first,
        Outcome::Ingested(IngestResult {
            duplicate: false,
            ..
        })
    ));
    assert!(matches!(
        again,
        Outcome::Ingested(IngestResult {
            duplicate: true,
            ..
        })
    ));
    assert_eq!(flows(&core, FlowQuery::default()).records[0].packets, 3);
    let m = core.render_metrics().unwrap();
    assert!(m.contains("bulkhead_flow_records_dropped_total 2\n"), "{m}");
    assert!(m.contains("bulkhead_kernel_events_lost_total 1\n"), "{m}");
}
