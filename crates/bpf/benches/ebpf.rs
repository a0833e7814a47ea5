//! `cargo bench -p bulkhead-bpf --bench ebpf` (root): writes `docs/bench/ebpf.md`. In
//! one run, on namespaces this run creates:
//!
//! - TCP throughput (iperf3) and new-connection rate between two real workloads with no
//!   firewall, the nft backend and the eBPF backend, each at ~10 and ~100,000 policy
//!   entries (the compiler's synthetic input; every other endpoint of the large program
//!   has an ifb interface holding its programs, this kernel having no dummy driver);
//! - per-packet cost of a check point with `BPF_PROG_TEST_RUN` on the attached program,
//!   from ~10 to ~100,000 entries: a new connection that is denied (every lookup:
//!   ipcache, the peer's entry, the wildcard entry, the default, plus an event), a
//!   packet of an established connection (conntrack), and a packet on an interface
//!   without endpoint;
//! - one workload's update at every size (time until the new generation is in force,
//!   by phase, and the whole apply with the grace period and the second slot);
//! - the flow-event path from the ring buffer to per-flow records: the reader alone,
//!   and concurrently with a producer, with loss counted.
//!
//! Figures are reported beside a baseline measured in the same run. Nothing is asserted
//! but that the firewall under test is really in the path (a denied port is closed).
//! `BULKHEAD_BENCH_QUICK=1` skips throughput and per-packet cost (development only).

#[path = "bench/goals.rs"]
mod goals;
#[path = "bench/kernel.rs"]
mod kernel;
#[path = "bench/path.rs"]
mod path;
#[path = "bench/scale.rs"]
mod scale;
#[path = "bench/topo.rs"]
mod topo;

use bulkhead_bpf::EbpfDataplane;
use bulkhead_compile::{Program, synthetic};
use bulkhead_dataplane::Dataplane;
use bulkhead_nft::NftBackend;
use goals::Goals;
use scale::{PORT, Scenario};
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use topo::{Topo, sh};

/// (workloads, peers): about 10, 100, 4,000 and just over 100,000 entries (the issue's
/// size; checked below).
const SIZES: [(usize, usize); 4] = [(2, 1), (10, 48), (100, 53), (1000, 56)];
const ROUNDS: usize = 5;
const IPERF_SECS: u32 = 4;
/// Reader-alone runs of the event path, and events per run (the ring holds 349,525).
const FILLS: usize = 10;
const PER_FILL: u32 = 300_000;
/// A port the policies never open between client and server.
const DENIED_PORT: u16 = 9999;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Size {
    scenario: Scenario,
    program: Program,
    map_entries: usize,
}

/// Moves client and server to the scenario's addresses (the real pair stays the same).
fn readdress(topo: &mut Topo, s: &Scenario) {
    for (ns, i) in [
        (&topo.client.name, s.client()),
        (&topo.server.name, s.server()),
    ] {
        sh(&["ip", "-n", ns, "addr", "flush", "dev", "eth0"]);
        sh(&[
            "ip",
            "-n",
            ns,
            "addr",
            "add",
            &format!("{}/8", synthetic::address(i)),
            "dev",
            "eth0",
        ]);
    }
    topo.server_ip = synthetic::address(s.server());
}

fn main() {
    let mut report = String::from("# eBPF backend benchmark\n\n");
    let sizes: Vec<Size> = SIZES
        .iter()
        .map(|&(w, p)| {
            let scenario = scale::scenario(w, p);
            let program = scale::compile_program(&scenario, &scenario.policies);
            let ids = bulkhead_compile::ebpf::assign_ids(&Default::default(), &program);
            let maps = bulkhead_compile::ebpf::node_maps(&program, &ids).expect("map entries");
            let map_entries = maps.endpoints.iter().map(|e| e.policy.len()).sum();
            Size {
                scenario,
                program,
                map_entries,
            }
        })
        .collect();
    let (small, large) = (&sizes[0], &sizes[sizes.len() - 1]);
    assert!(
        large.program.entry_count() >= 100_000 && large.map_entries >= 100_000,
        "the largest size must hold at least 100,000 entries: {} program entries, {} map entries",
        large.program.entry_count(),
        large.map_entries
    );
    let c = synthetic::address(large.scenario.client());
    let mut topo = Topo::new(
        c,
        synthetic::address(large.scenario.server()),
        &large.scenario.dummies(),
    );
    let _ = writeln!(
        report,
        "Host: 2 cores, kernel {}. Policy: `synthetic::scale(W, P)` with the two real workloads made peers; every workload local.\n",
        String::from_utf8_lossy(
            &std::process::Command::new("uname")
                .arg("-r")
                .output()
                .expect("uname")
                .stdout
        )
        .trim()
    );

    // Other processes share these 2 cores: their load is what makes throughput noisy.
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let _ = writeln!(report, "Load average at the start: {}\n", load().trim());
    let header_end = report.len();
    let mut goals = Goals::new();
    // BULKHEAD_BENCH_QUICK=1 (development only) skips throughput and per-packet cost.
    let quick = std::env::var_os("BULKHEAD_BENCH_QUICK").is_some();
    if quick {
        report.push_str("**Quick run: throughput and per-packet cost skipped.**\n\n");
    } else {
        throughput(&mut report, &mut topo, small, large, &mut goals);
        readdress(&mut topo, &large.scenario);
        goals.firm = Some(path::measure(&mut report, &topo, &large.program));
        per_packet(&mut report, &topo, &sizes, &mut goals);
    }
    let mut dp = updates(&mut report, &topo, &sizes, &mut goals);
    events(&mut report, &topo, large, &mut dp, &mut goals);
    dp.remove().expect("remove");
    report.insert_str(header_end, &goals.render(quick));

    let _ = writeln!(report, "\nLoad average at the end: {}", load().trim());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/bench");
    let _ = std::fs::create_dir_all(&dir);
    let out = dir.join("ebpf.md");
    std::fs::write(&out, &report).expect("write report");
    print!("{report}");
    eprintln!("report written to {}", out.display());
}

