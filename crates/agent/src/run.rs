//! The agent's threads and the control loop (see the crate docs).

use crate::Error;
use crate::client::Channel;
use crate::context::Context;
use crate::planner::{Planned, Planner};
use crate::ship::Queue;
use crate::store::{StateDir, Status};
use crate::tracker::{Limits, Tracker};
use bulkhead_api::{AgentReport, AgentStatus, DesiredState, FlowBatch};
use bulkhead_dataplane::{Dataplane, FlowSource};
use bulkhead_runtime::{Snapshot, WorkloadSource};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Config {
    pub server: String,
    pub token: String,
    /// Where the desired state and status are kept.
    pub state_dir: std::path::PathBuf,
    /// How often aggregates are shipped.
    pub ship_every: Duration,
    /// How long one desired-state long poll may wait on the server.
    pub poll_wait: Duration,
    pub limits: Limits,
    /// Records the shipping queue holds while the server is away.
    pub queue_records: usize,
}

impl Config {
    pub fn new(server: &str, token: &str, state_dir: std::path::PathBuf) -> Config {
        Config {
            server: server.to_string(),
            token: token.to_string(),
            state_dir,
            ship_every: Duration::from_secs(1),
            poll_wait: Duration::from_secs(10),
            limits: Limits::default(),
            queue_records: 1 << 18,
        }
    }
}

/// What the threads share.
struct Shared {
    node: String,
    backend: &'static str,
    ctx: Mutex<Arc<Context>>,
    /// Replaced (not edited) on every change, so that the planner sees at a glance
    /// that it is the one it compiled with.
    snapshot: Mutex<Arc<Snapshot>>,
    /// Set when the local inventory changed and the program must be recompiled.
    inventory_changed: AtomicBool,
    status: Mutex<Status>,
    lost: AtomicU64,
    dropped: AtomicU64,
    stop: Arc<AtomicBool>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn report(&self) -> AgentReport {
        let snap = lock(&self.snapshot).clone();
        let st = lock(&self.status).clone();
        AgentReport {
            workloads: snap.workloads.clone(),
            cluster_cidrs: snap.cluster_cidrs.clone(),
            host_ips: snap.host_ips.clone(),
            status: AgentStatus {
                revision: st.revision,
                backend: self.backend.to_string(),
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
                lost_events: self.lost.load(Ordering::Relaxed),
                dropped_records: self.dropped.load(Ordering::Relaxed),
                error: st.last_error,
            },
        }
    }
}

/// Runs the agent until `stop` is set; then ships what it has aggregated (one attempt)
/// and returns. What is in force stays in force.
pub fn run(
    config: Config,
    mut source: Box<dyn WorkloadSource>,
    dataplane: Box<dyn Dataplane + Send>,
    mut flows: Box<dyn FlowSource>,
    stop: Arc<AtomicBool>,
) -> Result<(), Error> {
    let node = source.node().to_string();
    let state = StateDir::new(&config.state_dir)?;
    let snapshot = Arc::new(source.snapshot()?);
    let mut planner = Planner::new(&node);
    let ctx = planner.plan(&DesiredState::default(), &snapshot)?.context;
    let shared = Arc::new(Shared {
        node: node.clone(),
        backend: dataplane.name(),
        ctx: Mutex::new(Arc::new(ctx)),
        snapshot: Mutex::new(snapshot),
        inventory_changed: AtomicBool::new(false),
        status: Mutex::new(Status {
            node: node.clone(),
            backend: dataplane.name().to_string(),
            ..Status::default()
        }),
        lost: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        stop: stop.clone(),
    });
    let mut control = Control {
        shared: shared.clone(),
        dataplane,
        planner,
        state,
        desired: None,
        channel: Channel::new(
            &config.server,
            &node,
            &config.token,
            config.poll_wait + Duration::from_secs(10),
        ),
        poll_wait: config.poll_wait,
        warned: false,
    };
    // Enforce what was last desired before anything else: the server may be away.
    let initial = control.state.load_desired().unwrap_or_default();
    control.enforce(&initial);
    control.desired = Some(initial);

    let queue = Arc::new(Queue::new(config.queue_records));
    let reporter = Channel::new(
        &config.server,
        &node,
        &config.token,
        Duration::from_secs(10),
    );
    let s = shared.clone();
    std::thread::Builder::new()
        .name("inventory".into())
        .spawn(move || inventory_loop(&s, source.as_mut(), &reporter))
        .map_err(|e| Error::io(std::path::Path::new("thread"), e))?;
    let shipper = {
        let (s, q) = (shared.clone(), queue.clone());
        let ch = Channel::new(
            &config.server,
            &node,
            &config.token,
            Duration::from_secs(10),
        );
        std::thread::Builder::new()
            .name("shipper".into())
            .spawn(move || ship_loop(&s, &q, &ch))
            .map_err(|e| Error::io(std::path::Path::new("thread"), e))?
    };
    let flow_thread = {
        let (s, q) = (shared.clone(), queue.clone());
        let (every, limits) = (config.ship_every, config.limits);
        let dir = control.state.clone();
        std::thread::Builder::new()
            .name("flows".into())
            .spawn(move || flow_loop(&s, flows.as_mut(), &q, every, limits, &dir))
            .map_err(|e| Error::io(std::path::Path::new("thread"), e))?
    };
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || control.run())
        .map_err(|e| Error::io(std::path::Path::new("thread"), e))?;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = flow_thread.join();
    queue.close();
    let _ = shipper.join();
    Ok(())
}

