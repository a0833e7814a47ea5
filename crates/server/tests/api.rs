//! The HTTP API through the router: tokens, bad requests, CRUD, flows and the graph.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

#[tokio::test]
async fn tokens_decide_who_may_do_what() {
    let (app, _) = app();
    assert_eq!(
        call(&app, "GET", "/api/v1/health", None, None).await.status,
        StatusCode::OK
    );
    let missing = call(&app, "GET", "/api/v1/policies", None, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert!(missing.body["error"].as_str().unwrap().contains("Bearer"));
    let wrong = call(&app, "GET", "/api/v1/policies", Some("bh_nope"), None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body["error"].is_string());

    let created = call(
        &app,
        "POST",
        "/api/v1/tokens",
        Some(ADMIN),
        Some(json!({"name": "viewer", "role": "read-only"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let ro = created.body["token"].as_str().unwrap().to_string();
    assert!(ro.len() >= 35, "at least 128 bits of token");
    assert_eq!(
        call(&app, "GET", "/api/v1/policies", Some(&ro), None)
            .await
            .status,
        StatusCode::OK
    );
    let files = json!({"files": [{"name": "p.yaml", "text": policy_yaml("web", 80)}]});
    let write = call(
        &app,
        "PUT",
        "/api/v1/policies",
        Some(&ro),
        Some(files.clone()),
    )
    .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert!(write.body["error"].as_str().unwrap().contains("read-only"));
    assert_eq!(
        call(
            &app,
            "PUT",
            "/api/v1/workloads/x/a/mode",
            Some(&ro),
            Some(json!({"mode": "learn"}))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, "GET", "/api/v1/tokens", Some(&ro), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, "GET", "/metrics", Some(&ro), None).await.status,
        StatusCode::OK
    );

    let agent = call(
        &app,
        "POST",
        "/api/v1/tokens",
        Some(ADMIN),
        Some(json!({"name": "node-1", "role": "agent"})),
    )
    .await;
    let agent = agent.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        call(&app, "GET", "/api/v1/agents/n1/desired", Some(&agent), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "GET", "/api/v1/flows", Some(&agent), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, "GET", "/api/v1/agents/n1/desired", None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // A deleted token stops working at once.
    assert_eq!(
        call(&app, "DELETE", "/api/v1/tokens/viewer", Some(ADMIN), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, "GET", "/api/v1/policies", Some(&ro), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let audit = call(
        &app,
        "GET",
        "/api/v1/audit?action=token.delete",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(audit.body["entries"][0]["target"], "viewer");
}

#[tokio::test]
async fn policy_crud_over_http() {
    let (app, _) = app();
    let t = Some(ADMIN);
    let apply =
        |port: u16| json!({"files": [{"name": "p.yaml", "text": policy_yaml("web", port)}]});
    let c = call(&app, "PUT", "/api/v1/policies", t, Some(apply(80))).await;
    assert_eq!(
        c.body,
        json!({"revision": 1, "policies": [{"name": "x/web", "change": "created", "version": 1}]})
    );
    let dry = call(
        &app,
        "PUT",
        "/api/v1/policies",
        t,
        Some(
            json!({"files": [{"name": "p.yaml", "text": policy_yaml("web", 81)}], "dry_run": true}),
        ),
    )
    .await;
    assert_eq!(dry.body["policies"][0]["change"], "updated");
    assert_eq!(dry.body["revision"], 1, "a dry run stores nothing");
    let u = call(&app, "PUT", "/api/v1/policies", t, Some(apply(81))).await;
    assert_eq!(u.body["policies"][0]["version"], 2);
    let list = call(&app, "GET", "/api/v1/policies", t, None).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(list.body[0]["kind"], "native");
    assert_eq!(list.body[0]["file"], "p.yaml");
    let one = call(&app, "GET", "/api/v1/policies/x/web", t, None).await;
    assert!(one.body["source"].as_str().unwrap().contains("[81]"));
    assert_eq!(
        call(&app, "GET", "/api/v1/policies/x/nope", t, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let missing = call(
        &app,
        "DELETE",
        "/api/v1/policies",
        t,
        Some(json!({"names": ["x/web", "x/nope"]})),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body["error"].as_str().unwrap().contains("x/nope"));
    let d = call(&app, "DELETE", "/api/v1/policies/x/web", t, None).await;
    assert_eq!(d.body["policies"][0]["change"], "deleted");
    let audit = call(&app, "GET", "/api/v1/audit", t, None).await;
    let actions: Vec<_> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["policy.delete", "policy.update", "policy.create"]);
    let health = call(&app, "GET", "/api/v1/health", None, None).await;
    assert_eq!(health.body["revision"], 3);
}

#[tokio::test]
async fn flows_become_graph_edges_with_summed_counters() {
    let (app, _) = app();
    let t = Some(ADMIN);
    let report = json!({"workloads": [
        {"id": "x/a", "labels": {"app": "shop"}, "namespace_labels": {}, "ips": ["10.0.0.1"], "ports": [], "node": null},
        {"id": "x/b", "labels": {}, "namespace_labels": {}, "ips": ["10.0.0.2"], "ports": [], "node": null}
    ], "status": {"revision": null, "backend": "nft"}});
    assert_eq!(
        call(&app, "PUT", "/api/v1/agents/n1", t, Some(report))
            .await
            .status,
        StatusCode::OK
    );
    for _ in 0..3 {
        let batch = json!({"records": [record("x/a", "x/b", 80, "allowed", 2), record("x/a", "203.0.113.9", 443, "denied", 1)]});
        assert_eq!(
            call(&app, "POST", "/api/v1/agents/n1/flows", t, Some(batch))
                .await
                .status,
            StatusCode::OK
        );
    }
    let g = call(&app, "GET", "/api/v1/graph", t, None).await.body;
    assert_eq!(g["edges"].as_array().unwrap().len(), 2);
    assert_eq!(
        (
            g["edges"][0]["packets"].as_u64(),
            g["edges"][0]["connections"].as_u64()
        ),
        (Some(6), Some(3))
    );
    assert_eq!(g["edges"][1]["verdict"], "denied");
    let nodes = g["nodes"].as_array().unwrap();
    let ext = nodes.iter().find(|n| n["id"] == "203.0.113.9").unwrap();
    assert_eq!(ext["kind"], "external");
    let a = nodes.iter().find(|n| n["id"] == "x/a").unwrap();
    assert_eq!(
        (a["group"].as_str(), a["mode"].as_str()),
        (Some("app:x/shop"), Some("enforce"))
    );
    assert!(
        g["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|gr| gr["id"] == "app:x/shop" && gr["parent"] == "ns:x")
    );
    let denied = call(&app, "GET", "/api/v1/graph?verdict=denied", t, None)
        .await
        .body;
    assert_eq!(denied["edges"].as_array().unwrap().len(), 1);
    let around_b = call(&app, "GET", "/api/v1/flows?workload=x/b", t, None)
        .await
        .body;
    assert_eq!(around_b["records"].as_array().unwrap().len(), 1);
    assert_eq!(
        around_b["records"][0]["first_seen"],
        "2025-01-01T00:00:00.000Z"
    );
    let windowed = call(
        &app,
        "GET",
        "/api/v1/flows?since=2025-01-01T00:00:00Z&until=2025-01-01T00:05:00Z",
        t,
        None,
    )
    .await
    .body;
    assert_eq!(windowed["records"].as_array().unwrap().len(), 2);
    let later = call(
        &app,
        "GET",
        "/api/v1/flows?since=2025-01-02T00:00:00Z",
        t,
        None,
    )
    .await
    .body;
    assert!(later["records"].as_array().unwrap().is_empty());
    let metrics = call(&app, "GET", "/metrics", t, None).await.text;
    assert!(
        metrics.contains("bulkhead_flow_records_ingested_total 6"),
        "{metrics}"
    );
    assert!(metrics.contains("bulkhead_http_requests_total{method=\"POST\",route=\"/api/v1/agents/{node}/flows\",status=\"200\"} 3"), "{metrics}");
}