/// Section 1: throughput and connection rate, no firewall, nft and eBPF at both sizes.
fn throughput(report: &mut String, topo: &mut Topo, small: &Size, large: &Size, goals: &mut Goals) {
    // 1. Throughput and connection rate: none, nft and ebpf at both sizes, interleaved.
    let variants = [
        "no firewall",
        "nft, small",
        "nft, large",
        "ebpf, small",
        "ebpf, large",
    ];
    let mut gbits = vec![Vec::new(); variants.len()];
    let mut conns = vec![Vec::new(); variants.len()];
    for _ in 0..ROUNDS {
        for (v, name) in variants.iter().enumerate() {
            let size = if name.ends_with("small") {
                small
            } else {
                large
            };
            readdress(topo, &size.scenario);
            let mut nft = None;
            let mut ebpf = None;
            let t = Instant::now();
            if name.starts_with("nft") {
                let mut b = NftBackend::new(topo.node.path()).expect("nft backend");
                b.apply(&size.program).expect("nft apply");
                nft = Some(b);
            } else if name.starts_with("ebpf") {
                let mut dp = EbpfDataplane::open(&topo.node.name).expect("ebpf open");
                dp.apply(&size.program).expect("ebpf apply");
                ebpf = Some(dp);
            }
            let applied = t.elapsed();
            // The firewall must really be in the path: the policy denies client →
            // server on another port, which passes only without a firewall.
            let open = if v == 0 {
                topo.wait_unfiltered(DENIED_PORT)
            } else {
                topo.reaches(DENIED_PORT)
            };
            assert_eq!(open, v == 0, "{name}: port {DENIED_PORT} open = {open}");
            gbits[v].push(topo.iperf(PORT, IPERF_SECS));
            conns[v].push(topo.connection_rate(PORT));
            eprintln!(
                "{name}: applied in {:.0} ms, {:.2} Gbit/s, {:.0} conn/s",
                ms(applied),
                gbits[v].last().copied().unwrap_or_default(),
                conns[v].last().copied().unwrap_or_default()
            );
            if let Some(mut b) = nft {
                b.remove_table().expect("nft remove");
            }
            if let Some(mut dp) = ebpf {
                dp.remove().expect("ebpf remove");
            }
        }
    }
    let _ = writeln!(
        report,
        "## Throughput (iperf3, {IPERF_SECS} s) and new TCP connections/s, {ROUNDS} interleaved rounds\n\nsmall = {} program entries ({} policy map entries), large = {} entries ({} policy map entries, {} endpoints, each with its programs attached). Values are medians over rounds; ratios are medians of each round's ratio to that round's no-firewall run.\n\n| variant | Gbit/s | ratio to no firewall | conn/s | ratio |\n|---|---|---|---|---|",
        small.program.entry_count(),
        small.map_entries,
        large.program.entry_count(),
        large.map_entries,
        large.program.endpoints.len()
    );
    // Each variant against the no-firewall run of the same round (seconds apart), so
    // that the load other processes put on the machine cancels out as far as it can.
    let per_round = |runs: &[Vec<f64>], v: usize| {
        median(
            runs[v]
                .iter()
                .zip(&runs[0])
                .map(|(x, base)| x / base)
                .collect(),
        )
    };
    goals.throughput = Some((per_round(&gbits, 4), per_round(&gbits, 2)));
    let base = &gbits[0];
    goals.baseline_spread = base.iter().copied().fold(0.0, f64::max)
        / base.iter().copied().fold(f64::INFINITY, f64::min);
    goals.throughput_entries = large.program.entry_count();
    for (v, name) in variants.iter().enumerate() {
        let (g, cr) = (median(gbits[v].clone()), median(conns[v].clone()));
        let _ = writeln!(
            report,
            "| {name} | {g:.2} | {:.3} | {cr:.0} | {:.3} |",
            per_round(&gbits, v),
            per_round(&conns, v)
        );
    }
    let _ = writeln!(report, "\nAll runs (Gbit/s): {gbits:.2?}\n");
}

