//! What the benchmark measures: synthetic flows and inventory, the baseline, timing,
//! HTTP ingest over loopback, and the resident set of a fresh process.

use super::{BATCH, EDGES, Res, TOKEN, WORKLOADS};
use bulkhead_api::wire;
use bulkhead_api::{
    AgentReport, AgentStatus, FlowBatch, FlowRecord, GraphQuery, IpProtocol, Timestamp, Verdict,
};
use bulkhead_policy::{Workload, WorkloadId};
use bulkhead_server::core::{Caller, Command, Core, CoreOptions, Outcome};
use bulkhead_server::store::Store;
use bulkhead_server::{Config, Server};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub fn admin() -> Caller {
    Caller {
        name: "admin".into(),
        role: bulkhead_api::Role::Admin,
    }
}

pub fn workload_id(i: usize) -> String {
    format!("ns{}/w{i}", i % 100)
}

/// Edge `e` of the synthetic graph: distinct (source, destination, port) for every e.
pub fn record(e: usize, at: i64) -> FlowRecord {
    let verdict = [Verdict::Allowed, Verdict::Denied, Verdict::WouldDeny][e % 3];
    FlowRecord {
        source: workload_id(e % WORKLOADS),
        destination: workload_id((e * 7919 + 1) % WORKLOADS),
        protocol: IpProtocol::TCP,
        port: 80 + (e / WORKLOADS) as u16,
        verdict,
        rule: (verdict != Verdict::Allowed).then(|| format!("ns{}/p ingress[0] (deny)", e % 100)),
        packets: 3,
        bytes: 180,
        connections: 1,
        first_seen: Timestamp(at),
        last_seen: Timestamp(at + 500),
        node: None,
    }
}

/// `total` records in batches; `spread` distinct edges per batch (BATCH: all distinct).
pub fn batches(total: usize, spread: usize) -> Vec<Vec<FlowRecord>> {
    let base = 1_700_000_000_000;
    (0..total.div_ceil(BATCH))
        .map(|b| {
            let at = base + b as i64 * 10_000;
            let edge = |i: usize| {
                if spread >= BATCH {
                    (b * BATCH + i) % EDGES
                } else {
                    (b * spread + i % spread) % EDGES
                }
            };
            (0..BATCH).map(|i| record(edge(i), at)).collect()
        })
        .collect()
}

pub fn ingest(core: &Core, batch: Vec<FlowRecord>) -> Res<()> {
    let b = FlowBatch {
        records: batch,
        ..FlowBatch::default()
    };
    core.execute(Some(&admin()), Command::IngestFlows("n1".into(), b))?;
    Ok(())
}

/// The baseline: summing the same records in a bare `HashMap` (no store, no graph).
pub fn hashmap_baseline(all: &[Vec<FlowRecord>]) -> Duration {
    let t = cpu_time::ThreadTime::now();
    type Key<'a> = (&'a str, &'a str, u16, Verdict, Option<&'a str>);
    let mut m: HashMap<Key<'_>, (u64, u64)> = HashMap::new();
    for r in all.iter().flatten() {
        let e = m
            .entry((
                &r.source,
                &r.destination,
                r.port,
                r.verdict,
                r.rule.as_deref(),
            ))
            .or_default();
        e.0 += r.packets;
        e.1 += r.bytes;
    }
    std::hint::black_box(m.len());
    t.elapsed()
}

pub fn rate(n: usize, d: Duration) -> String {
    format!("{:.0}", n as f64 / d.as_secs_f64())
}

/// A default core; `BULKHEAD_BENCH_HOURS=N` bounds its hours in memory (what keeping
/// them costs ingest: compare runs with `BULKHEAD_BENCH_ONLY=core`).
pub fn core_at(db: &Path) -> Res<Core> {
    let mut options = CoreOptions::default();
    if let Some(n) = std::env::var("BULKHEAD_BENCH_HOURS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        options.recent_hours = n;
    }
    Ok(Core::new(Store::open(db)?, TOKEN, options)?)
}

/// A core keeping at most `recent` buckets in memory.
pub fn core_with(db: &Path, recent: usize) -> Res<Core> {
    let options = CoreOptions {
        recent_buckets: recent,
        ..CoreOptions::default()
    };
    Ok(Core::new(Store::open(db)?, TOKEN, options)?)
}

