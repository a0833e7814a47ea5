//! The binary flow body (bulkhead_api::wire) beside JSON on `POST /agents/{node}/flows`.

mod common;

use axum::http::StatusCode;
use bulkhead_api::{FlowBatch, FlowRecord, IpProtocol, Timestamp, Verdict, wire};
use common::*;

fn batch(sequence: u64) -> FlowBatch {
    let rec = |i: u16| FlowRecord {
        source: format!("x/a{}", i % 3),
        destination: "x/b".into(),
        protocol: IpProtocol::TCP,
        port: 80 + i % 4,
        verdict: Verdict::ALL[usize::from(i % 3)],
        rule: (!i.is_multiple_of(3)).then(|| "x/p ingress[0] (deny)".to_string()),
        packets: u64::from(i) + 1,
        bytes: 60 * (u64::from(i) + 1),
        connections: 1,
        first_seen: Timestamp(1_700_000_000_000 + i64::from(i) * 1_000),
        last_seen: Timestamp(1_700_000_000_500 + i64::from(i) * 1_000),
        node: None,
    };
    FlowBatch {
        instance: Some("agent-1".into()),
        sequence: Some(sequence),
        records: (0..200).map(rec).collect(),
        dropped_records: 3,
        lost_events: 1,
    }
}

const FLOWS: &str = "/api/v1/agents/n1/flows";

#[tokio::test]
async fn binary_and_json_batches_store_the_same_flows() {
    let (json_app, _) = app();
    let (wire_app, _) = app();
    let t = Some(ADMIN);
    for seq in [1, 2] {
        let b = batch(seq);
        let text = serde_json::to_vec(&b).unwrap();
        let a = bytes(&json_app, "POST", FLOWS, t, Some(text), "application/json").await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let body = wire::encode(&b);
        let w = bytes(&wire_app, "POST", FLOWS, t, Some(body), wire::CONTENT_TYPE).await;
        assert_eq!(w.status, StatusCode::OK, "{}", w.text);
        assert_eq!(a.body, w.body);
        assert_eq!(w.body["accepted"], 200);
    }
    // A retry of a stored batch is recognised in either encoding.
    let again = wire::encode(&batch(2));
    let dup = bytes(&wire_app, "POST", FLOWS, t, Some(again), wire::CONTENT_TYPE).await;
    assert_eq!(dup.body["duplicate"], true, "{}", dup.text);
    for path in ["/api/v1/flows", "/api/v1/graph", "/api/v1/agents"] {
        let mut a = call(&json_app, "GET", path, t, None).await;
        let mut w = call(&wire_app, "GET", path, t, None).await;
        assert_eq!(a.status, StatusCode::OK);
        // When the server received the batch is the only difference there may be.
        for x in [&mut a.body, &mut w.body] {
            if let Some(agent) = x.get_mut(0) {
                agent["last_seen"].take();
            }
        }
        assert_eq!(a.body, w.body, "{path}");
    }
    let flows = call(&wire_app, "GET", "/api/v1/flows", t, None).await;
    assert_eq!(flows.body["records"].as_array().unwrap().len(), 12);
}

#[tokio::test]
async fn a_broken_binary_batch_is_a_422_naming_byte_and_field_and_stores_nothing() {
    let (app, _) = app();
    let t = Some(ADMIN);
    let body = wire::encode(&batch(1));
    let cut = body[..body.len() - 3].to_vec();
    let a = bytes(&app, "POST", FLOWS, t, Some(cut), wire::CONTENT_TYPE).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let error = a.body["error"].as_str().unwrap();
    assert!(error.starts_with("byte "), "{error}");
    assert!(error.contains("records[199]."), "{error}");
    let json = bytes(
        &app,
        "POST",
        FLOWS,
        t,
        Some(b"{}".to_vec()),
        wire::CONTENT_TYPE,
    )
    .await;
    assert_eq!(json.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(json.text.contains("magic"), "{}", json.text);
    let flows = call(&app, "GET", "/api/v1/flows", t, None).await;
    assert_eq!(flows.body["records"], serde_json::json!([]));
    let agents = call(&app, "GET", "/api/v1/agents", t, None).await;
    assert_eq!(agents.body, serde_json::json!([]));
}

#[tokio::test]
async fn a_flow_body_of_another_type_is_a_415_naming_both_types() {
    let (app, _) = app();
    let body = Some(wire::encode(&batch(1)));
    let a = bytes(&app, "POST", FLOWS, Some(ADMIN), body, "text/plain").await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let error = a.body["error"].as_str().unwrap();
    assert!(error.contains("application/json") && error.contains(wire::CONTENT_TYPE));
    // The token rules hold for binary bodies too.
    let body = Some(wire::encode(&batch(1)));
    let none = bytes(&app, "POST", FLOWS, None, body, wire::CONTENT_TYPE).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
}
