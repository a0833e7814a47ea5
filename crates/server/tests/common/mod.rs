//! Driving the router in-process, as a client would over HTTP.
#![allow(dead_code)]

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use bulkhead_server::core::{Core, CoreOptions};
use bulkhead_server::store::Store;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

pub const ADMIN: &str = "bh_test0123456789abcdef0123456789abcdef0123456789";

pub fn app() -> (Router, Arc<Core>) {
    let core =
        Arc::new(Core::new(Store::in_memory().unwrap(), ADMIN, CoreOptions::default()).unwrap());
    (bulkhead_server::http::router(core.clone()), core)
}

pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

pub async fn call(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let body = body.map(|b| b.to_string());
    raw(
        app,
        method,
        path,
        token,
        body.as_deref(),
        "application/json",
    )
    .await
}

pub async fn raw(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    content_type: &str,
) -> Answer {
    let body = body.map(|b| b.as_bytes().to_vec());
    bytes(app, method, path, token, body, content_type).await
}

pub async fn bytes(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
    content_type: &str,
) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header("content-type", content_type);
    }
    let req = req.body(Body::from(body.unwrap_or_default())).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer { status, body, text }
}

pub fn policy_yaml(name: &str, port: u16) -> String {
    format!(
        "apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata:\n  name: {name}\n  namespace: x\n\
         spec:\n  selector:\n    matchLabels: {{app: web}}\n  ingress:\n    - action: allow\n      ports: [{port}]\n"
    )
}

pub fn record(src: &str, dst: &str, port: u16, verdict: &str, packets: u64) -> Value {
    serde_json::json!({
        "source": src, "destination": dst, "protocol": "TCP", "port": port, "verdict": verdict,
        "rule": null, "packets": packets, "bytes": packets * 60,
        "first_seen": "2025-01-01T00:00:00Z", "last_seen": "2025-01-01T00:00:01Z"
    })
}
