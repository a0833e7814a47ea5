//! How long labs take to come up, to reconcile unchanged, to probe every pair, and to go
//! down, at 10, 30 and 100 workloads (each with a TCP and a UDP port, so a probe makes
//! n × (n − 1) × 2 attempts). Privileged: it makes real namespaces, inside which it
//! makes all its traffic, and removes them all.
//!
//! `cargo build --release -p bulkhead && cargo bench -p bulkhead-lab --bench lab`
//! prints the report and writes it to `<target>/bench-reports/lab.md`. The listeners
//! run in `bulkhead lab serve`: the binary is `$BULKHEAD_BIN`, else the `bulkhead`
//! beside this bench's target directory. `BULKHEAD_BENCH_SIZES=10,50` picks other sizes.
//! Nothing is asserted; the goal (30 workloads up in a few seconds) is read here.

use bulkhead_lab::{ProbeOptions, UpOptions};
use bulkhead_policy::lab::LabFile;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Row {
    workloads: usize,
    up: Duration,
    reup: Duration,
    probe: Duration,
    attempts: usize,
    allowed: usize,
    down: Duration,
}

/// Takes the lab down even if a measurement fails half-way.
struct Down(String);

impl Drop for Down {
    fn drop(&mut self) {
        if let Err(e) = bulkhead_lab::down(&self.0, None) {
            eprintln!("lab down {}: {e}", self.0);
        }
    }
}

fn lab_text(name: &str, n: usize) -> String {
    let mut text = format!("name: {name}\nsubnet: 10.0.0.0/16\nworkloads:\n");
    for i in 0..n {
        let _ = writeln!(
            text,
            "  - {{name: w{i}, namespace: n{}, ip: 10.0.{}.{}, ports: [{{port: 80}}, {{port: 53, protocol: UDP}}]}}",
            i % 5,
            1 + i / 200,
            10 + i % 200
        );
    }
    text
}

fn measure(n: usize, exe: &Path) -> Result<Row, String> {
    let name = format!("bl{:x}", (std::process::id() as usize * 131 + n) % 0xfffff);
    let lab = LabFile::parse("bench.yaml", &lab_text(&name, n)).map_err(|d| d.to_string())?;
    let opts = UpOptions {
        source: None,
        serve_exe: Some(exe.to_path_buf()),
    };
    let guard = Down(name);
    let t = Instant::now();
    bulkhead_lab::up(&lab, &opts).map_err(|e| e.to_string())?;
    let up = t.elapsed();
    let t = Instant::now();
    bulkhead_lab::up(&lab, &opts).map_err(|e| e.to_string())?;
    let reup = t.elapsed();
    let t = Instant::now();
    let results = bulkhead_lab::probe(&lab, &ProbeOptions::default()).map_err(|e| e.to_string())?;
    let probe = t.elapsed();
    let t = Instant::now();
    bulkhead_lab::down(&guard.0, Some(&lab)).map_err(|e| e.to_string())?;
    let down = t.elapsed();
    Ok(Row {
        workloads: n,
        up,
        reup,
        probe,
        attempts: results.len(),
        allowed: results.iter().filter(|r| r.allowed).count(),
        down,
    })
}

fn report(rows: &[Row]) -> String {
    let mut out = String::from(
        "# Lab bench\n\n| workloads | up | up again | probe | attempts | allowed | down |\n|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {:.0?} | {:.0?} | {:.0?} | {} | {} | {:.0?} |",
            r.workloads, r.up, r.reup, r.probe, r.attempts, r.allowed, r.down
        );
    }
    out
}

fn serve_exe() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("BULKHEAD_BIN") {
        return Ok(PathBuf::from(p));
    }
    // This bench runs from <target>/<profile>/deps/.
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let beside = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|p| p.join("bulkhead"))
        .filter(|p| p.exists());
    beside.ok_or_else(|| {
        "no bulkhead binary: build it (cargo build --release -p bulkhead) or set BULKHEAD_BIN"
            .into()
    })
}

fn main() -> Result<(), String> {
    // `cargo test --benches` runs benches once as tests: that is not a measurement.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return Ok(());
    }
    // `RUST_LOG=bulkhead_lab=debug` shows where each `up` spends its time.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let exe = serve_exe()?;
    let sizes: Vec<usize> = std::env::var("BULKHEAD_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 30, 100]);
    let rows = sizes
        .iter()
        .map(|n| measure(*n, &exe))
        .collect::<Result<Vec<_>, _>>()?;
    let text = report(&rows);
    print!("{text}");
    // CARGO_TARGET_TMPDIR is `<target>/tmp`; reports go beside it.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|p| p.join("bench-reports"))
        .ok_or("no target directory")?;
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("lab.md");
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    println!("\nwritten to {}", path.display());
    Ok(())
}
