//! The JSON types of Bulkhead's server API and agent channel, shared by the server, the
//! agent, the CLI and the web UI. Serde only: no HTTP here.
//!
//! Every path is under [`paths::PREFIX`] (`/api/v1`). Every call needs
//! `Authorization: Bearer <token>` except `GET /api/v1/health` and
//! `GET /api/v1/openapi.json`. Roles ([`token::Role`]): `admin` does everything,
//! `read-only` reads (403 on changes), `agent` only uses `/api/v1/agents/{node}/...`.
//! Errors are [`error::ErrorBody`] with 400 (bad parameter or JSON), 401 (no or wrong
//! token), 403 (role), 404, 409 (conflict), 413 (body too large), 415, 422 (invalid
//! content: unknown field, bad policy with `file:line:col` details).
//!
//! | method and path | request | answer |
//! |---|---|---|
//! | `GET /health` | – | [`error::Health`] |
//! | `GET /openapi.json` | – | OpenAPI 3 document |
//! | `GET /workloads` | – | `[`[`inventory::WorkloadInfo`]`]` |
//! | `GET /workloads/{ns}/{name}` | – | [`inventory::WorkloadInfo`] |
//! | `PUT /workloads/{ns}/{name}/mode` | [`inventory::SetMode`] | [`inventory::Revision`] |
//! | `GET /workloads/{ns}/{name}/policies` | – | `[`[`session::SelectingPolicy`]`]` |
//! | `GET /session` | – | [`session::Session`] (any valid token) |
//! | `GET /flows` | [`flow::FlowQuery`] (query) | [`flow::FlowPage`] |
//! | `GET /graph` | [`graph::GraphQuery`] (query) | [`graph::Graph`] |
//! | `GET /policies` | – | `[`[`policy::PolicyInfo`]`]` |
//! | `PUT /policies` | [`policy::ApplyRequest`] | [`policy::ChangeResult`] |
//! | `DELETE /policies` | [`policy::DeleteRequest`] | [`policy::ChangeResult`] |
//! | `GET /policies/{name}` | – | [`policy::PolicyInfo`] (`name` may hold a `/`) |
//! | `DELETE /policies/{name}` | – | [`policy::ChangeResult`] |
//! | `POST /replay` | [`policy::ReplayRequest`] | [`policy::ReplayResult`] |
//! | `POST /baseline` | [`learn::BaselineRequest`] | [`learn::BaselineResult`] |
//! | `GET /violations` | [`learn::ViolationQuery`] (query) | [`learn::ViolationPage`] |
//! | `GET /audit` | [`audit::AuditQuery`] (query) | [`audit::AuditPage`] |
//! | `GET /events` | [`flow::FlowQuery`] filters (query) | SSE of [`event::Event`] |
//! | `GET /tokens` | – | `[`[`token::TokenInfo`]`]` (admin) |
//! | `POST /tokens` | [`token::CreateToken`] | [`token::CreatedToken`] (admin) |
//! | `DELETE /tokens/{name}` | – | 204 (admin) |
//! | `GET /agents` | – | `[`[`inventory::AgentInfo`]`]` |
//! | `PUT /agents/{node}` | [`inventory::AgentReport`] | [`inventory::Revision`] |
//! | `GET /agents/{node}/desired` | [`inventory::DesiredQuery`] (query) | [`inventory::DesiredState`], or 204 when `wait` ran out |
//! | `POST /agents/{node}/flows` | [`flow::FlowBatch`] (JSON), or its [`wire`] encoding | [`flow::IngestResult`] |
//!
//! Outside the prefix, `GET /metrics` serves Prometheus text (any valid token).

pub mod audit;
pub mod error;
pub mod event;
pub mod flow;
pub mod graph;
pub mod inventory;
pub mod learn;
pub mod policy;
pub mod session;
pub mod time;
pub mod token;
pub mod wire;

pub use audit::{AuditEntry, AuditPage, AuditQuery};
pub use error::{ErrorBody, Health};
pub use event::Event;
pub use flow::{FlowBatch, FlowPage, FlowQuery, FlowRecord, IngestResult, IpProtocol, Verdict};
pub use graph::{CoveredWindow, Graph, GraphEdge, GraphGroup, GraphNode, GraphQuery, NodeKind};
pub use inventory::{
    AgentInfo, AgentReport, AgentStatus, DesiredQuery, DesiredState, Revision, SetMode,
    WorkloadInfo,
};
pub use learn::{BaselineRequest, BaselineResult, ViolationPage, ViolationQuery};
pub use policy::{
    ApplyRequest, Change, ChangeResult, DeleteRequest, PolicyChange, PolicyDocument, PolicyFile,
    PolicyInfo, ReplayRequest, ReplayResult,
};
pub use session::{SelectingPolicy, Session};
pub use time::{TimeBound, Timestamp};
pub use token::{CreateToken, CreatedToken, Role, TokenInfo};

/// Paths of the API, for clients.
pub mod paths {
    pub const PREFIX: &str = "/api/v1";
    pub const HEALTH: &str = "/api/v1/health";
    pub const OPENAPI: &str = "/api/v1/openapi.json";
    pub const WORKLOADS: &str = "/api/v1/workloads";
    pub const FLOWS: &str = "/api/v1/flows";
    pub const GRAPH: &str = "/api/v1/graph";
    pub const POLICIES: &str = "/api/v1/policies";
    pub const AUDIT: &str = "/api/v1/audit";
    pub const REPLAY: &str = "/api/v1/replay";
    pub const BASELINE: &str = "/api/v1/baseline";
    pub const VIOLATIONS: &str = "/api/v1/violations";
    pub const EVENTS: &str = "/api/v1/events";
    pub const TOKENS: &str = "/api/v1/tokens";
    pub const AGENTS: &str = "/api/v1/agents";
    pub const SESSION: &str = "/api/v1/session";
    pub const METRICS: &str = "/metrics";

    /// `/api/v1/workloads/{ns}/{name}/mode`.
    pub fn workload_mode(id: &bulkhead_policy::WorkloadId) -> String {
        format!("{WORKLOADS}/{}/{}/mode", id.namespace, id.name)
    }

    pub fn agent(node: &str) -> String {
        format!("{AGENTS}/{node}")
    }

    pub fn agent_desired(node: &str) -> String {
        format!("{AGENTS}/{node}/desired")
    }

    pub fn agent_flows(node: &str) -> String {
        format!("{AGENTS}/{node}/flows")
    }
}
