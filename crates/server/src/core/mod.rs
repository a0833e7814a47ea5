//! The core: every request, parsed into a [`Command`], executed here, answered with an
//! [`Outcome`]. Nothing here knows about sockets or HTTP, so the behaviour of the API is
//! unit-tested by calling [`Core::execute`] directly (the firecracker shape: handlers
//! parse and render, the core decides).
//!
//! State lives in the store (the truth, on disk) and in caches rebuilt from it at start
//! (the graph, the inventory, tokens). Every change is committed to the store first and
//! applied to the caches only after the commit succeeded, so a failed write leaves both
//! as they were. One mutex serializes commands: SQLite has one writer anyway, and a
//! command holds it for a single transaction.

mod aggregate;
mod auth;
mod ingest;
mod inventory;
mod json_batch;
mod learn;
mod policies;
mod replay;
mod retention;
mod selecting;
mod split;
mod state;
#[cfg(test)]
mod tests;
mod views;
mod window;
mod wire;

pub use auth::{Caller, generate_token, hash_token};
pub use split::split_documents;

use crate::error::ServerError;
use crate::metrics::Metrics;
use crate::store::Store;
use bulkhead_api::{
    AgentInfo, AgentReport, ApplyRequest, AuditPage, AuditQuery, BaselineRequest, BaselineResult,
    ChangeResult, CreateToken, CreatedToken, DeleteRequest, DesiredState, Event, FlowBatch,
    FlowPage, FlowQuery, Graph, GraphQuery, Health, IngestResult, PolicyInfo, ReplayRequest,
    ReplayResult, Revision, Role, SelectingPolicy, Session, TokenInfo, ViolationPage,
    ViolationQuery, WorkloadInfo,
};
use bulkhead_policy::{Mode, WorkloadId};
use state::State;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::{broadcast, watch};

/// One request to the core.
#[derive(Debug)]
pub enum Command {
    Health,
    Metrics,
    Session,
    ListWorkloads,
    GetWorkload(WorkloadId),
    WorkloadPolicies(WorkloadId),
    SetMode(WorkloadId, Mode),
    Flows(FlowQuery),
    Graph(GraphQuery),
    ListPolicies,
    GetPolicy(String),
    ApplyPolicies(ApplyRequest),
    DeletePolicies(DeleteRequest),
    Replay(ReplayRequest),
    Baseline(BaselineRequest),
    Violations(ViolationQuery),
    Audit(AuditQuery),
    ListTokens,
    CreateToken(CreateToken),
    DeleteToken(String),
    ListAgents,
    AgentReport(String, AgentReport),
    Desired(String),
    IngestFlows(String, FlowBatch),
    /// The same, as the request's JSON body (parsed in place: no copy of its strings).
    IngestJson(String, Vec<u8>),
    /// The same in the binary encoding of [`bulkhead_api::wire`] (what agents send).
    IngestWire(String, Vec<u8>),
}

/// What a command needs of its caller's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Any valid token, whatever its role.
    Authenticated,
    Read,
    Write,
    /// Token management: admins only, even for reading (token names are an attack map).
    Admin,
    Agent,
}

impl Command {
    pub fn access(&self) -> Access {
        use Command::*;
        match self {
            Health => Access::Public,
            Session => Access::Authenticated,
            Metrics | ListWorkloads | GetWorkload(_) | WorkloadPolicies(_) | Flows(_)
            | Graph(_) | ListPolicies | GetPolicy(_) | Audit(_) | ListAgents | Replay(_)
            | Baseline(_) | Violations(_) => Access::Read,
            SetMode(..) | ApplyPolicies(_) | DeletePolicies(_) => Access::Write,
            ListTokens | CreateToken(_) | DeleteToken(_) => Access::Admin,
            AgentReport(..) | Desired(_) | IngestFlows(..) | IngestJson(..) | IngestWire(..) => {
                Access::Agent
            }
        }
    }
}

