//! Server benchmark: ingest throughput (core and HTTP), graph query time at 10,000
//! workloads and 100,000 edges, and resident memory at that size. Not a test: it prints
//! a report and writes it to `<target>/bench-reports/server.md`.
//!
//! `cargo bench -p bulkhead-server` (`BULKHEAD_BENCH_RECORDS=200000` for a quick run).
//! Every ingest is committed to a file database (WAL, `synchronous = NORMAL`: durable
//! against a killed process, see docs/server.md), as in production.

mod old;
mod work;

use bulkhead_api::{GraphQuery, Timestamp};
use bulkhead_server::core::{Command, Outcome};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;
use work::*;

pub const WORKLOADS: usize = 10_000;
pub const EDGES: usize = 100_000;
pub const BATCH: usize = 50_000;
pub const TOKEN: &str = "bh_bench0123456789abcdef0123456789abcdef0123456789";

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

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
        "{total} flow records in batches of {BATCH}, {WORKLOADS} workloads, {EDGES} edges; file database (WAL, synchronous=NORMAL); {} cores.\n",
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
    // The worst case's wall rate through the core: what the HTTP rows are compared with.
    let mut core_wall = 0.0;
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
        if spread >= BATCH {
            core_wall = total as f64 / took.as_secs_f64();
        }
        writeln!(
            o,
            "| {name} | {} | {} | {} | {ratio:.1}x slower |",
            rate(total, took),
            rate(total, cpu),
            rate(total, base)
        )?;
    }
    // `BULKHEAD_BENCH_ONLY=core` stops here (quick ingest experiments).
    let only = std::env::var("BULKHEAD_BENCH_ONLY").unwrap_or_default();
    if only == "core" {
        print!("{o}");
        return Ok(());
    }
    // What the agent's side of the binary path costs: encoding alone, this thread's CPU.
    let owned: Vec<bulkhead_api::FlowBatch> = batches(total.min(200_000), BATCH)
        .into_iter()
        .map(|records| bulkhead_api::FlowBatch {
            records,
            ..Default::default()
        })
        .collect();
    let c = cpu_time::ThreadTime::now();
    let size: usize = owned
        .iter()
        .map(|b| bulkhead_api::wire::encode(b).len())
        .sum();
    let per = c.elapsed().as_secs_f64() * 1e9 / (owned.len() * BATCH) as f64;
    let json: usize = owned
        .iter()
        .map(|b| serde_json::to_vec(b).map_or(0, |v| v.len()))
        .sum();
    let records = (owned.len() * BATCH) as f64;
    let encode_note = format!(
        "Encoding a batch for the binary body costs the client {per:.0} ns of CPU a record; a record is {:.1} bytes in it, {:.1} in JSON.",
        size as f64 / records,
        json as f64 / records
    );
    let runtime = tokio::runtime::Runtime::new()?;
    // The same records as the worst case through the core, so the ratio compares like with like.
    let http_batches = batches(total, BATCH);
    let n = http_batches.len() * BATCH;
    for (name, kind) in [
        ("HTTP on loopback, JSON body", Body::Json),
        (
            "HTTP on loopback, binary body (bulkhead_api::wire, what the agent sends)",
            Body::Wire,
        ),
    ] {
        let cpu = cpu_time::ProcessTime::now();
        let took = runtime.block_on(http_ingest(dir.path(), &http_batches, kind))?;
        let cpu = cpu.elapsed();
        let wall = n as f64 / took.as_secs_f64();
        writeln!(
            o,
            "| {name}: client encode + request + parse + the above, every record a different edge; CPU of the whole process (server threads and the client) | {} | {} | | {:.2}x the core's wall rate |",
            rate(n, took),
            rate(n, cpu),
            wall / core_wall
        )?;
    }

    writeln!(o, "\n{encode_note}")?;

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
    // The same window with no minutes in memory (its bound exceeded): by the hour, from
    // the hours in memory, then with none of those either (the store's rollups).
    let small = work::core_with(&main_db, 0)?;
    inventory(&small)?;
    let stored = timed(3, || {
        Ok(small.execute(Some(&admin()), Command::Graph(window.clone()))?)
    })?;
    drop(small);
    let bare = work::core_with_hours(&main_db, 0, 0)?;
    inventory(&bare)?;
    let rolled = timed(3, || {
        Ok(bare.execute(Some(&admin()), Command::Graph(window.clone()))?)
    })?;
    drop(bare);
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
            "whole graph over a time window (per-minute buckets in memory)",
            windowed,
        ),
        (
            "the same window, no minutes in memory (bound exceeded): by the hour, hours in memory",
            stored,
        ),
        (
            "the same window, no hours in memory either: the store's rollups and unfolded buckets",
            rolled,
        ),
        ("flows of one workload (from memory)", flows),
    ] {
        writeln!(o, "| {name} | {} | {} |", ms(d.0), ms(d.1))?;
    }
    drop(core);
    old::old_windows(dir.path(), total, &mut o)?;

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
