//! Bad requests answered with JSON errors naming what is wrong; the web UI's files.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

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