/// A command's result, for the handler to render.
#[derive(Debug)]
pub enum Outcome {
    Health(Health),
    Metrics(String),
    Session(Session),
    Selecting(Vec<SelectingPolicy>),
    Workloads(Vec<WorkloadInfo>),
    Workload(WorkloadInfo),
    Revision(Revision),
    Flows(FlowPage),
    Graph(Graph),
    Policies(Vec<PolicyInfo>),
    Policy(PolicyInfo),
    Changes(ChangeResult),
    Replayed(ReplayResult),
    Baseline(Box<BaselineResult>),
    Violations(ViolationPage),
    Audit(AuditPage),
    Tokens(Vec<TokenInfo>),
    Token(CreatedToken),
    Deleted,
    Agents(Vec<AgentInfo>),
    Desired(Box<DesiredState>),
    Ingested(IngestResult),
}

/// Choices made when the server starts.
#[derive(Clone, Debug)]
pub struct CoreOptions {
    /// The mode of workloads that have none set.
    pub default_mode: Mode,
    /// How many (edge, minute) buckets to keep in memory for time-window graphs (about
    /// 100 bytes each); windows reaching further back are read from the store.
    pub recent_buckets: usize,
    /// How many (edge, hour) sums to keep in memory (about 100 bytes each): the part of
    /// a window older than the minutes in memory is read from them, by the hour; what
    /// reaches further back is read from the store's hour and day rollups.
    pub recent_hours: usize,
    /// How long per-minute flow buckets and their hour and day rollups are kept (at least
    /// a day; pruned in whole UTC days); None keeps them forever. Edges and their
    /// whole-history totals are kept either way.
    pub retention: Option<std::time::Duration>,
}

impl Default for CoreOptions {
    fn default() -> Self {
        CoreOptions {
            default_mode: Mode::default(),
            recent_buckets: crate::graph::recent::DEFAULT_CAP,
            recent_hours: crate::graph::recent::DEFAULT_HOURS_CAP,
            retention: None,
        }
    }
}

pub struct Core {
    state: Mutex<State>,
    events: broadcast::Sender<Arc<Event>>,
    revision: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
    metrics: Metrics,
    admin_hash: [u8; 32],
    options: CoreOptions,
}

impl Core {
    /// Loads the caches from `store`. `admin_token` is the token file's text: it always
    /// authenticates as `admin`, and is never stored.
    pub fn new(store: Store, admin_token: &str, options: CoreOptions) -> Result<Core, ServerError> {
        if let Some(r) = options.retention.filter(|r| *r < retention::MIN) {
            return Err(ServerError::BadRequest(format!(
                "--retention {}: must be at least 1d (flows are pruned in whole days)",
                as_seconds(r)
            )));
        }
        let mut state = State::load(store, options.recent_buckets, options.recent_hours)?;
        // A server that was down for a while prunes at start, not at its first batch.
        retention::prune_now(&mut state, options.retention)?;
        let revision = crate::store::revision(state.store.conn())?;
        let metrics = Metrics::default();
        metrics.set_graph(state.graph.node_count(), state.graph.edge_count());
        metrics.set_workloads(state.workloads.len());
        metrics.set_agents(&state.agents);
        metrics.set_revision(revision);
        // Violations recorded before this start, so the counters never go back.
        for e in state
            .graph
            .edges(None, |e| e.verdict != bulkhead_api::Verdict::Allowed)
        {
            metrics.violation(e.verdict, e.connections, true);
        }
        Ok(Core {
            state: Mutex::new(state),
            events: broadcast::channel(1024).0,
            revision: watch::Sender::new(revision),
            shutdown: watch::Sender::new(false),
            metrics,
            admin_hash: hash_token(admin_token),
            options,
        })
    }

