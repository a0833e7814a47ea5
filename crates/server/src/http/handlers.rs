//! One function per route: parse the request into a [`Command`], run it, render it.

use super::extract::{Auth, FlowBody, JsonBody, Params, PathParams};
use super::run;
use crate::core::{Access, Command, Core, Outcome};
use crate::error::ServerError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use bulkhead_api::{
    ApplyRequest, AuditQuery, CreateToken, DeleteRequest, DesiredQuery, FlowQuery, GraphQuery,
    SetMode,
};
use bulkhead_policy::WorkloadId;
use bulkhead_policy::names::dns_label_error;
use std::sync::Arc;
use std::time::Duration;

type Answer = Result<Outcome, ServerError>;
type S = State<Arc<Core>>;

pub async fn health(State(core): S, auth: Auth) -> Answer {
    run(&core, auth, Command::Health).await
}

pub async fn metrics(State(core): S, auth: Auth) -> Answer {
    run(&core, auth, Command::Metrics).await
}

/// The API description; public, like the documentation it is.
pub async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
}

pub async fn workloads(State(core): S, auth: Auth) -> Answer {
    run(&core, auth, Command::ListWorkloads).await
}

fn workload_id(namespace: String, name: String) -> Result<WorkloadId, ServerError> {
    for (what, v) in [("namespace", &namespace), ("name", &name)] {
        if let Some(e) = dns_label_error(v) {
            return Err(ServerError::BadRequest(format!(
                "path: workload {what} `{v}` {e}"
            )));
        }
    }
    Ok(WorkloadId::new(namespace, name))
}

pub async fn workload(
    State(core): S,
    auth: Auth,
    PathParams((ns, name)): PathParams<(String, String)>,
) -> Answer {
    let id = workload_id(ns, name)?;
    run(&core, auth, Command::GetWorkload(id)).await
}

pub async fn workload_policies(
    State(core): S,
    auth: Auth,
    PathParams((ns, name)): PathParams<(String, String)>,
) -> Answer {
    let id = workload_id(ns, name)?;
    run(&core, auth, Command::WorkloadPolicies(id)).await
}

/// Who the token is: lets a UI disable what its role may not do.
pub async fn session(State(core): S, auth: Auth) -> Answer {
    run(&core, auth, Command::Session).await
}

pub async fn set_mode(
    State(core): S,
    auth: Auth,
    PathParams((ns, name)): PathParams<(String, String)>,
    JsonBody(body): JsonBody<SetMode>,
) -> Answer {
    let id = workload_id(ns, name)?;
    run(&core, auth, Command::SetMode(id, body.mode)).await
}

pub async fn flows(State(core): S, auth: Auth, Params(q): Params<FlowQuery>) -> Answer {
    run(&core, auth, Command::Flows(q)).await
}

pub async fn graph(State(core): S, auth: Auth, Params(q): Params<GraphQuery>) -> Answer {
    run(&core, auth, Command::Graph(q)).await
}

pub async fn policies(State(core): S, auth: Auth) -> Answer {
    run(&core, auth, Command::ListPolicies).await
}

pub async fn policy(State(core): S, auth: Auth, PathParams(name): PathParams<String>) -> Answer {
    run(&core, auth, Command::GetPolicy(name)).await
}

pub async fn apply(State(core): S, auth: Auth, JsonBody(req): JsonBody<ApplyRequest>) -> Answer {
    run(&core, auth, Command::ApplyPolicies(req)).await
}

pub async fn delete_policies(
    State(core): S,
    auth: Auth,
    JsonBody(req): JsonBody<DeleteRequest>,
) -> Answer {
    run(&core, auth, Command::DeletePolicies(req)).await
}

pub async fn delete_policy(
    State(core): S,
    auth: Auth,
    PathParams(name): PathParams<String>,
) -> Answer {
    run(
        &core,
        auth,
        Command::DeletePolicies(DeleteRequest { names: vec![name] }),
    )
    .await
}

pub async fn replay(
    State(core): S,
    auth: Auth,
    JsonBody(req): JsonBody<bulkhead_api::ReplayRequest>,
) -> Answer {
    run(&core, auth, Command::Replay(req)).await
}

pub async fn baseline(
    State(core): S,
    auth: Auth,
    JsonBody(req): JsonBody<bulkhead_api::BaselineRequest>,
) -> Answer {
    run(&core, auth, Command::Baseline(req)).await
}

pub async fn violations(
    State(core): S,
    auth: Auth,
    Params(q): Params<bulkhead_api::ViolationQuery>,
) -> Answer {
    run(&core, auth, Command::Violations(q)).await
}

pub async fn audit(State(core): S, auth: Auth, Params(q): Params<AuditQuery>) -> Answer {
    run(&core, auth, Command::Audit(q)).await
}

pub async fn tokens(State(core): S, auth: Auth) -> Answer {
    run(&core, auth, Command::ListTokens).await
}

pub async fn create_token(
    State(core): S,
    auth: Auth,
    JsonBody(req): JsonBody<CreateToken>,
) -> Answer {
    run(&core, auth, Command::CreateToken(req)).await
}

pub async fn delete_token(
    State(core): S,
    auth: Auth,
    PathParams(name): PathParams<String>,
) -> Answer {
    run(&core, auth, Command::DeleteToken(name)).await
}

pub async fn agents(State(core): S, auth: Auth) -> Answer {
    run(&core, auth, Command::ListAgents).await
}

pub async fn report(
    State(core): S,
    auth: Auth,
    PathParams(node): PathParams<String>,
    JsonBody(req): JsonBody<bulkhead_api::AgentReport>,
) -> Answer {
    run(&core, auth, Command::AgentReport(node, req)).await
}

pub async fn ingest(
    State(core): S,
    auth: Auth,
    PathParams(node): PathParams<String>,
    body: FlowBody,
) -> Answer {
    let cmd = match body {
        FlowBody::Json(b) => Command::IngestJson(node, Vec::from(b)),
        FlowBody::Wire(b) => Command::IngestWire(node, Vec::from(b)),
    };
    run(&core, auth, cmd).await
}

/// Long poll: answers at once when the revision is past `after`, otherwise as soon as it
/// moves, or with 204 after `wait` seconds. The watch is taken *before* the revision is
/// read, so a change between the two cannot be missed.
pub async fn desired(
    State(core): S,
    auth: Auth,
    PathParams(node): PathParams<String>,
    Params(q): Params<DesiredQuery>,
) -> Result<Response, ServerError> {
    core.authorize(auth.0.as_ref(), Access::Agent)?;
    if let Some(e) = bulkhead_policy::names::dns_subdomain_error(&node) {
        return Err(ServerError::BadRequest(format!("node: {e}")));
    }
    let wait = q.wait.unwrap_or(30);
    if wait > 300 {
        return Err(ServerError::BadRequest(format!(
            "query parameter `wait`: {wait} is more than 300 seconds"
        )));
    }
    if let Some(after) = q.after {
        let mut revision = core.watch_revision();
        let mut shutdown = core.watch_shutdown();
        let moved = async { revision.wait_for(|r| *r > after).await.is_ok() };
        let outcome = tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(wait), moved) => r.unwrap_or(false),
            _ = shutdown.wait_for(|s| *s) => false,
        };
        if !outcome {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
    }
    run(&core, auth, Command::Desired(node))
        .await
        .map(IntoResponse::into_response)
}
