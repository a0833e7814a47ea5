//! Server benchmark: ingest throughput (core and HTTP), graph query time at 10,000
//! workloads and 100,000 edges, and resident memory at that size. Not a test: it prints
//! a report and writes it to `<target>/bench-reports/server.md`.
//!
//! `cargo bench -p bulkhead-server` (`BULKHEAD_BENCH_RECORDS=200000` for a quick run).
//! Every ingest is durable (a file database, `synchronous = FULL`), as in production.

use bulkhead_api::{
    AgentReport, AgentStatus, FlowBatch, FlowRecord, GraphQuery, IpProtocol, Timestamp, Verdict,
};
use bulkhead_policy::{Workload, WorkloadId};
use bulkhead_server::core::{Caller, Command, Core, CoreOptions, Outcome};
use bulkhead_server::store::Store;
use bulkhead_server::{Config, Server};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WORKLOADS: usize = 10_000;
const EDGES: usize = 100_000;
const BATCH: usize = 50_000;
const TOKEN: &str = "bh_bench0123456789abcdef0123456789abcdef0123456789";

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn admin() -> Caller {
    Caller {
        name: "admin".into(),
        role: bulkhead_api::Role::Admin,
    }
}

fn workload_id(i: usize) -> String {
    format!("ns{}/w{i}", i % 100)
}

