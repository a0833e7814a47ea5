//! `cargo bench -p bulkhead-nft --bench throughput` (root): writes `docs/bench/nft.md`
//! (and a copy in `target/bench-reports/`). Two real workloads (namespaces this run creates, on a
//! bridge in a node namespace) hold the policy of 10,000 synthetic workloads (the other
//! 9,998 exist only in the inventory). Measured, all in one run:
//! TCP throughput (iperf3) and new-connection rate with (a) no firewall, (b) the nft
//! backend's maps, (c) the same policy as linear rules; compile and apply times, and
//! the time of an incremental update of one workload's rules. Nothing is asserted.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "throughput/full.rs"]
mod full;

use bulkhead_compile::nft::{ElementKey, Kind, Level, MapId, Ruleset, render};
use bulkhead_compile::{Input, Program, compile, synthetic};
use bulkhead_nft::NftBackend;
use bulkhead_policy::ir::{PolicySet, PortMatch};
use common::Netns;
use std::fmt::Write as _;
use std::net::{SocketAddrV4, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The `bulkhead` binary's allocator, so that compile and plan cost here what they
/// cost the agent and `enforce`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WORKLOADS: usize = 10_000;
/// Peers per workload and direction: enough for well over 100,000 map elements.
const PEERS: usize = 10;
/// The most linear rules (c) loads: `nft -f` takes minutes beyond this.
const LINEAR_MAX: usize = 20_000;
const RUNS: usize = 5;
/// Runs of each compile + full apply case (each well under a second).
const FULL_RUNS: usize = 9;
/// Rounds of the throughput measurements (variants interleaved, medians reported).
const ROUNDS: usize = 7;
/// The cores the measured client and server run on (iperf3 by `taskset`, the connection
/// test's threads by affinity): fixed, so that rounds differ by the firewall, not by
/// where the scheduler happened to put the two ends.
const CLIENT_CPU: usize = 0;
const SERVER_CPU: usize = 1;
/// The two real workloads; their policies allow client → server on TCP 8080 (iperf3).
const CLIENT: usize = WORKLOADS - 2;
const SERVER: usize = WORKLOADS - 1;
const PORT: u16 = 8080;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The synthetic policy, plus client ↔ server made peers of each other.
fn policies() -> (PolicySet, bulkhead_policy::Inventory) {
    let s = synthetic::scale(WORKLOADS, PEERS);
    let mut policies = s.policies;
    for p in &mut policies.policies {
        let me = if p.name.name == format!("w{CLIENT}") {
            SERVER
        } else if p.name.name == format!("w{SERVER}") {
            CLIENT
        } else {
            continue;
        };
        // Rule 0 of each direction lists the peers by `app` label: add the other one.
        for rules in [p.ingress.as_mut(), p.egress.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(peers) = rules[0].peers.as_mut() {
                let mut extra = peers[0].clone();
                if let bulkhead_policy::ir::Peer::Workloads {
                    workloads: Some(sel),
                    ..
                } = &mut extra
                {
                    sel.match_labels.insert("app".into(), format!("w{me}"));
                }
                peers.push(extra);
            }
        }
    }
    (policies, s.inventory)
}

fn compile_all(policies: &PolicySet, inventory: &bulkhead_policy::Inventory) -> Program {
    let (modes, ifs) = (Default::default(), Default::default());
    let input = Input {
        policies,
        inventory,
        node: None,
        modes: &modes,
        interfaces: &ifs,
    };
    compile(&input).expect("the synthetic policy compiles")
}

struct Pair {
    client: Netns,
    server: Netns,
    node: Netns,
}

/// node with a bridge; client and server at the synthetic addresses of CLIENT/SERVER.
/// Namespaces are named `<prefix>-<pid>-…`; `BULKHEAD_BENCH_NETNS_PREFIX` (default
/// `nftsp`) lets engineers sharing the machine keep their labs apart by name.
fn topology() -> Pair {
    let prefix = std::env::var("BULKHEAD_BENCH_NETNS_PREFIX").unwrap_or_else(|_| "nftsp".into());
    let tag = format!("{prefix}-{}", std::process::id() % 100_000);
    let node = Netns::new(format!("{tag}-node"));
    node.exec(&["ip", "link", "add", "br0", "type", "bridge"]);
    node.exec(&["ip", "addr", "add", "10.255.255.254/8", "dev", "br0"]);
    node.exec(&["ip", "link", "set", "br0", "up"]);
    let mk = |name: &str, i: usize| {
        let ns = Netns::new(format!("{tag}-{name}"));
        let ip = synthetic::address(i);
        node.exec(&[
            "ip", "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", &ns.name,
        ]);
        node.exec(&["ip", "link", "set", name, "master", "br0", "up"]);
        ns.exec(&["ip", "addr", "add", &format!("{ip}/8"), "dev", "eth0"]);
        ns.exec(&["ip", "link", "set", "eth0", "up"]);
        ns
    };
    let client = mk("cli", CLIENT);
    let server = mk("srv", SERVER);
    Pair {
        client,
        server,
        node,
    }
}

/// iperf3 client → server for 3 s, in Gbit/s.
fn iperf(p: &Pair) -> f64 {
    let dst = synthetic::address(SERVER).to_string();
    let mut server = Command::new("ip")
        .args([
            "netns",
            "exec",
            &p.server.name,
            "taskset",
            "-c",
            &SERVER_CPU.to_string(),
            "iperf3",
            "-s",
            "-1",
            "-p",
            "8080",
            "-B",
            &dst,
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("iperf3 server");
    std::thread::sleep(Duration::from_millis(300));
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &p.client.name,
            "taskset",
            "-c",
            &CLIENT_CPU.to_string(),
            "iperf3",
            "-c",
            &dst,
            "-p",
            "8080",
            "-t",
            "3",
            "-J",
        ])
        .output()
        .expect("iperf3 client");
    let _ = server.kill(); // by its pid
    let _ = server.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    // "bits_per_second" of end.sum_received is the last occurrence in the JSON.
    text.rsplit("\"bits_per_second\":")
        .nth(1)
        .and_then(|s| s.split([',', '\n', '}']).next())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .map_or(0.0, |b| b / 1e9)
}

/// New TCP connections per second (connect, then reset), over one second. The
/// listener serves on the policy's port only while measuring, so iperf3 can use it too.
fn connection_rate(p: &Pair) -> f64 {
    let dst = SocketAddrV4::new(synthetic::address(SERVER), PORT);
    let l = p.server.run(|| TcpListener::bind(dst)).expect("listener");
    l.set_nonblocking(true).expect("nonblocking");
    let stop = Arc::new(AtomicBool::new(false));
    let done = stop.clone();
    let acceptor = std::thread::spawn(move || {
        pin(SERVER_CPU);
        while !done.load(Ordering::Relaxed) {
            match l.accept() {
                Ok(s) => drop(s),
                Err(_) => std::thread::sleep(Duration::from_micros(200)),
            }
        }
    });
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let rate = p.client.run(|| {
        pin(CLIENT_CPU);
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_secs(1) {
            if let Ok(s) = TcpStream::connect_timeout(&dst.into(), Duration::from_millis(200)) {
                // A reset close leaves no TIME_WAIT behind to exhaust the ports.
                let _ =
                    nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::Linger, &linger);
                n += 1;
            }
        }
        n as f64 / start.elapsed().as_secs_f64()
    });
    stop.store(true, Ordering::Relaxed);
    let _ = acceptor.join();
    rate
}

