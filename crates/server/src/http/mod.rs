//! The HTTP face of the core: routes, and the translation of requests into commands and
//! of outcomes (or errors) into JSON answers. No decision is taken here.

mod extract;
mod handlers;
mod sse;
mod ui;

pub use crate::json::parse_json;
pub use extract::parse_query;

use crate::core::{Command, Core, Outcome};
use crate::error::ServerError;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get, post, put};
use extract::Auth;
use handlers as h;
use std::sync::Arc;
use std::time::Instant;

/// Bodies above this are refused with 413: policies and every other small request.
pub const BODY_LIMIT: usize = 1 << 20;
/// Flow batches are larger: an agent may ship a few hundred thousand records at once.
pub const FLOW_BODY_LIMIT: usize = 64 << 20;

pub fn router(core: Arc<Core>) -> Router {
    router_with_ui(core, None)
}

/// The API, plus the web UI's files from `ui` (e.g. `web-ui/dist`) at `/`.
pub fn router_with_ui(core: Arc<Core>, ui: Option<std::path::PathBuf>) -> Router {
    let flows = Router::new()
        .route("/api/v1/agents/{node}/flows", post(h::ingest))
        .layer(DefaultBodyLimit::max(FLOW_BODY_LIMIT));
    Router::new()
        .route("/api/v1/health", get(h::health))
        .route("/api/v1/openapi.json", get(h::openapi))
        .route("/api/v1/session", get(h::session))
        .route("/api/v1/workloads", get(h::workloads))
        .route("/api/v1/workloads/{namespace}/{name}", get(h::workload))
        .route(
            "/api/v1/workloads/{namespace}/{name}/mode",
            put(h::set_mode),
        )
        .route(
            "/api/v1/workloads/{namespace}/{name}/policies",
            get(h::workload_policies),
        )
        .route("/api/v1/flows", get(h::flows))
        .route("/api/v1/graph", get(h::graph))
        .route(
            "/api/v1/policies",
            get(h::policies).put(h::apply).delete(h::delete_policies),
        )
        .route(
            "/api/v1/policies/{*name}",
            get(h::policy).delete(h::delete_policy),
        )
        .route("/api/v1/replay", post(h::replay))
        .route("/api/v1/baseline", post(h::baseline))
        .route("/api/v1/violations", get(h::violations))
        .route("/api/v1/audit", get(h::audit))
        .route("/api/v1/events", get(sse::events))
        .route("/api/v1/tokens", get(h::tokens).post(h::create_token))
        .route("/api/v1/tokens/{name}", delete(h::delete_token))
        .route("/api/v1/agents", get(h::agents))
        .route("/api/v1/agents/{node}", put(h::report))
        .route("/api/v1/agents/{node}/desired", get(h::desired))
        .route("/metrics", get(h::metrics))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .merge(flows)
        .fallback(move |req: Request| async move {
            match ui {
                Some(dir) => ui::serve(dir, req).await,
                None => no_route(req).await.into_response(),
            }
        })
        .method_not_allowed_fallback(no_method)
        .layer(middleware::from_fn_with_state(core.clone(), track))
        .with_state(core)
}

/// Runs a command off the async threads (SQLite blocks), as `caller`.
pub(crate) async fn run(
    core: &Arc<Core>,
    auth: Auth,
    cmd: Command,
) -> Result<Outcome, ServerError> {
    let core = core.clone();
    tokio::task::spawn_blocking(move || core.execute(auth.0.as_ref(), cmd))
        .await
        .map_err(|e| ServerError::Corrupt(format!("a request handler failed: {e}")))?
}

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        match self {
            Outcome::Health(v) => Json(v).into_response(),
            Outcome::Session(v) => Json(v).into_response(),
            Outcome::Selecting(v) => Json(v).into_response(),
            Outcome::Metrics(text) => {
                let ct = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
                ([(header::CONTENT_TYPE, ct)], text).into_response()
            }
            Outcome::Workloads(v) => Json(v).into_response(),
            Outcome::Workload(v) => Json(v).into_response(),
            Outcome::Revision(v) => Json(v).into_response(),
            Outcome::Flows(v) => Json(v).into_response(),
            Outcome::Graph(v) => Json(v).into_response(),
            Outcome::Policies(v) => Json(v).into_response(),
            Outcome::Policy(v) => Json(v).into_response(),
            Outcome::Changes(v) => Json(v).into_response(),
            Outcome::Replayed(v) => Json(v).into_response(),
            Outcome::Baseline(v) => Json(v).into_response(),
            Outcome::Violations(v) => Json(v).into_response(),
            Outcome::Audit(v) => Json(v).into_response(),
            Outcome::Tokens(v) => Json(v).into_response(),
            Outcome::Token(v) => (StatusCode::CREATED, Json(v)).into_response(),
            Outcome::Deleted => StatusCode::NO_CONTENT.into_response(),
            Outcome::Agents(v) => Json(v).into_response(),
            Outcome::Desired(v) => Json(v).into_response(),
            Outcome::Ingested(v) => Json(v).into_response(),
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut resp = (status, Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

async fn no_route(req: Request) -> ServerError {
    ServerError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

async fn no_method(req: Request) -> Response {
    let e = ServerError::BadRequest(format!(
        "{} is not allowed on {}",
        req.method(),
        req.uri().path()
    ));
    (StatusCode::METHOD_NOT_ALLOWED, Json(e.body())).into_response()
}

/// Counts requests and their latency per route (the route pattern, not the raw path,
/// so label sets stay bounded).
async fn track(State(core): State<Arc<Core>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    core.metrics()
        .request(&method, &route, resp.status().as_u16(), started.elapsed());
    resp
}
