//! The documented API matches the routes, and no malformed request makes the server fail.

mod common;

use axum::http::StatusCode;
use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Every documented path and method reaches a handler (not the 404/405 fallbacks).
#[tokio::test]
async fn every_documented_route_exists() {
    let (app, _) = app();
    let doc = bulkhead_server::openapi::document();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 17);
    for (path, ops) in paths {
        let concrete = path
            .replace("{namespace}", "x")
            .replace("{name}", "a")
            .replace("{node}", "n1");
        for method in ops.as_object().unwrap().keys() {
            let m = method.to_uppercase();
            let ans = raw(
                &app,
                &m,
                &format!("{concrete}?wait=0"),
                Some(ADMIN),
                None,
                "application/json",
            )
            .await;
            let fallback = ans.status == StatusCode::METHOD_NOT_ALLOWED
                || ans.body["error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("no route for"));
            assert!(!fallback, "{m} {path}: {} {}", ans.status, ans.text);
        }
    }
}

const PATHS: &[&str] = &[
    "/api/v1/health",
    "/api/v1/workloads",
    "/api/v1/workloads/x/a",
    "/api/v1/workloads/x/a/mode",
    "/api/v1/flows",
    "/api/v1/graph",
    "/api/v1/policies",
    "/api/v1/policies/x/web",
    "/api/v1/audit",
    "/api/v1/tokens",
    "/api/v1/tokens/t",
    "/api/v1/replay",
    "/api/v1/agents",
    "/api/v1/agents/n1",
    "/api/v1/agents/n1/desired",
    "/api/v1/agents/n1/flows",
    "/metrics",
    "/api/v1/agents/%ff/flows",
    "/api/v1/workloads/%2e%2e/a",
    "/api/v1/policies/",
    "//api/v1/flows",
];
const QUERIES: &[&str] = &[
    "",
    "?limit=0",
    "?limit=-1",
    "?limit=99999999999",
    "?since=yesterday",
    "?since=5m",
    "?verdict=",
    "?cursor=abc",
    "?after=1&wait=0",
    "?wait=9999",
    "?workload=%zz",
    "?a=b&a=c",
    "?limit=1&limit=2",
    "?since=9999-99-99T99:99:99Z",
    "?until=1s&since=2h",
];
const BODIES: &[&str] = &[
    "",
    "null",
    "[]",
    "{}",
    "{",
    "\"x\"",
    "1e999",
    "{\"files\": null}",
    "{\"files\": [{}]}",
    "{\"files\": [{\"name\": \"a\", \"text\": \"{\"}]}",
    "{\"files\": [{\"name\": \"a\", \"text\": \"- - -\\n  : :\"}]}",
    "{\"mode\": 7}",
    "{\"records\": [{}]}",
    "{\"records\": [null]}",
    "{\"names\": [1]}",
    "{\"name\": \"\", \"role\": \"admin\"}",
    "{\"name\": \"admin\", \"role\": \"admin\"}",
    "{\"workloads\": [{\"id\": \"/\"}], \"status\": {}}",
    "{\"records\": [], \"sequence\": -1}",
    "\u{0}\u{1}\u{2}",
    "{\"records\": [{\"source\": \"\", \"destination\": \"x\", \"protocol\": \"TCP\", \"port\": 1, \"verdict\": \"allowed\", \"rule\": null, \"packets\": 1, \"bytes\": 1, \"first_seen\": \"2025-01-01T00:00:00Z\", \"last_seen\": \"2024-01-01T00:00:00Z\"}]}",
];

/// Hundreds of malformed requests (fixed seed, so a failure reproduces): every answer is
/// a 4xx (or a 2xx for the few that happen to be valid), with a JSON error body.
#[tokio::test]
async fn malformed_requests_never_break_the_server() {
    let (app, _) = app();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let methods = ["GET", "PUT", "POST", "DELETE", "PATCH"];
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..600 {
        let method = methods[rng.random_range(0..methods.len())];
        let path = format!(
            "{}{}",
            PATHS[rng.random_range(0..PATHS.len())],
            QUERIES[rng.random_range(0..QUERIES.len())]
        );
        let mut body = BODIES[rng.random_range(0..BODIES.len())].to_string();
        if rng.random_bool(0.2) {
            // Flip a random byte to reach the parser's odder corners.
            let mut bytes = body.into_bytes();
            if !bytes.is_empty() {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = rng.random_range(0x20..0x7f);
            }
            body = String::from_utf8_lossy(&bytes).into_owned();
        }
        let token = match rng.random_range(0..4) {
            0 => None,
            1 => Some("garbage"),
            _ => Some(ADMIN),
        };
        let ct = if rng.random_bool(0.9) {
            "application/json"
        } else {
            "text/plain"
        };
        let ans = raw(&app, method, &path, token, Some(&body), ct).await;
        seen.insert(ans.status.as_u16());
        assert!(
            !ans.status.is_server_error(),
            "request {i}: {method} {path} {body:?} -> {} {}",
            ans.status,
            ans.text
        );
        if !ans.status.is_success() {
            assert!(
                ans.body["error"].is_string(),
                "request {i}: {method} {path} -> {} {:?}",
                ans.status,
                ans.text
            );
        }
    }
    // The requests reached many different checks, not one early refusal.
    for status in [200, 400, 401, 404, 405, 415, 422] {
        assert!(seen.contains(&status), "no {status} among {seen:?}");
    }
    // Still healthy afterwards.
    assert_eq!(
        call(&app, "GET", "/api/v1/health", None, None).await.status,
        StatusCode::OK
    );
}
