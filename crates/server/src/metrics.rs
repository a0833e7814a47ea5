//! Prometheus metrics, rendered by hand in the text format (it is a few lines; a client
//! library would be the biggest dependency of the crate).

mod violations;

use crate::store::AgentRow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the request latency histogram, in seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// An agent's (revision in force, dropped records, lost events), as last reported.
type AgentGauges = (Option<u64>, u64, u64);

#[derive(Default)]
pub struct Metrics {
    records: AtomicU64,
    batches: AtomicU64,
    duplicate_batches: AtomicU64,
    dropped: AtomicU64,
    lost: AtomicU64,
    policy_changes: AtomicU64,
    revision: AtomicU64,
    graph_nodes: AtomicU64,
    graph_edges: AtomicU64,
    workloads: AtomicU64,
    /// Per node: (revision in force, dropped records, lost events) as last reported.
    agents: Mutex<BTreeMap<String, AgentGauges>>,
    /// Per (method, route, status).
    requests: Mutex<HashMap<(String, String, u16), u64>>,
    /// Per (method, route).
    latency: Mutex<HashMap<(String, String), Histogram>>,
    violations: violations::Violations,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Metrics are best effort: a poisoned lock still holds usable counters.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    pub fn ingested(&self, records: u64, dropped: u64, lost: u64) {
        self.records.fetch_add(records, Relaxed);
        self.batches.fetch_add(1, Relaxed);
        self.dropped.fetch_add(dropped, Relaxed);
        self.lost.fetch_add(lost, Relaxed);
    }

    pub fn duplicate_batch(&self) {
        self.duplicate_batches.fetch_add(1, Relaxed);
    }

    pub fn policy_changes(&self, n: usize) {
        self.policy_changes.fetch_add(n as u64, Relaxed);
    }

    pub fn set_revision(&self, r: u64) {
        self.revision.store(r, Relaxed);
    }

    pub fn set_graph(&self, nodes: usize, edges: usize) {
        self.graph_nodes.store(nodes as u64, Relaxed);
        self.graph_edges.store(edges as u64, Relaxed);
    }

    pub fn set_workloads(&self, n: usize) {
        self.workloads.store(n as u64, Relaxed);
    }

    pub fn set_agents(&self, agents: &BTreeMap<String, AgentRow>) {
        let mut m = lock(&self.agents);
        m.clear();
        for a in agents.values() {
            let dropped = a.status.dropped_records.max(a.dropped_records);
            let lost = a.status.lost_events.max(a.lost_events);
            m.insert(a.node.clone(), (a.status.revision, dropped, lost));
        }
    }

    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let key = (method.to_string(), route.to_string());
        *lock(&self.requests)
            .entry((key.0.clone(), key.1.clone(), status))
            .or_default() += 1;
        let mut lat = lock(&self.latency);
        let h = lat.entry(key).or_default();
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The Prometheus text exposition; `policies` is the number stored.
    pub fn render(&self, policies: usize) -> String {
        let mut o = String::new();
        let mut counter = |name: &str, help: &str, kind: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        counter(
            "bulkhead_flow_records_ingested_total",
            "Flow records received from agents.",
            "counter",
            self.records.load(Relaxed),
        );
        counter(
            "bulkhead_flow_batches_ingested_total",
            "Flow batches stored.",
            "counter",
            self.batches.load(Relaxed),
        );
        counter(
            "bulkhead_flow_batches_duplicate_total",
            "Retried flow batches ignored.",
            "counter",
            self.duplicate_batches.load(Relaxed),
        );
        counter(
            "bulkhead_flow_records_dropped_total",
            "Flow records agents reported dropping.",
            "counter",
            self.dropped.load(Relaxed),
        );
        counter(
            "bulkhead_kernel_events_lost_total",
            "Kernel flow events agents reported lost.",
            "counter",
            self.lost.load(Relaxed),
        );
        counter(
            "bulkhead_policy_changes_total",
            "Policies created, updated or deleted.",
            "counter",
            self.policy_changes.load(Relaxed),
        );
        counter(
            "bulkhead_desired_revision",
            "The desired-state revision.",
            "gauge",
            self.revision.load(Relaxed),
        );
        counter(
            "bulkhead_policies",
            "Policies stored.",
            "gauge",
            policies as u64,
        );
        counter(
            "bulkhead_workloads",
            "Workloads reported by agents.",
            "gauge",
            self.workloads.load(Relaxed),
        );
        counter(
            "bulkhead_graph_nodes",
            "Endpoints in the flow graph.",
            "gauge",
            self.graph_nodes.load(Relaxed),
        );
        counter(
            "bulkhead_graph_edges",
            "Edges in the flow graph.",
            "gauge",
            self.graph_edges.load(Relaxed),
        );
        self.render_violations(&mut o);
        self.render_agents(&mut o);
        self.render_requests(&mut o);
        o
    }

    fn render_agents(&self, o: &mut String) {
        let agents = lock(&self.agents);
        let _ = writeln!(
            o,
            "# HELP bulkhead_agent_revision The desired revision an agent has in force (-1: none).\n# TYPE bulkhead_agent_revision gauge"
        );
        for (node, (rev, _, _)) in agents.iter() {
            let v = rev.map_or(-1, |r| r as i64);
            let _ = writeln!(
                o,
                "bulkhead_agent_revision{{node=\"{}\"}} {v}",
                escape(node)
            );
        }
        let _ = writeln!(
            o,
            "# HELP bulkhead_agent_dropped_records Records an agent dropped since it started.\n# TYPE bulkhead_agent_dropped_records gauge"
        );
        for (node, (_, d, _)) in agents.iter() {
            let _ = writeln!(
                o,
                "bulkhead_agent_dropped_records{{node=\"{}\"}} {d}",
                escape(node)
            );
        }
        let _ = writeln!(
            o,
            "# HELP bulkhead_agent_lost_events Kernel events an agent lost since it started.\n# TYPE bulkhead_agent_lost_events gauge"
        );
        for (node, (_, _, l)) in agents.iter() {
            let _ = writeln!(
                o,
                "bulkhead_agent_lost_events{{node=\"{}\"}} {l}",
                escape(node)
            );
        }
    }

    fn render_requests(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "# HELP bulkhead_http_requests_total HTTP requests answered.\n# TYPE bulkhead_http_requests_total counter"
        );
        let mut reqs: Vec<_> = lock(&self.requests)
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        reqs.sort();
        for ((m, r, s), v) in reqs {
            let _ = writeln!(
                o,
                "bulkhead_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{s}\"}} {v}",
                escape(&r)
            );
        }
        let _ = writeln!(
            o,
            "# HELP bulkhead_http_request_duration_seconds Time to answer HTTP requests.\n# TYPE bulkhead_http_request_duration_seconds histogram"
        );
        let lat = lock(&self.latency);
        let mut keys: Vec<_> = lat.keys().cloned().collect();
        keys.sort();
        for k in keys {
            let Some(h) = lat.get(&k) else { continue };
            let labels = format!("method=\"{}\",route=\"{}\"", k.0, escape(&k.1));
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "bulkhead_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                o,
                "bulkhead_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                o,
                "bulkhead_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                o,
                "bulkhead_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
    }
}

/// Label values are user-chosen (node names): escape what the format reserves.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
