//! What the web UI asks before offering a change: who the token is, and which stored
//! policies select a workload (and isolate which direction).

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

#[tokio::test]
async fn session_names_the_token_and_its_role() {
    let (app, _) = app();
    let me = call(&app, "GET", "/api/v1/session", Some(ADMIN), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body, json!({"name": "admin", "role": "admin"}));

    for (name, role) in [("viewer", "read-only"), ("node-1", "agent")] {
        let created = call(
            &app,
            "POST",
            "/api/v1/tokens",
            Some(ADMIN),
            Some(json!({"name": name, "role": role})),
        )
        .await;
        let token = created.body["token"].as_str().unwrap().to_string();
        let me = call(&app, "GET", "/api/v1/session", Some(&token), None).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        assert_eq!(me.body, json!({"name": name, "role": role}));
    }
    let anon = call(&app, "GET", "/api/v1/session", None, None).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn workload_policies_list_selecting_policies_and_isolated_directions() {
    let (app, _) = app();
    let t = Some(ADMIN);
    let report = json!({"workloads": [
        {"id": "x/web", "labels": {"app": "web"}, "namespace_labels": {"kubernetes.io/metadata.name": "x"}, "ips": ["10.0.0.1"], "ports": [], "node": null},
        {"id": "x/db", "labels": {"app": "db"}, "namespace_labels": {"kubernetes.io/metadata.name": "x"}, "ips": ["10.0.0.2"], "ports": [], "node": null}
    ], "status": {"revision": null, "backend": "nft"}});
    assert_eq!(
        call(&app, "PUT", "/api/v1/agents/n1", t, Some(report))
            .await
            .status,
        StatusCode::OK
    );
    let egress_only = "apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata: {name: all-out}\n\
                       spec:\n  selector: {}\n  egress:\n    - action: allow\n";
    let files = json!({"files": [
        {"name": "web.yaml", "text": policy_yaml("web", 80)},
        {"name": "all.yaml", "text": egress_only}
    ]});
    let applied = call(&app, "PUT", "/api/v1/policies", t, Some(files)).await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.text);

    let web = call(&app, "GET", "/api/v1/workloads/x/web/policies", t, None).await;
    assert_eq!(web.status, StatusCode::OK, "{}", web.text);
    assert_eq!(
        web.body,
        json!([
            {"name": "all-out", "kind": "native", "ingress": false, "egress": true},
            {"name": "x/web", "kind": "native", "ingress": true, "egress": false}
        ])
    );
    let db = call(&app, "GET", "/api/v1/workloads/x/db/policies", t, None).await;
    assert_eq!(
        db.body,
        json!([{"name": "all-out", "kind": "native", "ingress": false, "egress": true}])
    );
    let gone = call(&app, "GET", "/api/v1/workloads/x/nope/policies", t, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}
