//! Auto-learning benchmark: a baseline from 1,000,000 recorded flow records (goal: at most
//! 2 s) and replay throughput (goal: at least 1,000,000 flows per second), each against a
//! plain pass over the same records measured in the same run. Not a test: it prints a
//! report and writes it to `docs/bench/learn.md`.
//!
//! `cargo bench -p bulkhead-policy --bench learn` (`BULKHEAD_BENCH_RECORDS=100000` for a
//! quick run). Times are the best of several runs, in wall time and in the thread's CPU
//! time (`CLOCK_THREAD_CPUTIME_ID`), which other work on a shared machine disturbs less.

mod data;

use bulkhead_policy::PolicySet;
use bulkhead_policy::baseline::{self, Endpoint, Format, Options};
use bulkhead_policy::eval::{Flow, Prepared, evaluate};
use std::fmt::Write as _;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Nanoseconds this thread has run on a CPU.
fn cpu_ns() -> u64 {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map_or(0, |t| {
        (t.tv_sec() as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(t.tv_nsec() as u64)
    })
}

/// Best (wall, CPU) of `runs` runs of `f`, and its last result.
fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let (mut wall, mut cpu) = (Duration::MAX, Duration::MAX);
    let mut last = None;
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_ns());
        let out = black_box(f());
        wall = wall.min(t.elapsed());
        cpu = cpu.min(Duration::from_nanos(cpu_ns().saturating_sub(c)));
        last = Some(out);
    }
    (wall, cpu, last.expect("at least one run"))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn per_s(n: usize, d: Duration) -> String {
    format!("{:.2} M/s", n as f64 / d.as_secs_f64() / 1e6)
}

