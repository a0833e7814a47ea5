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
async fn bad_requests_say_what_is_wrong() {
    let (app, _) = app();
    let t = Some(ADMIN);
    let broken = raw(
        &app,
        "PUT",
        "/api/v1/policies",
        t,
        Some("{\"files\": ["),
        "application/json",
    )
    .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert!(
        broken.body["error"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    let unknown = call(
        &app,
        "PUT",
        "/api/v1/policies",
        t,
        Some(json!({"files": [], "force": true})),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown.body["error"].as_str().unwrap().contains("force"),
        "{}",
        unknown.text
    );
    let wrong_type = call(
        &app,
        "PUT",
        "/api/v1/workloads/x/a/mode",
        t,
        Some(json!({"mode": "lurk"})),
    )
    .await;
    assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong_type.body["error"]
            .as_str()
            .unwrap()
            .starts_with("mode: unknown variant `lurk`"),
        "{}",
        wrong_type.text
    );
    let batch = json!({"records": [record("x/a", "x/b", 80, "allowed", 1), record("x/a", "x/b", 80, "maybe", 1)]});
    let bad_record = call(&app, "POST", "/api/v1/agents/n1/flows", t, Some(batch)).await;
    assert!(
        bad_record.body["error"]
            .as_str()
            .unwrap()
            .starts_with("records[1].verdict:"),
        "{}",
        bad_record.text
    );
    let not_json = raw(
        &app,
        "PUT",
        "/api/v1/policies",
        t,
        Some("files: []"),
        "text/yaml",
    )
    .await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let bad_param = call(&app, "GET", "/api/v1/flows?limit=lots", t, None).await;
    assert_eq!(bad_param.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_param.body["error"]
            .as_str()
            .unwrap()
            .contains("`limit`"),
        "{}",
        bad_param.text
    );
    let bad_verdict = call(&app, "GET", "/api/v1/flows?verdict=maybe", t, None).await;
    assert!(
        bad_verdict.body["error"]
            .as_str()
            .unwrap()
            .contains("`verdict`"),
        "{}",
        bad_verdict.text
    );
    let unknown_param = call(&app, "GET", "/api/v1/graph?colour=red", t, None).await;
    assert_eq!(unknown_param.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown_param.body["error"]
            .as_str()
            .unwrap()
            .contains("colour")
    );
    let bad_id = call(&app, "GET", "/api/v1/workloads/X_Y/a", t, None).await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        call(&app, "GET", "/api/v1/nothing", t, None).await.status,
        StatusCode::NOT_FOUND
    );
    let wrong_method = call(&app, "POST", "/api/v1/graph", t, None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong_method.body["error"].is_string());

    // Invalid policy YAML: 422 with every problem at file:line:col.
    let bad = policy_yaml("web", 80).replace("ports: [80]", "ports: [80000]");
    let invalid = call(
        &app,
        "PUT",
        "/api/v1/policies",
        t,
        Some(json!({"files": [{"name": "web.yaml", "text": bad}]})),
    )
    .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let detail = invalid.body["details"][0].as_str().unwrap();
    assert!(detail.starts_with("web.yaml:11:"), "{detail}");
    assert!(invalid.body["error"].as_str().unwrap().contains(detail));

    // Oversize bodies: 1 MiB for policies, more for flow batches.
    let big = "#".repeat(1 << 20);
    let huge = call(
        &app,
        "PUT",
        "/api/v1/policies",
        t,
        Some(json!({"files": [{"name": "big.yaml", "text": big}]})),
    )
    .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(huge.body["error"].is_string());
    let records: Vec<_> = (0..12_000)
        .map(|i| record("x/a", "x/b", (i % 1000) as u16, "allowed", 1))
        .collect();
    let flows = call(
        &app,
        "POST",
        "/api/v1/agents/n1/flows",
        t,
        Some(json!({"records": records})),
    )
    .await;
    assert_eq!(flows.status, StatusCode::OK, "{}", flows.text);
    assert_eq!(flows.body["accepted"], 12_000);
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

#[tokio::test]
async fn the_web_ui_is_served_beside_the_api() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(dir.path().join("index.html"), "<html>ui</html>").unwrap();
    std::fs::write(dir.path().join("assets/app.js"), "let x = 1;").unwrap();
    let (_, core) = app();
    let app = bulkhead_server::http::router_with_ui(core, Some(dir.path().to_path_buf()));
    let index = raw(&app, "GET", "/", None, None, "").await;
    assert_eq!(
        (index.status, index.text.as_str()),
        (StatusCode::OK, "<html>ui</html>")
    );
    let js = raw(&app, "GET", "/assets/app.js", None, None, "").await;
    assert_eq!(js.text, "let x = 1;");
    let spa = raw(&app, "GET", "/graph/x", None, None, "").await;
    assert_eq!(spa.text, "<html>ui</html>", "UI routes get the index");
    assert_eq!(
        raw(&app, "GET", "/assets/none.js", None, None, "")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        raw(&app, "GET", "/../Cargo.toml", None, None, "")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let api = raw(&app, "GET", "/api/v1/nothing", Some(ADMIN), None, "").await;
    assert!(api.body["error"].as_str().unwrap().starts_with("no route"));
    assert_eq!(
        raw(&app, "GET", "/api/v1/policies", None, None, "")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}
