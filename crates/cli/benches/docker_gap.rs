//! Start-gap benchmark: how long a new Docker container runs before its rules are in
//! force, and how many of its connections pass in that time, per backend.
//!
//! Privileged (root: a `dockerd` in a namespace of its own, nftables, eBPF).
//! `cargo bench -p bulkhead --bench docker_gap`; `BULKHEAD_BENCH_ROUNDS` (default 10).
//! Writes `<target>/bench-reports/docker.md` (copied to docs/bench/docker.md by hand).
//!
//! Each round starts a container labelled `app: intruder`, whose policy denies all its
//! egress, with a command that connects to an open listener in a tight loop from its
//! first instruction, printing `ok` per connection, and stops at the first refused one.
//! - **passed**: the `ok`s — connections its policy denies that got through anyway;
//! - **in force after**: from the container's start (Docker's `State.StartedAt`) to the
//!   end of the agent's first apply that knows it (the agent's `in force` log line);
//! - **baseline**: in the same round, from `docker run` being called to `StartedAt`
//!   (Docker's own start latency), so the gap reads as a ratio of it.
//!
//! Each backend runs with the unknown-address guard (the default) and without it
//! (`--no-unknown-guard`), the latter showing what the guard prevents.

#[path = "docker/gap.rs"]
mod gap;
#[path = "../../../tests/e2e/harness/mod.rs"]
mod harness;

use harness::docker::DockerEngine;
use std::fmt::Write as _;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(()); // `cargo test --benches` lists; nothing to run without root
    }
    let rounds: usize = std::env::var("BULKHEAD_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mut report = String::new();
    writeln!(report, "# Docker start gap\n")?;
    writeln!(
        report,
        "`cargo bench -p bulkhead --bench docker_gap` ({rounds} rounds per backend; \
         dockerd {}; kernel {}).\n",
        DockerEngine::version(),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")?.trim()
    )?;
    writeln!(
        report,
        "| backend | passed (total / rounds with any) | in force after: median / max (ms) | \
         baseline `docker run` → started: median (ms) | gap / baseline |"
    )?;
    writeln!(report, "|---|---|---|---|---|")?;
    let mut details = String::new();
    for (backend, guard) in [
        ("nft", true),
        ("nft", false),
        ("ebpf", true),
        ("ebpf", false),
    ] {
        let rounds = gap::run(backend, guard, rounds)?;
        let backend = if guard {
            backend.to_string()
        } else {
            format!("{backend}, --no-unknown-guard")
        };
        let passed: usize = rounds.iter().map(|r| r.passed).sum();
        let with_any = rounds.iter().filter(|r| r.passed > 0).count();
        let mut gaps: Vec<f64> = rounds.iter().map(|r| r.in_force_ms).collect();
        let mut base: Vec<f64> = rounds.iter().map(|r| r.baseline_ms).collect();
        let (g, b) = (median(&mut gaps), median(&mut base));
        let max = gaps.iter().copied().fold(0.0, f64::max);
        writeln!(
            report,
            "| {backend} | {passed} / {with_any} | {g:.1} / {max:.1} | {b:.1} | {:.2} |",
            g / b
        )?;
        for (i, r) in rounds.iter().enumerate() {
            writeln!(
                details,
                "| {backend} | {i} | {} | {:.1} | {:.1} |",
                r.passed, r.in_force_ms, r.baseline_ms
            )?;
        }
    }
    writeln!(report, "\nPer round:\n")?;
    writeln!(
        report,
        "| backend | round | passed | in force after (ms) | baseline (ms) |"
    )?;
    writeln!(report, "|---|---|---|---|---|")?;
    report.push_str(&details);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
        .join("bench-reports");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("docker.md"), &report)?;
    print!("{report}");
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