/// Edge `e` of the synthetic graph: distinct (source, destination, port) for every e.
fn record(e: usize, at: i64) -> FlowRecord {
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
fn batches(total: usize, spread: usize) -> Vec<Vec<FlowRecord>> {
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

fn ingest(core: &Core, batch: Vec<FlowRecord>) -> Res<()> {
    let b = FlowBatch {
        records: batch,
        ..FlowBatch::default()
    };
    core.execute(Some(&admin()), Command::IngestFlows("n1".into(), b))?;
    Ok(())
}

/// The baseline: summing the same records in a bare `HashMap` (no store, no graph).
fn hashmap_baseline(all: &[Vec<FlowRecord>]) -> Duration {
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

fn rate(n: usize, d: Duration) -> String {
    format!("{:.0}", n as f64 / d.as_secs_f64())
}

fn core_at(db: &Path) -> Res<Core> {
    Ok(Core::new(Store::open(db)?, TOKEN, CoreOptions::default())?)
}

/// Reports 10,000 workloads from 10 nodes.
fn inventory(core: &Core) -> Res<()> {
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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Wall time and this thread's CPU time (the machine is shared: CPU time is what the
/// query costs, wall time what a caller waited). Medians of `runs`; the result is
/// dropped outside the measurement.
fn timed<T>(runs: usize, mut f: impl FnMut() -> Res<T>) -> Res<(Duration, Duration)> {
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

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Child mode: open the database like a restarted server, answer one graph query, and
/// print the resident set before and after.
fn rss_child(db: &Path) -> Res<()> {
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

async fn http_ingest(dir: &Path, all: &[Vec<FlowRecord>]) -> Res<Duration> {
    let mut config = Config::new("127.0.0.1:0", dir.join("http.db"));
    config.token_file = Some(dir.join("http.token"));
    std::fs::write(dir.join("http.token"), TOKEN)?;
    let server = Server::bind(&config).await?;
    let addr = server.local_addr()?;
    let task = tokio::spawn(server.run(std::future::pending()));
    // Bodies are serialized up front: the client's JSON work is not the server's.
    let bodies: Vec<Vec<u8>> = all
        .iter()
        .map(|b| {
            serde_json::to_vec(&FlowBatch {
                records: b.clone(),
                ..FlowBatch::default()
            })
        })
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    for body in &bodies {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        let head = format!(
            "POST /api/v1/agents/n1/flows HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await?;
        s.write_all(body).await?;
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

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss") {
        let db = args.get(i + 1).ok_or("--rss needs a database path")?;
        return rss_child(Path::new(db));
    }
    let total: usize = std::env::var("BULKHEAD_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let mut o = String::new();
    writeln!(o, "# bulkhead-server benchmark\n")?;
    writeln!(
        o,
        "{total} flow records in batches of {BATCH}, {WORKLOADS} workloads, {EDGES} edges; file database (WAL, synchronous=FULL); {} cores.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )?;

    // Ingest through the core (aggregation, one durable transaction per batch, graph update).
    writeln!(
        o,
        "Load average at start: {}.\n",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    )?;
    writeln!(
        o,
        "## Ingest\n\nRecords per second of wall time, and per second of the ingesting thread's CPU time (what the work costs on a shared machine).\n"
    )?;
    writeln!(
        o,
        "| scenario | records/s (wall) | records/s (CPU) | bare HashMap records/s (CPU) | ratio (CPU) |\n|---|---:|---:|---:|---:|"
    )?;
    let main_db = dir.path().join("main.db");
    for (name, spread, db) in [
        (
            "core, every record a different edge (worst case)",
            BATCH,
            main_db.clone(),
        ),
        (
            "core, 1,000 edges per batch (50 records each)",
            1_000,
            dir.path().join("rep.db"),
        ),
    ] {
        let all = batches(total, spread);
        let base = hashmap_baseline(&all);
        let core = core_at(&db)?;
        let (t, c) = (Instant::now(), cpu_time::ThreadTime::now());
        for b in all {
            ingest(&core, b)?;
        }
        let (took, cpu) = (t.elapsed(), c.elapsed());
        let ratio = cpu.as_secs_f64() / base.as_secs_f64();
        writeln!(
            o,
            "| {name} | {} | {} | {} | {ratio:.1}x slower |",
            rate(total, took),
            rate(total, cpu),
            rate(total, base)
        )?;
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let http_batches = batches(total.min(500_000), BATCH);
    let n = http_batches.len() * BATCH;
    let took = runtime.block_on(http_ingest(dir.path(), &http_batches))?;
    writeln!(
        o,
        "| HTTP on loopback (JSON parse + the above), every record a different edge | {} | | | |",
        rate(n, took)
    )?;

    // Graph queries at full size.
    let core = core_at(&main_db)?;
    inventory(&core)?;
    let all = GraphQuery::default();
    let full = timed(5, || {
        Ok(core.execute(Some(&admin()), Command::Graph(all.clone()))?)
    })?;
    let Outcome::Graph(g) = core.execute(Some(&admin()), Command::Graph(all.clone()))? else {
        return Err("not a graph".into());
    };
    let json = timed(5, || Ok(serde_json::to_vec(&g)?))?;
    let one = GraphQuery {
        workload: Some(workload_id(42)),
        ..GraphQuery::default()
    };
    let around = timed(5, || {
        Ok(core.execute(Some(&admin()), Command::Graph(one.clone()))?)
    })?;
    let ns = GraphQuery {
        namespace: Some("ns7".into()),
        ..GraphQuery::default()
    };
    let by_ns = timed(5, || {
        Ok(core.execute(Some(&admin()), Command::Graph(ns.clone()))?)
    })?;
    let window = GraphQuery {
        since: Some(bulkhead_api::TimeBound::At(Timestamp(1_700_000_000_000))),
        ..GraphQuery::default()
    };
    let windowed = timed(3, || {
        Ok(core.execute(Some(&admin()), Command::Graph(window.clone()))?)
    })?;
    let page = bulkhead_api::FlowQuery {
        workload: Some(workload_id(42)),
        ..Default::default()
    };
    let flows = timed(5, || {
        Ok(core.execute(Some(&admin()), Command::Flows(page.clone()))?)
    })?;
    writeln!(
        o,
        "\n## Queries ({} nodes, {} edges; median)\n\n| query | wall ms | CPU ms |\n|---|---:|---:|",
        g.nodes.len(),
        g.edges.len()
    )?;
    for (name, d) in [
        ("whole graph (core, from memory)", full),
        ("whole graph, JSON encoding on top", json),
        ("graph around one workload (petgraph neighbours)", around),
        ("graph of one namespace", by_ns),
        (
            "whole graph over a time window (SQLite, per-minute buckets)",
            windowed,
        ),
        ("flows of one workload (SQLite)", flows),
    ] {
        writeln!(o, "| {name} | {} | {} |", ms(d.0), ms(d.1))?;
    }
    drop(core);

    // Memory of a server restarted on that database, measured in a fresh process.
    let out = std::process::Command::new(std::env::current_exe()?)
        .arg("--rss")
        .arg(&main_db)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<u64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if let [before, loaded, after, edges, bytes] = v[..] {
        let mib = |k: u64| k as f64 / 1024.0;
        writeln!(
            o,
            "\n## Memory\n\nA fresh process (VmRSS {:.1} MiB) opens the database ({edges} edges, {WORKLOADS} workloads) like a restarted server: **{:.1} MiB** resident (+{:.1} MiB for the server's state). Answering one whole-graph query ({:.1} MiB of JSON, built in memory at once) peaks at {:.1} MiB.",
            mib(before),
            mib(loaded),
            mib(loaded - before),
            bytes as f64 / 1048576.0,
            mib(after)
        )?;
    } else {
        writeln!(
            o,
            "\n## Memory\n\nthe measuring process failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )?;
    }

    print!("{o}");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|p| p.join("bench-reports"))
        .ok_or("no target directory")?;
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("server.md");
    std::fs::write(&path, o)?;
    println!("\nwritten to {}", path.display());
    Ok(())
}