/// Section 2: per-packet cost with BPF_PROG_TEST_RUN at every size.
fn per_packet(report: &mut String, topo: &Topo, sizes: &[Size], goals: &mut Goals) {
    // 2. Per-packet cost with BPF_PROG_TEST_RUN, at every size.
    let _ = writeln!(
        report,
        "## Per-packet cost (BPF_PROG_TEST_RUN on the attached from-workload program, kernel-measured mean, median of 5)\n\n| entries | policy map entries | denied new connection ns | ratio to smallest | established ns | ratio | no endpoint ns |\n|---|---|---|---|---|---|---|"
    );
    let (cli, br) = (topo.ifindex("cli"), topo.ifindex("br0"));
    let mut base = None;
    for size in sizes {
        let s = &size.scenario;
        let (src, dst) = (
            synthetic::address(s.client()),
            synthetic::address(s.server()),
        );
        let mut dp = EbpfDataplane::open(&topo.node.name).expect("ebpf open");
        dp.apply(&size.program).expect("ebpf apply");
        let mut flows = bulkhead_bpf::EbpfFlows::open(&topo.node.name).expect("flows");
        let denied = kernel::tcp_packet(src, dst, 40_000, DENIED_PORT, kernel::SYN);
        let (_, allowed) = kernel::cost(
            &mut dp,
            topo,
            &kernel::tcp_packet(src, dst, 40_001, PORT, kernel::SYN),
            cli,
            1,
        );
        let established = kernel::tcp_packet(src, dst, 40_001, PORT, kernel::ACK);
        let mut d = Vec::new();
        let mut e = Vec::new();
        let mut n = Vec::new();
        let mut ret = (0, 0);
        for _ in 0..5 {
            kernel::drain(&mut flows);
            let (ns, r) = kernel::cost(&mut dp, topo, &denied, cli, 100_000);
            d.push(ns);
            ret.0 = r;
            let (ns, r) = kernel::cost(&mut dp, topo, &established, cli, 1_000_000);
            e.push(ns);
            ret.1 = r;
            n.push(kernel::cost(&mut dp, topo, &established, br, 1_000_000).0);
        }
        kernel::drain(&mut flows);
        assert_eq!(
            (ret.0, allowed, ret.1),
            (2, -1, -1),
            "denied drops, allowed and established pass"
        );
        let (d, e, n) = (median(d), median(e), median(n));
        let (bd, be) = *base.get_or_insert((d, e));
        // The last (largest) size's ratios to the smallest are what the goal is about.
        goals.per_packet = Some((d / bd, e / be, size.program.entry_count()));
        let _ = writeln!(
            report,
            "| {} | {} | {d:.0} | {:.2} | {e:.0} | {:.2} | {n:.0} |",
            size.program.entry_count(),
            size.map_entries,
            d / bd,
            e / be
        );
        dp.remove().expect("remove");
    }
}