/// Pins the calling thread to one core (the thread ends with its measurement).
fn pin(cpu: usize) {
    let mut set = nix::sched::CpuSet::new();
    if set.set(cpu).is_ok() {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `median [min–max]` of samples.
fn spread(v: &[f64], digits: usize) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{:.d$} [{lo:.d$}–{hi:.d$}]", median(v.to_vec()), d = digits)
}

/// One check map element as a linear rule: the map's key expression compared field by
/// field, then the same `ct mark set` the map lookup would do.
fn linear_rule(map: MapId, key: ElementKey, value: u32) -> String {
    let (own, peer, protocol, port) = match key {
        ElementKey::Check {
            own,
            peer,
            protocol,
            port,
        } => (own, peer, protocol, port),
        ElementKey::Addr(own) => (own, 0, 0, 0),
        _ => return String::new(),
    };
    let (dir, level, kind) = match map {
        MapId::Check(d, l, k) => (d, Some(l), Some(k)),
        MapId::Default(d) => (d, None, None),
        _ => return String::new(),
    };
    let mut r = String::new();
    if kind == Some(Kind::Other) {
        r.push_str("meta l4proto != { tcp, udp, sctp } ");
    }
    let _ = write!(r, "ip {} {own} ", dir.own().name());
    if level == Some(Level::Peer) {
        let _ = write!(r, "ct mark 0x{peer:08x} ");
    }
    match kind {
        Some(Kind::Port) => {
            let _ = write!(r, "meta l4proto {protocol} th dport {port} ");
        }
        Some(Kind::Masked(b)) => {
            let _ = write!(
                r,
                "meta l4proto {protocol} th dport & 0x{:04x} == {port} ",
                Kind::mask(b)
            );
        }
        Some(Kind::Proto) => {
            let _ = write!(r, "meta l4proto {protocol} ");
        }
        _ => {}
    }
    let _ = write!(r, "ct mark set 0x{value:08x}");
    r
}

/// The same ruleset with every check map replaced by linear rules, one per element, at
/// most `LINEAR_MAX` of them: the measured pair's rules all stay, each map keeps its
/// last elements (the pair's addresses are the highest, so theirs come last and a
/// new connection walks every rule kept before them). Returns the text and the number
/// of linear rules.
fn linear(rs: &Ruleset, pair: [std::net::Ipv4Addr; 2]) -> (String, usize) {
    let checks: Vec<MapId> = rs
        .maps
        .keys()
        .copied()
        .filter(|m| matches!(m, MapId::Check(..) | MapId::Default(_)))
        .collect();
    let own = |k: &ElementKey| match *k {
        ElementKey::Check { own, .. } | ElementKey::Addr(own) => own,
        _ => std::net::Ipv4Addr::UNSPECIFIED,
    };
    let total: usize = checks.iter().map(|m| rs.elements(*m).len()).sum();
    let fraction = (LINEAR_MAX as f64 / total.max(1) as f64).min(1.0);
    let mut count = 0;
    let mut lines: std::collections::HashMap<MapId, Vec<String>> = Default::default();
    for &m in &checks {
        let elements = rs.elements(m);
        let keep = (elements.len() as f64 * fraction).ceil() as usize;
        let skip = elements.len() - keep.min(elements.len());
        let v = lines.entry(m).or_default();
        for (i, e) in elements.iter().enumerate() {
            let mine = pair.contains(&own(&e.key));
            if i < skip && !mine {
                continue;
            }
            let bulkhead_compile::nft::Value::Mark(value) = e.value else {
                continue;
            };
            v.push(linear_rule(m, e.key, value));
            count += 1;
        }
    }
    let text = render(rs);
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let t = line.trim();
        // Drop the check maps' blocks...
        if let Some(name) = t.strip_prefix("map ").and_then(|r| r.strip_suffix(" {"))
            && checks.iter().any(|m| m.to_string() == name)
        {
            skipping = true;
        }
        if skipping {
            if line == "\t}" {
                skipping = false;
            }
            continue;
        }
        // ...and put their elements where their lookups were.
        if let Some(m) = checks.iter().find(|m| t.ends_with(&format!(" map @{m}"))) {
            for l in &lines[m] {
                let _ = writeln!(out, "\t\t{l}");
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    (out, count)
}

fn main() {
    let mut report = String::from("# nft backend benchmark\n\n");
    let (policies, inventory) = policies();
    let pair = topology();
    let compile = || compile_all(&policies, &inventory);
    let program = compile();
    let onto_empty = full::measure(&pair.node.path(), FULL_RUNS, true, compile);
    let replacing = full::measure(&pair.node.path(), FULL_RUNS, false, compile);
    let load_full = loadavg();
    // Incremental: server's ingress port changes 8080 → 8081 and back, alternately.
    let mut b = NftBackend::new(pair.node.path()).expect("backend");
    b.apply_full(&program).expect("apply");
    let load_apply = loadavg();
    let mut edited = policies.clone();
    for p in &mut edited.policies {
        if p.name.name == "w42"
            && let Some(rules) = p.ingress.as_mut()
            && let Some(ports) = rules[0].ports.as_mut()
        {
            ports[0].port = PortMatch::Range(8081, 8081);
        }
    }
    // Each update in its steps: the incremental compile (told which policy changed),
    // plan (build the ruleset, reusing unchanged parts), diff + encode + commit (one
    // batch), then the conntrack sweep. A whole compile of the same set is timed beside
    // it for comparison (and checked equal, untimed); it does not feed the backend.
    let (mut incr_ms, mut plan_ms, mut commit_ms, mut sweep_ms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut recompile_ms, mut update_ms, mut with_compile_ms, mut with_whole_ms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let changed = [edited
        .policies
        .iter()
        .find(|p| p.name.name == "w42")
        .map(|p| p.name.clone())
        .expect("policy w42")];
    let mut compiler = bulkhead_compile::Compiler::new();
    let (modes, ifs) = (Default::default(), Default::default());
    let input = |policies| Input {
        policies,
        inventory: &inventory,
        node: None,
        modes: &modes,
        interfaces: &ifs,
    };
    compiler.compile(&input(&policies)).expect("compile");
    let mut incr_written = 0;
    for i in 0..RUNS * 2 {
        let set = if i % 2 == 0 { &edited } else { &policies };
        let t = Instant::now();
        let whole = compile_all(set, &inventory);
        recompile_ms.push(ms(t.elapsed()));
        let t = Instant::now();
        let p = compiler
            .update(&input(set), &changed)
            .expect("incremental compile");
        update_ms.push(ms(t.elapsed()));
        assert!(
            *p == whole,
            "the updated program differs from a whole compile"
        );
        let t = Instant::now();
        let (rs, stamps) = b.plan(p).expect("plan");
        let t1 = t.elapsed();
        let r = b
            .apply_ruleset(rs, stamps, false)
            .expect("incremental apply");
        let t2 = t.elapsed();
        b.delete_denied_connections(p).expect("conntrack sweep");
        let t3 = t.elapsed();
        plan_ms.push(ms(t1));
        commit_ms.push(ms(t2 - t1));
        sweep_ms.push(ms(t3 - t2));
        incr_ms.push(ms(t3));
        with_compile_ms.push(update_ms[i] + ms(t3));
        with_whole_ms.push(recompile_ms[i] + ms(t3));
        incr_written = r.elements_written + r.elements_removed;
    }
    if !compiler.was_incremental() {
        panic!("the bench's updates fell back to whole compiles");
    }
    let (rs, _) = b.plan(&program).expect("plan");
    let elements = rs.element_count();
    let pair_ips = [synthetic::address(CLIENT), synthetic::address(SERVER)];
    let (linear_text, linear_rules) = linear(&rs, pair_ips);

    // Throughput and connection rate: the variants in turn, ROUNDS times, medians.
    let path = std::env::temp_dir().join(format!("bh-linear-{}.nft", std::process::id()));
    std::fs::write(&path, &linear_text).expect("write linear rules");
    let mut samples: [(Vec<f64>, Vec<f64>); 3] = Default::default();
    let (mut ok, mut linear_load) = (true, Duration::ZERO);
    let load_before = loadavg();
    for _ in 0..ROUNDS {
        b.remove_table().expect("remove");
        samples[0].0.push(iperf(&pair));
        samples[0].1.push(connection_rate(&pair));
        b.apply_full(&program).expect("apply");
        samples[1].0.push(iperf(&pair));
        samples[1].1.push(connection_rate(&pair));
        b.remove_table().expect("remove");
        let t = Instant::now();
        ok &= Command::new("ip")
            .args(["netns", "exec", &pair.node.name, "nft", "-f"])
            .arg(&path)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        linear_load = t.elapsed();
        if ok {
            samples[2].0.push(iperf(&pair));
            samples[2].1.push(connection_rate(&pair));
        }
    }
    let _ = std::fs::remove_file(&path);
    b.remove_table().expect("remove");
    let load_after = loadavg();
    let names = ["(a) no firewall", "(b) nft maps", "(c) linear rules"];
    // Ratios are taken within each round (the variants of a round ran back to back, so
    // they saw about the same load), then summarised over the rounds.
    let ratios =
        |v: &[f64], base: &[f64]| -> Vec<f64> { v.iter().zip(base).map(|(x, b)| x / b).collect() };
    // (name, Gbit/s, their ratios, connections/s, their ratios), over the rounds.
    type Row<'a> = (&'a str, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);
    let rows: Vec<Row> = names
        .iter()
        .zip(&samples)
        .filter(|(_, s)| !s.0.is_empty())
        .map(|(n, (t, c))| {
            (
                *n,
                t.clone(),
                ratios(t, &samples[0].0),
                c.clone(),
                ratios(c, &samples[0].1),
            )
        })
        .collect();

    let _ = writeln!(
        report,
        "Policy: `synthetic::scale({WORKLOADS}, {PEERS})` (+ client ↔ server as peers), compiled with every workload local: {} endpoints, {} program entries → {} map elements, {} maps, {} chains. Traffic: two real workloads (w{CLIENT} → w{SERVER}, TCP 8080) on a bridge in a node namespace; host: 2 cores; allocator: mimalloc, as in the `bulkhead` binary.\n",
        program.endpoints.len(),
        program.entry_count(),
        elements,
        rs.maps.len(),
        rs.chains.len()
    );
    let _ = writeln!(
        report,
        "## Throughput and new connections ({ROUNDS} interleaved rounds: median [min–max])\n\nClient pinned to CPU {CLIENT_CPU}, server to CPU {SERVER_CPU}; iperf3 3 s per sample, connections 1 s per sample. Ratios are to (a) of the same round. Load average (1, 5, 15 min) before the measurements: {load_before}; after: {load_after}.\n\n| variant | iperf3 Gbit/s | ratio to (a) | new TCP conn/s | ratio to (a) |\n|---|---|---|---|---|"
    );
    for (name, t, tr, c, cr) in &rows {
        let _ = writeln!(
            report,
            "| {name} | {} | {} | {} | {} |",
            spread(t, 2),
            spread(tr, 3),
            spread(c, 0),
            spread(cr, 3)
        );
    }
    if !ok {
        let _ = writeln!(
            report,
            "| (c) linear rules | `nft -f` failed to load {linear_rules} rules | | | |"
        );
    }
    let _ = writeln!(
        report,
        "\n(c) is the ruleset of (b) with every check map replaced by linear rules, one per element: {linear_rules} rules of the {elements} elements (capped at {LINEAR_MAX}: `nft -f` loaded them in {:.1} s, and its load time grows faster than linearly), keeping all of the measured pair's rules and each map's last elements, so the pair's rules come last and a new connection walks every rule before them. Established traffic stops at the first rule in every variant.\n",
        linear_load.as_secs_f64()
    );
    let _ = writeln!(
        report,
        "## Compile and apply (medians: {FULL_RUNS} runs of each full apply, {} updates)\n\n| step | median ms | runs |\n|---|---|---|",
        RUNS * 2
    );
    full::rows(
        &mut report,
        "onto a node with no Bulkhead table",
        &onto_empty,
    );
    full::rows(
        &mut report,
        "replacing a Bulkhead table of the same size",
        &replacing,
    );
    let rounded = |v: &[f64]| {
        v.iter()
            .map(|x| (x * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    };
    let _ = writeln!(
        report,
        "| update of one workload's rules, from the changed policy set to in force: incremental compile + all backend steps | {:.1} | {:?} (goal ≤ 20) |",
        median(with_compile_ms.clone()),
        rounded(&with_compile_ms)
    );
    let _ = writeln!(
        report,
        "| · incremental compile (`Compiler::update`, told the changed policy) | {:.3} | {:?} |",
        median(update_ms.clone()),
        update_ms
            .iter()
            .map(|x| (x * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>()
    );
    let _ = writeln!(
        report,
        "| · backend steps, from the compiled program to in force ({incr_written} elements changed) | {:.1} | {:?} |",
        median(incr_ms.clone()),
        rounded(&incr_ms)
    );
    for (step, v) in [
        (
            "· · plan (build the ruleset, unchanged parts reused)",
            &plan_ms,
        ),
        ("· · diff + encode + commit (one batch)", &commit_ms),
        (
            "· · conntrack sweep (connections of changed endpoints)",
            &sweep_ms,
        ),
    ] {
        let _ = writeln!(
            report,
            "| {step} | {:.1} | {:?} |",
            median(v.clone()),
            rounded(v)
        );
    }
    let _ = writeln!(
        report,
        "| for comparison: the same update with a whole compile instead | {:.1} | {:?} |",
        median(with_whole_ms.clone()),
        rounded(&with_whole_ms)
    );
    let _ = writeln!(
        report,
        "| · whole compile of the changed policy set | {:.1} | {:?} |",
        median(recompile_ms.clone()),
        rounded(&recompile_ms)
    );
    let _ = writeln!(
        report,
        "\nEach update's compile is incremental: `Compiler::update` is told which policy changed and rebuilds only the tables of the endpoints that policy isolates; its program was checked equal to a whole compile's after every update (untimed). The whole-compile rows time a whole compile of the same set in the same iteration, for comparison. Load average (1, 5, 15 min) when the full applies ended: {load_full}; when the update runs started: {load_apply}."
    );
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for dir in [root.join("target/bench-reports"), root.join("docs/bench")] {
        let _ = std::fs::create_dir_all(&dir);
        std::fs::write(dir.join("nft.md"), &report).expect("write report");
    }
    let out = root.join("docs/bench/nft.md");
    print!("{report}");
    eprintln!("report written to {}", out.display());
}