/// A core keeping at most `recent` minute and `hours` hour entries in memory.
pub fn core_with_hours(db: &Path, recent: usize, hours: usize) -> Res<Core> {
    let options = CoreOptions {
        recent_buckets: recent,
        recent_hours: hours,
        ..CoreOptions::default()
    };
    Ok(Core::new(Store::open(db)?, TOKEN, options)?)
}

/// Reports 10,000 workloads from 10 nodes.
pub fn inventory(core: &Core) -> Res<()> {
    for node in 0..10 {
        let workloads = (0..WORKLOADS).filter(|i| i % 10 == node).map(|i| {
            let id: WorkloadId = workload_id(i).parse().map_err(|e: String| e)?;
            Ok(Workload {
                id,
                labels: [("app".to_string(), format!("app{}", i % 50))].into(),
                namespace_labels: Default::default(),
                ips: vec![std::net::Ipv4Addr::from(0x0a00_0000 + i as u32)],
                ports: Vec::new(),
                node: None,
            })
        });
        let report = AgentReport {
            workloads: workloads.collect::<Result<_, String>>()?,
            cluster_cidrs: vec!["10.0.0.0/8".parse()?],
            host_ips: Vec::new(),
            status: AgentStatus {
                backend: "nft".into(),
                ..AgentStatus::default()
            },
        };
        core.execute(
            Some(&admin()),
            Command::AgentReport(format!("node{node}"), report),
        )?;
    }
    Ok(())
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Wall time and this thread's CPU time (the machine is shared: CPU time is what the
/// query costs, wall time what a caller waited). Medians of `runs`; the result is
/// dropped outside the measurement.
pub fn timed<T>(runs: usize, mut f: impl FnMut() -> Res<T>) -> Res<(Duration, Duration)> {
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_time::ThreadTime::now());
        let out = std::hint::black_box(f()?);
        wall.push(t.elapsed());
        cpu.push(c.elapsed());
        drop(out);
    }
    Ok((median(wall), median(cpu)))
}

pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

pub fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Child mode: open the database like a restarted server, answer one graph query, and
/// print the resident set before and after.
pub fn rss_child(db: &Path) -> Res<()> {
    let before = vm_rss_kib();
    let core = core_at(db)?;
    let loaded = vm_rss_kib();
    let Outcome::Graph(g) = core.execute(Some(&admin()), Command::Graph(GraphQuery::default()))?
    else {
        return Err("not a graph".into());
    };
    let text = serde_json::to_vec(&g)?;
    println!(
        "{before} {loaded} {} {} {}",
        vm_rss_kib(),
        g.edges.len(),
        text.len()
    );
    Ok(())
}

/// How the HTTP client encodes a batch.
#[derive(Clone, Copy)]
pub enum Body {
    Json,
    Wire,
}

/// Ingests `all` over loopback HTTP with one sequential client, as an agent does: each
/// batch is encoded inside the timed loop (the agent's work is part of the path).
pub async fn http_ingest(dir: &Path, all: &[Vec<FlowRecord>], body: Body) -> Res<Duration> {
    let name = match body {
        Body::Json => "json",
        Body::Wire => "wire",
    };
    let mut config = Config::new("127.0.0.1:0", dir.join(format!("http-{name}.db")));
    config.token_file = Some(dir.join("http.token"));
    std::fs::write(dir.join("http.token"), TOKEN)?;
    let server = Server::bind(&config).await?;
    let addr = server.local_addr()?;
    let task = tokio::spawn(server.run(std::future::pending()));
    // Batches as the agent holds them (owned records); building them is not measured.
    let batches: Vec<FlowBatch> = all
        .iter()
        .map(|b| FlowBatch {
            records: b.clone(),
            ..FlowBatch::default()
        })
        .collect();
    let t = Instant::now();
    for batch in &batches {
        let (kind, bytes) = match body {
            Body::Json => ("application/json", serde_json::to_vec(batch)?),
            Body::Wire => (wire::CONTENT_TYPE, wire::encode(batch)),
        };
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        let head = format!(
            "POST /api/v1/agents/n1/flows HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            bytes.len()
        );
        s.write_all(head.as_bytes()).await?;
        s.write_all(&bytes).await?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await?;
        if !answer.starts_with(b"HTTP/1.1 200") {
            return Err(format!("ingest failed: {}", String::from_utf8_lossy(&answer)).into());
        }
    }
    let took = t.elapsed();
    task.abort();
    Ok(took)
}