struct Control {
    shared: Arc<Shared>,
    dataplane: Box<dyn Dataplane + Send>,
    /// Keeps what did not change between revisions (see [`Planner`]).
    planner: Planner,
    state: StateDir,
    desired: Option<DesiredState>,
    channel: Channel,
    poll_wait: Duration,
    /// Whether the missing guard was logged already.
    warned: bool,
}

impl Control {
    /// Puts `d` in force with the current local inventory; failures are logged and
    /// reported, and leave the previous program in force.
    fn enforce(&mut self, d: &DesiredState) {
        let snap = lock(&self.shared.snapshot).clone();
        let started = Instant::now();
        let planned = self.planner.plan(d, &snap);
        let plan_ms = started.elapsed().as_secs_f64() * 1e3;
        let result = planned.and_then(|planned| {
            let Planned {
                program,
                context: ctx,
                rules,
            } = planned;
            let guard = crate::enforce::guard(&snap, &ctx);
            if !self.dataplane.set_guard(&guard) && !guard.ranges.is_empty() && !self.warned {
                self.warned = true;
                tracing::warn!(
                    "the {} backend has no unknown-address guard: a new workload's own \
                     rules apply once the agent knows it, not before",
                    self.dataplane.name()
                );
            }
            let report = self.dataplane.apply(program)?;
            Ok((program.endpoints.len(), ctx, rules, report))
        });
        let mut st = lock(&self.shared.status);
        match result {
            Ok((endpoints, ctx, rules, report)) => {
                let prev = lock(&self.shared.ctx).clone();
                let ctx = ctx.with_rules(Some(&prev), report.generation, rules);
                *lock(&self.shared.ctx) = Arc::new(ctx);
                st.revision = Some(d.revision);
                st.generation = report.generation;
                st.last_error = None;
                tracing::info!(
                    revision = d.revision,
                    generation = report.generation,
                    endpoints,
                    plan_ms,
                    incremental = self.planner.was_incremental(),
                    ms = report.duration.as_secs_f64() * 1e3,
                    "in force"
                );
            }
            Err(e) => {
                tracing::error!("revision {}: {e}", d.revision);
                st.last_error = Some(format!("revision {}: {e}", d.revision));
            }
        }
        let _ = self.state.save_status(&st);
    }

