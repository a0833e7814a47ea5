//! `cargo bench -p bulkhead-bpf --bench ebpf` (root): writes `docs/bench/ebpf.md`. In one run, on namespaces this run creates:
//!
//! - TCP throughput (iperf3) and new-connection rate between two real workloads with no
//!   firewall, the nft backend and the eBPF backend, each at ~10 and ~100,000 policy
//!   entries (the compiler's synthetic input; every other endpoint of the large program
//!   has a dummy interface holding its programs);
//! - per-packet cost of a check point with `BPF_PROG_TEST_RUN` on the attached program,
//!   from ~10 to ~100,000 entries: a new connection that is denied (every lookup:
//!   ipcache, the peer's entry, the wildcard entry, the default, plus an event), a
//!   packet of an established connection (conntrack), and a packet on an interface
//!   without endpoint;
//! - one workload's update at 100,000 entries (time until the new generation is in
//!   force, and the whole apply with the grace period and the second slot);
//! - the flow-event path: denied packets run through the program by one thread while
//!   another drains the ring buffer and aggregates per flow, with loss counted.
//!
//! Everything is reported as a ratio to a baseline measured in the same run. Nothing is
//! asserted.

#[path = "bench/kernel.rs"]
mod kernel;
#[path = "bench/scale.rs"]
mod scale;
#[path = "bench/topo.rs"]
mod topo;

use bulkhead_bpf::EbpfDataplane;
use bulkhead_compile::{Program, synthetic};
use bulkhead_dataplane::Dataplane;
use bulkhead_nft::NftBackend;
use scale::{PORT, Scenario};
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use topo::{Topo, sh};

/// (workloads, peers): about 10, 100, 4,000 and 100,000 entries.
const SIZES: [(usize, usize); 4] = [(2, 1), (10, 48), (100, 53), (1000, 53)];
const ROUNDS: usize = 3;
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
    lpm_entries: usize,
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
            let lpm_entries = maps.endpoints.iter().map(|e| e.policy.len()).sum();
            Size {
                scenario,
                program,
                lpm_entries,
            }
        })
        .collect();
    let (small, large) = (&sizes[0], &sizes[sizes.len() - 1]);
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
            readdress(&mut topo, &size.scenario);
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
            let open = topo.reaches(DENIED_PORT);
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
        "## Throughput (iperf3, {IPERF_SECS} s, median of {ROUNDS} interleaved rounds) and new TCP connections/s\n\nsmall = {} program entries ({} LPM entries), large = {} entries ({} LPM entries, {} endpoints).\n\n| variant | Gbit/s | ratio to no firewall | conn/s | ratio |\n|---|---|---|---|---|",
        small.program.entry_count(),
        small.lpm_entries,
        large.program.entry_count(),
        large.lpm_entries,
        large.program.endpoints.len()
    );
    let (base_g, base_c) = (median(gbits[0].clone()), median(conns[0].clone()));
    for (v, name) in variants.iter().enumerate() {
        let (g, cr) = (median(gbits[v].clone()), median(conns[v].clone()));
        let _ = writeln!(
            report,
            "| {name} | {g:.2} | {:.3} | {cr:.0} | {:.3} |",
            g / base_g,
            cr / base_c
        );
    }
    let _ = writeln!(report, "\nAll runs (Gbit/s): {gbits:.2?}\n");

    // 2. Per-packet cost with BPF_PROG_TEST_RUN, at every size.
    let _ = writeln!(
        report,
        "## Per-packet cost (BPF_PROG_TEST_RUN on the attached from-workload program, kernel-measured mean, median of 5)\n\n| entries | LPM entries | denied new connection ns | ratio to smallest | established ns | ratio | no endpoint ns |\n|---|---|---|---|---|---|---|"
    );
    let (cli, br) = (topo.ifindex("cli"), topo.ifindex("br0"));
    let mut base = None;
    for size in &sizes {
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
            &topo,
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
            let (ns, r) = kernel::cost(&mut dp, &topo, &denied, cli, 100_000);
            d.push(ns);
            ret.0 = r;
            let (ns, r) = kernel::cost(&mut dp, &topo, &established, cli, 1_000_000);
            e.push(ns);
            ret.1 = r;
            n.push(kernel::cost(&mut dp, &topo, &established, br, 1_000_000).0);
        }
        kernel::drain(&mut flows);
        assert_eq!(
            (ret.0, allowed, ret.1),
            (2, -1, -1),
            "denied drops, allowed and established pass"
        );
        let (d, e, n) = (median(d), median(e), median(n));
        let (bd, be) = *base.get_or_insert((d, e));
        let _ = writeln!(
            report,
            "| {} | {} | {d:.0} | {:.2} | {e:.0} | {:.2} | {n:.0} |",
            size.program.entry_count(),
            size.lpm_entries,
            d / bd,
            e / be
        );
        dp.remove().expect("remove");
    }

    // 3. One workload's update at the largest size.
    let mut dp = EbpfDataplane::open(&topo.node.name).expect("ebpf open");
    let t = Instant::now();
    let first = dp.apply(&large.program).expect("full apply");
    let full_wall = t.elapsed();
    let which = 42.min(large.scenario.workloads - 3);
    let edited = scale::compile_program(&large.scenario, &scale::edit_one(&large.scenario, which));
    let (mut in_force, mut wall, mut written) = (Vec::new(), Vec::new(), 0);
    for i in 0..10 {
        let p = if i % 2 == 0 { &edited } else { &large.program };
        let t = Instant::now();
        let r = dp.apply(p).expect("update");
        wall.push(ms(t.elapsed()));
        in_force.push(ms(r.duration));
        written = r.elements_written + r.elements_removed;
    }
    let _ = writeln!(
        report,
        "\n## Applying at {} entries ({} endpoints)\n\n| step | median ms | runs |\n|---|---|---|\n| first apply: all entries into both slots ({} written), until in force | {:.1} | whole apply {:.1} ms |\n| one workload's update ({written} entries changed), until in force (goal ≤ 1 ms) | {:.3} | {:?} |\n| the same, whole apply (+ RCU grace period + other slot) | {:.1} | {:?} |\n\nThe update excludes recompiling (the compiler's step).\n",
        large.program.entry_count(),
        large.program.endpoints.len(),
        first.elements_written,
        ms(first.duration),
        ms(full_wall),
        median(in_force.clone()),
        in_force
            .iter()
            .map(|x| (x * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>(),
        median(wall.clone()),
        wall.iter()
            .map(|x| (x * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );

    // 4. The event path, at the largest size.
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
        let alone =
            kernel::reader_rate(&mut dp, &topo, (src, dst), cli, FILLS, PER_FILL, as_events);
        let together = kernel::event_path(&mut dp, &topo, src, dst, cli, 5_000_000, as_events);
        for (run, r) in [("reader alone", alone), ("together", together)] {
            let rate = r.consumed as f64 / r.seconds;
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
    dp.remove().expect("remove");

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/bench");
    let _ = std::fs::create_dir_all(&dir);
    let out = dir.join("ebpf.md");
    std::fs::write(&out, &report).expect("write report");
    print!("{report}");
    eprintln!("report written to {}", out.display());
}