fn main() -> Res<()> {
    let n: usize = std::env::var("BULKHEAD_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let inv = data::inventory();
    let obs = data::observations(&inv, n, 42);
    let mut o = String::new();
    writeln!(o, "# Auto-learning benchmark\n")?;
    writeln!(
        o,
        "`cargo bench -p bulkhead-policy --bench learn`: {n} recorded flow records over {} workloads ({} namespaces × {} apps × {} replicas, each with a per-copy label), 10% from 50 outside /24 networks, 5% to DNS, 2% from the node. Best of 3 runs; {} cores; load average at start {}.\n",
        inv.workloads.len(),
        data::NAMESPACES,
        data::APPS,
        data::REPLICAS,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    )?;

    // Baseline generation against a plain pass that reads every field of every record.
    let (pw, pc, _) = best(3, || {
        let mut acc = 0u64;
        for r in &obs {
            let side = |e: &Endpoint| match e {
                Endpoint::Workload(id) => id.name.len() as u64,
                Endpoint::Address(a) => u64::from(a.octets()[3]),
            };
            acc = acc
                .wrapping_add(r.flows ^ u64::from(r.port) ^ side(&r.source) ^ side(&r.destination));
            acc = acc.wrapping_add((r.first_seen ^ r.last_seen) as u64 ^ u64::from(r.protocol));
        }
        acc
    });
    let (gw, gc, learned) = best(3, || baseline::generate(&inv, &obs, &Options::default()));
    let learned = learned?;
    let (rw, rc, yaml) = best(3, || baseline::render(&learned, &inv, Format::Native));
    let rules: usize = learned
        .policies
        .iter()
        .map(|p| p.ingress.len() + p.egress.len())
        .sum();
    writeln!(o, "## Baseline\n")?;
    writeln!(
        o,
        "{} policies, {rules} rules, {} KiB of YAML.\n",
        learned.policies.len(),
        yaml.len() / 1024
    )?;
    writeln!(
        o,
        "| step | wall | CPU | records/s (CPU) | ratio to the plain pass (CPU) |\n|---|---:|---:|---:|---:|"
    )?;
    writeln!(
        o,
        "| plain pass over the records | {} | {} | {} | 1 |",
        ms(pw),
        ms(pc),
        per_s(n, pc)
    )?;
    let ratio = |c: Duration| c.as_secs_f64() / pc.as_secs_f64().max(1e-9);
    writeln!(
        o,
        "| `baseline::generate` | {} | {} | {} | {:.1} |",
        ms(gw),
        ms(gc),
        per_s(n, gc),
        ratio(gc)
    )?;
    writeln!(
        o,
        "| `baseline::render` (native YAML) | {} | {} | – | {:.1} |",
        ms(rw),
        ms(rc),
        ratio(rc)
    )?;
    writeln!(
        o,
        "\nGoal: a baseline from 1,000,000 records in at most 2 s: generate + render took {} (wall).\n",
        ms(gw + rw)
    )?;

    // Replay: the learned policies over every record, plus 5% lateral flows it must deny.
    let set = PolicySet::new(
        bulkhead_policy::parse_documents("baseline.yaml", &yaml).map_err(|d| d.to_string())?,
    )
    .map_err(|d| d.to_string())?;
    let ip = |e: &Endpoint| match e {
        Endpoint::Workload(id) => inv.workload(id).map_or(Ipv4Addr::UNSPECIFIED, |w| w.ips[0]),
        Endpoint::Address(a) => *a,
    };
    let ips: std::collections::HashMap<&bulkhead_policy::WorkloadId, Ipv4Addr> =
        inv.workloads.iter().map(|w| (&w.id, w.ips[0])).collect();
    let mut rng = data::Rng::new(7);
    let mut flows: Vec<Flow> = obs
        .iter()
        .map(|r| {
            let addr = |e: &Endpoint| match e {
                Endpoint::Workload(id) => ips.get(id).copied().unwrap_or(Ipv4Addr::UNSPECIFIED),
                Endpoint::Address(a) => *a,
            };
            Flow {
                src: addr(&r.source),
                dst: addr(&r.destination),
                protocol: r.protocol,
                port: r.port,
            }
        })
        .collect();
    for f in flows.iter_mut().step_by(20) {
        let (a, b) = (
            rng.below(inv.workloads.len()),
            rng.below(inv.workloads.len()),
        );
        *f = Flow {
            src: inv.workloads[a].ips[0],
            dst: inv.workloads[b].ips[0],
            protocol: 6,
            port: 5432,
        };
    }
    let _ = ip;
    let (fw, fc, _) = best(3, || {
        flows.iter().fold(0u64, |acc, f| {
            acc.wrapping_add(
                u64::from(u32::from(f.src) ^ u32::from(f.dst))
                    ^ u64::from(f.port)
                    ^ u64::from(f.protocol),
            )
        })
    });
    let (ew, ec, denied) = best(3, || {
        let prepared = Prepared::new(&set, &inv);
        flows
            .iter()
            .filter(|f| !prepared.evaluate(f).allowed)
            .count()
    });
    let sample = &flows[..flows.len().min(20_000)];
    let (sw, sc, sample_denied) = best(1, || {
        sample
            .iter()
            .filter(|f| !evaluate(&set, &inv, f).allowed)
            .count()
    });
    let prepared = Prepared::new(&set, &inv);
    let agree = sample
        .iter()
        .all(|f| prepared.evaluate(f) == evaluate(&set, &inv, f));
    // Every 20th flow is a lateral one; all others were recorded while learning.
    let learned_denied = flows
        .iter()
        .enumerate()
        .filter(|(i, f)| i % 20 != 0 && !prepared.allows(f))
        .count();
    writeln!(o, "## Replay\n")?;
    writeln!(
        o,
        "The {} learned policies over {} flows ({} of them lateral connections on port 5432 that no one made while learning; the rest is the recorded traffic): {denied} denied, of which {learned_denied} among the recorded traffic (a lateral pair that is one workload, self traffic, passes). The reference evaluator (`eval::evaluate`, which scans the inventory and the policy set for every flow) is timed on the first {} flows ({sample_denied} denied); the prepared evaluator gave the same verdicts and reasons on all of them: {agree}.\n",
        set.policies.len(),
        flows.len(),
        flows.len().div_ceil(20),
        sample.len()
    )?;
    writeln!(
        o,
        "| step | wall | CPU | flows/s (CPU) | ratio to the plain pass (CPU) |\n|---|---:|---:|---:|---:|"
    )?;
    writeln!(
        o,
        "| plain pass over the flows | {} | {} | {} | 1 |",
        ms(fw),
        ms(fc),
        per_s(flows.len(), fc)
    )?;
    let r2 = |c: Duration, k: usize| {
        (c.as_secs_f64() / k as f64) / (fc.as_secs_f64() / flows.len() as f64).max(1e-12)
    };
    writeln!(
        o,
        "| `eval::Prepared` (set-up included; reasons of the denied) | {} | {} | {} | {:.0} |",
        ms(ew),
        ms(ec),
        per_s(flows.len(), ec),
        r2(ec, flows.len())
    )?;
    writeln!(
        o,
        "| `eval::evaluate` (reference), {} flows | {} | {} | {} | {:.0} |",
        sample.len(),
        ms(sw),
        ms(sc),
        per_s(sample.len(), sc),
        r2(sc, sample.len())
    )?;
    writeln!(
        o,
        "\nGoal: replay at least 1,000,000 flows/s: {} (wall, set-up included).",
        per_s(flows.len(), ew)
    )?;

    print!("{o}");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/bench/learn.md");
    std::fs::write(path, &o)?;
    eprintln!("written to {path}");
    Ok(())
}
