//! Compile time over the synthetic input ([`bulkhead_compile::synthetic::scale`]) at
//! 10, 1,000 and 10,000 workloads, reported as medians and as ratios to the smallest,
//! so growth (which should stay near-linear in the program's size) is visible apart
//! from the machine's speed.
//!
//! `cargo bench -p bulkhead-compile --bench compile` prints the report and writes it to
//! `<target>/bench-reports/compile.md`. `BULKHEAD_BENCH_SIZES=10,100` picks other sizes,
//! `BULKHEAD_BENCH_PEERS=5` another number of peers per workload.
//!
//! Both wall time and CPU time are reported: on a shared machine the wall median
//! includes waiting for a core, while CPU time (all threads, averaged over the runs)
//! is what the compiler itself costs. Nothing is asserted: the budget (well under
//! 100 ms at 10,000 workloads, so that compile + apply fit in 300 ms) is read from the
//! report, not enforced by a flaky test.

#[path = "compile/update.rs"]
mod update;

use bulkhead_compile::synthetic::{self, Synthetic};
use bulkhead_compile::{Input, compile};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Peers per workload (`BULKHEAD_BENCH_PEERS` overrides): 10 gives 23 entries per
/// workload, so 10,000 workloads compile to 230,000 entries.
fn peers() -> usize {
    std::env::var("BULKHEAD_BENCH_PEERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

struct Row {
    workloads: usize,
    /// CPU time per compile (all threads), averaged over the runs.
    cpu: Duration,
    median: Duration,
    min: Duration,
    runs: usize,
    entries: usize,
    identities: usize,
    ipcache: usize,
}

fn measure(workloads: usize) -> Result<Row, String> {
    let Synthetic {
        policies,
        inventory,
    } = synthetic::scale(workloads, peers());
    let (modes, interfaces) = (BTreeMap::new(), BTreeMap::new());
    let input = Input {
        policies: &policies,
        inventory: &inventory,
        node: None,
        modes: &modes,
        interfaces: &interfaces,
    };
    // One warm-up run, then enough runs for a stable median (at least 5, about 2 s).
    let program = compile(&input).map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    let cpu_before = cpu_time()?;
    let started = Instant::now();
    while times.len() < 5 || (started.elapsed() < Duration::from_secs(2) && times.len() < 500) {
        let t = Instant::now();
        let p = compile(&input).map_err(|e| e.to_string())?;
        times.push(t.elapsed());
        std::hint::black_box(p);
    }
    let cpu = (cpu_time()? - cpu_before) / times.len() as u32;
    times.sort();
    Ok(Row {
        workloads,
        cpu,
        median: times[times.len() / 2],
        min: times[0],
        runs: times.len(),
        entries: program.entry_count(),
        identities: program.identities.len() - 1,
        ipcache: program.ipcache.len(),
    })
}

/// User plus system CPU time of the process (the compiler's helper threads included).
/// The kernel updates it at scheduler ticks, so single runs are ±4 ms; the difference
/// over many runs is exact enough.
fn cpu_time() -> Result<Duration, String> {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_SELF).map_err(|e| e.to_string())?;
    let d = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    Ok(d(u.user_time()) + d(u.system_time()))
}

fn report(rows: &[Row]) -> String {
    let mut out = String::new();
    let base = rows.first().map_or(1.0, |r| r.median.as_secs_f64());
    let cpu_base = rows.first().map_or(1.0, |r| r.cpu.as_secs_f64());
    let _ = writeln!(out, "# Compile benchmark\n");
    let _ = writeln!(
        out,
        "Input: `synthetic::scale(workloads, {})`; release build; median of repeated runs.\n",
        peers()
    );
    let _ = writeln!(
        out,
        "| workloads | entries | identities | ipcache | CPU ms | median ms | min ms | runs | CPU × smallest | median × smallest |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {} | {:.1} | {:.1} |",
            r.workloads,
            r.entries,
            r.identities,
            r.ipcache,
            r.cpu.as_secs_f64() * 1e3,
            r.median.as_secs_f64() * 1e3,
            r.min.as_secs_f64() * 1e3,
            r.runs,
            r.cpu.as_secs_f64() / cpu_base,
            r.median.as_secs_f64() / base,
        );
    }
    out
}

fn main() -> Result<(), String> {
    let sizes: Vec<usize> = std::env::var("BULKHEAD_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 1_000, 10_000]);
    let rows = sizes
        .iter()
        .map(|&n| measure(n))
        .collect::<Result<Vec<_>, _>>()?;
    let updates = sizes
        .iter()
        .map(|&n| update::measure(n, peers()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut text = report(&rows);
    update::report(&updates, &mut text);
    print!("{text}");
    // CARGO_TARGET_TMPDIR is `<target>/tmp`; reports go beside it.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|p| p.join("bench-reports"))
        .ok_or("no target directory")?;
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("compile.md");
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    println!("\nwritten to {}", path.display());
    Ok(())
}