    fn run(mut self) {
        // The first poll after (re)connecting asks without `after`: a server whose
        // revisions restarted must still be heard.
        let mut connected = false;
        while !self.shared.stop.load(Ordering::Relaxed) {
            if self.shared.inventory_changed.swap(false, Ordering::Relaxed)
                && let Some(d) = self.desired.clone()
            {
                self.enforce(&d);
            }
            let step = self.channel.report(&self.shared.report()).and_then(|_| {
                let after = if connected {
                    self.desired.as_ref().map(|d| d.revision)
                } else {
                    None
                };
                self.channel.desired(after, self.poll_wait.as_secs())
            });
            match step {
                Ok(Some(d)) => {
                    connected = true;
                    lock(&self.shared.status).server_reachable = true;
                    if self.desired.as_ref() != Some(&d) {
                        self.enforce(&d);
                        if let Err(e) = self.state.save_desired(&d) {
                            tracing::warn!("cannot persist the desired state: {e}");
                        }
                        self.desired = Some(d);
                    }
                }
                Ok(None) => connected = true,
                Err(e) => {
                    if connected || lock(&self.shared.status).server_reachable {
                        tracing::warn!("{e}; keeping the last desired state in force");
                    }
                    connected = false;
                    lock(&self.shared.status).server_reachable = false;
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }
}

fn inventory_loop(s: &Shared, source: &mut dyn WorkloadSource, ch: &Channel) {
    while !s.stop.load(Ordering::Relaxed) {
        match source.wait_change(Duration::from_secs(1)) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => {
                tracing::warn!("{e}");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        }
        match source.snapshot() {
            Ok(snap) => {
                *lock(&s.snapshot) = Arc::new(snap);
                s.inventory_changed.store(true, Ordering::Relaxed);
                if let Err(e) = ch.report(&s.report()) {
                    tracing::debug!("inventory report: {e}");
                }
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }
}

fn flow_loop(
    s: &Shared,
    flows: &mut dyn FlowSource,
    queue: &Queue,
    every: Duration,
    limits: Limits,
    dir: &StateDir,
) {
    let mut tracker = Tracker::new(limits);
    let mut events = Vec::new();
    let mut next_ship = Instant::now() + every;
    let instance = format!(
        "{}-{}-{}",
        s.node,
        std::process::id(),
        bulkhead_api::Timestamp::now().millis()
    );
    let mut sequence = 0u64;
    let (mut reported_lost, mut reported_dropped) = (0u64, 0u64);
    loop {
        let stopping = s.stop.load(Ordering::Relaxed);
        events.clear();
        if let Err(e) = flows.poll(&mut events, Duration::from_millis(100)) {
            tracing::warn!("flow events: {e}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let now = Instant::now();
        for e in &events {
            tracker.feed(e, now);
        }
        let ctx = lock(&s.ctx).clone();
        // On stop, judge everything still pending: it will not get more events.
        let horizon = if stopping {
            now + crate::tracker::SETTLE
        } else {
            now
        };
        tracker.settle(&ctx, horizon);
        if now < next_ship && !stopping {
            continue;
        }
        next_ship = now + every;
        let lost = flows.lost();
        s.lost.store(lost, Ordering::Relaxed);
        let records = tracker.take();
        let tracker_dropped = tracker.dropped;
        if !records.is_empty() || lost > reported_lost || tracker_dropped > reported_dropped {
            sequence += 1;
            let batch = FlowBatch {
                instance: Some(instance.clone()),
                sequence: Some(sequence),
                records,
                dropped_records: tracker_dropped - reported_dropped,
                lost_events: lost - reported_lost,
            };
            let queue_dropped = queue.push(batch);
            s.dropped.fetch_add(
                tracker_dropped - reported_dropped + queue_dropped,
                Ordering::Relaxed,
            );
            reported_lost = lost;
            reported_dropped = tracker_dropped;
        }
        let mut st = lock(&s.status);
        st.events = tracker.events;
        st.lost_events = lost;
        st.dropped_records = s.dropped.load(Ordering::Relaxed);
        let _ = dir.save_status(&st);
        drop(st);
        if stopping {
            return;
        }
    }
}

fn ship_loop(s: &Shared, queue: &Queue, ch: &Channel) {
    let mut failures = 0u32;
    loop {
        let Some(batch) = queue.front(Duration::from_millis(500)) else {
            if queue.is_closed_and_empty() {
                return;
            }
            continue;
        };
        match ch.flows(&batch) {
            Ok(_) => {
                failures = 0;
                queue.done(batch.sequence);
                lock(&s.status).shipped_records += batch.records.len() as u64;
            }
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!("cannot ship flows (kept, will retry): {e}");
                }
                if s.stop.load(Ordering::Relaxed) {
                    return; // one last attempt only
                }
                std::thread::sleep(Duration::from_millis(200 * u64::from(failures.min(10))));
            }
        }
    }
}