    /// Runs `cmd` for `caller` (None: no token was given).
    pub fn execute(&self, caller: Option<&Caller>, cmd: Command) -> Result<Outcome, ServerError> {
        authorize(caller, cmd.access())?;
        let actor = caller.map_or("anonymous", |c| c.name.as_str());
        match cmd {
            Command::Health => Ok(Outcome::Health(Health {
                status: "ok".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                revision: self.current_revision(),
            })),
            Command::Metrics => Ok(Outcome::Metrics(self.render_metrics()?)),
            Command::Session => {
                let c = caller.ok_or_else(|| ServerError::Unauthorized("no token".into()))?;
                Ok(Outcome::Session(Session {
                    name: c.name.clone(),
                    role: c.role,
                }))
            }
            Command::ListWorkloads => Ok(Outcome::Workloads(self.workloads())),
            Command::WorkloadPolicies(id) => self.selecting(&id).map(Outcome::Selecting),
            Command::GetWorkload(id) => self.workload(&id).map(Outcome::Workload),
            Command::SetMode(id, mode) => self.set_mode(actor, id, mode).map(Outcome::Revision),
            Command::Flows(q) => self.flows(&q).map(Outcome::Flows),
            Command::Graph(q) => self.graph(&q).map(Outcome::Graph),
            Command::ListPolicies => self.policies().map(Outcome::Policies),
            Command::GetPolicy(name) => self.policy(&name).map(Outcome::Policy),
            Command::ApplyPolicies(r) => self.apply(actor, r).map(Outcome::Changes),
            Command::DeletePolicies(r) => self.delete(actor, &r.names).map(Outcome::Changes),
            Command::Replay(r) => self.replay(r).map(Outcome::Replayed),
            Command::Baseline(r) => self.baseline(r).map(|b| Outcome::Baseline(Box::new(b))),
            Command::Violations(q) => self.violations(&q).map(Outcome::Violations),
            Command::Audit(q) => self.audit(&q).map(Outcome::Audit),
            Command::ListTokens => Ok(Outcome::Tokens(self.tokens())),
            Command::CreateToken(t) => self.create_token(actor, t).map(Outcome::Token),
            Command::DeleteToken(n) => self.delete_token(actor, &n).map(|()| Outcome::Deleted),
            Command::ListAgents => Ok(Outcome::Agents(self.agents())),
            Command::AgentReport(node, r) => self.report(&node, r).map(Outcome::Revision),
            Command::Desired(node) => self.desired(&node).map(|d| Outcome::Desired(Box::new(d))),
            Command::IngestFlows(node, b) => self.ingest(&node, b).map(Outcome::Ingested),
            Command::IngestJson(node, body) => {
                self.ingest_json(&node, &body).map(Outcome::Ingested)
            }
            Command::IngestWire(node, body) => {
                self.ingest_wire(&node, &body).map(Outcome::Ingested)
            }
        }
    }

    /// Live updates: every event from now on (see [`bulkhead_api::Event`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    /// Watches the desired-state revision (the agent long poll waits on it).
    pub fn watch_revision(&self) -> watch::Receiver<u64> {
        self.revision.subscribe()
    }

    /// Ends live streams and long polls, so a graceful shutdown does not wait for them.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn watch_shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Checks that `caller` may do what `access` asks, without doing anything (streams
    /// and long polls check before they start waiting).
    pub fn authorize(&self, caller: Option<&Caller>, access: Access) -> Result<(), ServerError> {
        authorize(caller, access)
    }

    pub fn current_revision(&self) -> u64 {
        *self.revision.borrow()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn render_metrics(&self) -> Result<String, ServerError> {
        let policies = crate::store::load_policies(self.lock().store.conn())?.len();
        Ok(self.metrics.render(policies))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock can only come from a bug between a commit and
        // its cache update; the store stays right, so carrying on beats refusing forever.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, event: Event) {
        // No subscribers is normal (no UI open): the event is simply not needed.
        let _ = self.events.send(Arc::new(event));
    }

    fn moved_to(&self, revision: u64) {
        self.revision.send_replace(revision);
        self.metrics.set_revision(revision);
    }
}

fn as_seconds(d: std::time::Duration) -> String {
    format!("{}s", d.as_secs())
}

fn authorize(caller: Option<&Caller>, access: Access) -> Result<(), ServerError> {
    if access == Access::Public {
        return Ok(());
    }
    let Some(caller) = caller else {
        return Err(ServerError::Unauthorized(
            "this call needs an `Authorization: Bearer <token>` header".into(),
        ));
    };
    let allowed = match caller.role {
        Role::Admin => true,
        _ if access == Access::Authenticated => true,
        Role::ReadOnly => access == Access::Read,
        Role::Agent => access == Access::Agent,
    };
    if allowed {
        Ok(())
    } else {
        Err(ServerError::Forbidden(format!(
            "token `{}` has role {}, which may not {}",
            caller.name,
            caller.role,
            match access {
                Access::Write => "change anything",
                Access::Admin => "manage tokens",
                Access::Agent => "use the agent channel",
                Access::Read | Access::Public | Access::Authenticated => "read this",
            }
        )))
    }
}