/// Section 3: one workload's update at every size; returns the dataplane holding the
/// largest program, for section 4.
fn updates(report: &mut String, topo: &Topo, sizes: &[Size], goals: &mut Goals) -> EbpfDataplane {
    // 3. One workload's update at every size; the largest stays applied for section 4.
    let _ = writeln!(
        report,
        "\n## Applying\n\nOne workload's ingress port moves (8080 → 8081) and back, 10 applies of the whole compiled program; the dataplane finds the one endpoint that changed. *In force* is the time until the generation flip (the instant the new policy holds for every packet); it is split into resolving interfaces (a netlink watch tells whether any changed), planning (one merge pass over the endpoints comparing each one's fingerprint, the compiler's content hash, with the last program's, then building the changed endpoint's entries) and writing the changed entries into the inactive slot plus the flip. *Whole* adds the RCU grace period and bringing the other slot in line. Recompiling (the compiler's step) is not included; the last column is how long a full compile of the edited policy takes, for scale. The first apply at the smallest size also waits for the kernel to release the 2,000 links of the previous section's largest program (link teardown holds the interface lock).\n\n| entries | endpoints | first apply: in force ms (entries written) | update: entries changed | in force ms (goal ≤ 1) | resolve ms | plan ms | write + flip ms | whole ms | full compile ms (not included) |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    let mut kept = None;
    for (k, size) in sizes.iter().enumerate() {
        let (p, s) = (&size.program, &size.scenario);
        let mut dp = EbpfDataplane::open(&topo.node.name).expect("ebpf open");
        let first = dp.apply(p).expect("full apply");
        let which = 42.min(s.workloads.saturating_sub(3));
        let edited_policies = scale::edit_one(s, which);
        let compile_ms = median(
            (0..3)
                .map(|_| {
                    let t = Instant::now();
                    let _ = scale::compile_program(s, &edited_policies);
                    ms(t.elapsed())
                })
                .collect(),
        );
        let edited = scale::compile_program(s, &edited_policies);
        let (mut in_force, mut wall, mut phases, mut changed) = (
            Vec::new(),
            Vec::new(),
            [Vec::new(), Vec::new(), Vec::new()],
            0,
        );
        for i in 0..10 {
            let t = Instant::now();
            let r = dp
                .apply(if i % 2 == 0 { &edited } else { p })
                .expect("update");
            wall.push(ms(t.elapsed()));
            in_force.push(ms(r.duration));
            let ph = dp.last_phases();
            for (v, d) in phases.iter_mut().zip([ph.attach, ph.plan, ph.write]) {
                v.push(ms(d));
            }
            changed = r.elements_written + r.elements_removed;
        }
        let [a, pl, w] = phases.map(median);
        let _ = writeln!(
            report,
            "| {} | {} | {:.1} ({}) | {changed} | {:.3} | {a:.3} | {pl:.3} | {w:.3} | {:.1} | {compile_ms:.1} |",
            p.entry_count(),
            p.endpoints.len(),
            ms(first.duration),
            first.elements_written,
            median(in_force.clone()),
            median(wall.clone()),
        );
        eprintln!(
            "update at {} entries: in force {in_force:.3?}",
            p.entry_count()
        );
        if k + 1 == sizes.len() {
            report.push('\n');
        }
        if k + 1 == sizes.len() {
            goals.update_ms = Some(median(in_force.clone()));
            goals.write_ms = Some(w);
            goals.update_entries = p.entry_count();
            goals.compile_ms = Some(compile_ms);
            kept = Some(dp);
        } else {
            dp.remove().expect("remove");
        }
    }
    kept.expect("the largest size")
}

/// Section 4: the event path, at the largest size.
fn events(
    report: &mut String,
    topo: &Topo,
    large: &Size,
    dp: &mut EbpfDataplane,
    goals: &mut Goals,
) {
    let cli = topo.ifindex("cli");
    let s = &large.scenario;
    let (src, dst) = (
        synthetic::address(s.client()),
        synthetic::address(s.server()),
    );
    let _ = writeln!(
        report,
        "## Flow events: ring buffer → aggregated records in user space (goal ≥ 1,000,000/s, loss counted)\n\nEvents are denied SYNs of 64 flows run through the attached program with `BPF_PROG_TEST_RUN`; records are per flow (addresses, ports, protocol, rule) with packet and byte counts.\n\n- *reader alone*: {FILLS} times, the ring is filled with {PER_FILL} events while nobody reads, then drained into records; only the draining is timed.\n- *producer and reader together*: one thread produces 5,000,000 events as fast as the program runs while the reader drains concurrently (2 cores: the reader can only go as fast as the producer).\n\n| reader | run | events produced | read | lost | records | seconds | read/s | ratio to goal |\n|---|---|---|---|---|---|---|---|---|"
    );
    for (name, as_events) in [
        ("raw records (`drain_raw`)", false),
        ("`FlowSource::poll` → `FlowEvent`", true),
    ] {
        let alone = kernel::reader_rate(dp, topo, (src, dst), cli, FILLS, PER_FILL, as_events);
        let together = kernel::event_path(dp, topo, src, dst, cli, 5_000_000, as_events);
        for (run, r) in [("reader alone", alone), ("together", together)] {
            let rate = r.consumed as f64 / r.seconds;
            if run == "reader alone" {
                goals.reader_rate = Some(goals.reader_rate.map_or(rate, |x: f64| x.min(rate)));
            }
            goals.lost += r.lost;
            goals.accounted &= r.consumed + r.lost == r.produced_runs;
            eprintln!("events, {name}, {run}: {rate:.0}/s, lost {}", r.lost);
            let _ = writeln!(
                report,
                "| {name} | {run} | {} | {} | {} | {} | {:.3} | {rate:.0} | {:.2} |",
                r.produced_runs,
                r.consumed,
                r.lost,
                r.records,
                r.seconds,
                rate / 1e6
            );
        }
    }
    let _ = writeln!(
        report,
        "\nproduced = consumed + lost: every event is either read or counted."
    );
}
