//! `cargo bench -p bulkhead-nft --bench throughput` (root): writes
//! `target/bench-reports/nft.md`. Two real workloads (namespaces this run creates, on a
//! bridge in a node namespace) hold the policy of 10,000 synthetic workloads (the other
//! 9,998 exist only in the inventory). Measured, all in one run:
//! TCP throughput (iperf3) and new-connection rate with (a) no firewall, (b) the nft
//! backend's maps, (c) the same policy as linear rules; compile and apply times, and
//! the time of an incremental update of one workload's rules. Nothing is asserted.

#[path = "../tests/common/mod.rs"]
mod common;

use bulkhead_compile::nft::{ElementKey, Ruleset, Verdict};
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

/// 10,000 was the goal; see the report: with one named set per endpoint direction the
/// kernel's by-name set lookups make a 10k-endpoint full apply quadratic.
const WORKLOADS: usize = 1_000;
const PEERS: usize = 30;
const RUNS: usize = 5;
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
fn topology() -> Pair {
    let tag = std::process::id() % 100_000;
    let node = Netns::new(format!("bhnb-{tag}-node"));
    node.exec(&["ip", "link", "add", "br0", "type", "bridge"]);
    node.exec(&["ip", "addr", "add", "10.255.255.254/8", "dev", "br0"]);
    node.exec(&["ip", "link", "set", "br0", "up"]);
    let mk = |name: &str, i: usize| {
        let ns = Netns::new(format!("bhnb-{tag}-{name}"));
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

/// The same ruleset as linear rules: one rule per map element, in the forward chain.
fn linear(rs: &Ruleset) -> String {
    let mut s = String::from(
        "table inet bulkhead {\n chain forward {\n  type filter hook forward priority filter - 10; policy accept;\n  ct state established,related accept\n",
    );
    let range = |a: String, b: String| if a == b { a } else { format!("{a}-{b}") };
    for (name, map) in &rs.maps {
        let Some((dir, rest)) = name.split_once('_') else {
            continue;
        };
        let Some((index, _)) = rest.split_once('_') else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else {
            continue;
        };
        let me = synthetic::address(index);
        let (mine, peer) = if dir == "eg" {
            ("saddr", "daddr")
        } else {
            ("daddr", "saddr")
        };
        for e in &map.elements {
            let verdict = match e.verdict {
                Verdict::Return => "accept",
                _ => "drop",
            };
            let key = match e.key {
                ElementKey::Concat {
                    addrs,
                    protocol,
                    ports,
                } => format!(
                    "ip {peer} {} meta l4proto {protocol} th dport {}",
                    range(addrs.0.to_string(), addrs.1.to_string()),
                    range(ports.0.to_string(), ports.1.to_string())
                ),
                ElementKey::ProtoPort { protocol, ports } => format!(
                    "meta l4proto {protocol} th dport {}",
                    range(ports.0.to_string(), ports.1.to_string())
                ),
                _ => continue,
            };
            let _ = writeln!(s, "  ip {mine} {me} {key} {verdict}");
        }
    }
    s.push_str(" }\n}\n");
    s
}

fn main() {
    let mut report = String::from("# nft backend benchmark\n\n");
    let (policies, inventory) = policies();
    let mut compile_ms = Vec::new();
    let mut program = compile_all(&policies, &inventory);
    for _ in 0..3 {
        let t = Instant::now();
        program = compile_all(&policies, &inventory);
        compile_ms.push(ms(t.elapsed()));
    }
    let pair = topology();
    let mut full_ms = Vec::new();
    let mut build_ms = Vec::new();
    let mut elements = 0;
    for _ in 0..RUNS {
        let mut b = NftBackend::new(pair.node.path()).expect("backend");
        let t = Instant::now();
        let (rs, stamps) = b.plan(&program);
        build_ms.push(ms(t.elapsed()));
        elements = rs.element_count();
        let r = b
            .apply_ruleset(rs, stamps, program.rules.clone(), true)
            .expect("apply");
        full_ms.push(ms(t.elapsed()));
        let _ = r;
    }
    // Incremental: server's ingress port changes 8080 → 8081 and back, alternately.
    let mut b = NftBackend::new(pair.node.path()).expect("backend");
    b.apply_full(&program).expect("apply");
    let mut edited = policies.clone();
    for p in &mut edited.policies {
        if p.name.name == "w42"
            && let Some(rules) = p.ingress.as_mut()
            && let Some(ports) = rules[0].ports.as_mut()
        {
            ports[0].port = PortMatch::Range(8081, 8081);
        }
    }
    let edited_program = compile_all(&edited, &inventory);
    let mut incr_ms = Vec::new();
    let mut incr_written = 0;
    for i in 0..RUNS * 2 {
        let p = if i % 2 == 0 {
            &edited_program
        } else {
            &program
        };
        let t = Instant::now();
        let r = bulkhead_dataplane::Dataplane::apply(&mut b, p).expect("incremental apply");
        incr_ms.push(ms(t.elapsed()));
        incr_written = r.elements_written + r.elements_removed;
    }
    let (rs, _) = b.plan(&program);
    let linear_text = linear(&rs);
    let linear_rules = linear_text.lines().count() - 6;

    // Throughput and connection rate, each variant in turn.
    let mut rows = Vec::new();
    b.remove_table().expect("remove");
    rows.push(("(a) no firewall", iperf(&pair), connection_rate(&pair)));
    b.apply_full(&program).expect("apply");
    rows.push(("(b) nft maps", iperf(&pair), connection_rate(&pair)));
    b.remove_table().expect("remove");
    let path = std::env::temp_dir().join(format!("bh-linear-{}.nft", std::process::id()));
    std::fs::write(&path, &linear_text).expect("write linear rules");
    let t = Instant::now();
    let ok = Command::new("ip")
        .args(["netns", "exec", &pair.node.name, "nft", "-f"])
        .arg(&path)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let linear_load = t.elapsed();
    let _ = std::fs::remove_file(&path);
    if ok {
        rows.push(("(c) linear rules", iperf(&pair), connection_rate(&pair)));
    }
    b.remove_table().expect("remove");

    let _ = writeln!(
        report,
        "Policy: `synthetic::scale({WORKLOADS}, {PEERS})` (+ client ↔ server as peers), compiled with every workload local: {} endpoints, {} program entries → {} map elements, {} maps, {} chains. Traffic: two real workloads (w{CLIENT} → w{SERVER}, TCP 8080) on a bridge in a node namespace; host: 2 cores.\n",
        program.endpoints.len(),
        program.entry_count(),
        elements,
        rs.maps.len(),
        rs.chains.len()
    );
    let _ = writeln!(
        report,
        "## Throughput and new connections\n\n| variant | iperf3 Gbit/s | ratio to (a) | new TCP conn/s | ratio to (a) |\n|---|---|---|---|---|"
    );
    let (base_t, base_c) = (rows[0].1, rows[0].2);
    for (name, t, c) in &rows {
        let _ = writeln!(
            report,
            "| {name} | {t:.2} | {:.3} | {c:.0} | {:.3} |",
            t / base_t,
            c / base_c
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
        "\n(c) holds {linear_rules} rules after `ct state established,related accept` (loaded by `nft -f` in {:.1} s); the measured pair's rules sit at the end of the chain, so a new connection walks all of them.\n",
        linear_load.as_secs_f64()
    );
    let _ = writeln!(
        report,
        "## Compile and apply (medians of {RUNS} runs unless said)\n\n| step | median ms | runs |\n|---|---|---|"
    );
    let _ = writeln!(
        report,
        "| compile (Program; 3 runs) | {:.1} | {:?} |",
        median(compile_ms.clone()),
        compile_ms.iter().map(|x| x.round()).collect::<Vec<_>>()
    );
    let _ = writeln!(
        report,
        "| build nft ruleset IR | {:.1} | {:?} |",
        median(build_ms.clone()),
        build_ms.iter().map(|x| x.round()).collect::<Vec<_>>()
    );
    let _ = writeln!(
        report,
        "| build + full apply (one batch) | {:.1} | {:?} |",
        median(full_ms.clone()),
        full_ms.iter().map(|x| x.round()).collect::<Vec<_>>()
    );
    let _ = writeln!(
        report,
        "| compile + build + full apply | {:.1} | (goal ≤ 300) |",
        median(compile_ms) + median(full_ms)
    );
    let _ = writeln!(
        report,
        "| incremental update of one workload (plan + diff + apply; {incr_written} elements changed) | {:.1} | {:?} (goal ≤ 20) |",
        median(incr_ms.clone()),
        incr_ms
            .iter()
            .map(|x| (x * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    let _ = writeln!(
        report,
        "\nThe incremental figure excludes recompiling the program (see the compile row): the agent's compile step is the compiler's to make incremental."
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-reports");
    let _ = std::fs::create_dir_all(&dir);
    let out = dir.join("nft.md");
    std::fs::write(&out, &report).expect("write report");
    print!("{report}");
    eprintln!("report written to {}", out.display());
}
