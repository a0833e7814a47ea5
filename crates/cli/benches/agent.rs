//! Agent benchmark: CPU and memory of `bulkhead agent` while a lab workload opens
//! real UDP flows (one new conntrack entry / eBPF connection each) at a fixed rate, for
//! each backend; and the time from `bulkhead policy apply` to a refused probe.
//!
//! Privileged (root: namespaces, nftables, eBPF). `cargo bench -p bulkhead --bench agent`;
//! `BULKHEAD_BENCH_RATE` (flows/s, default 10000) and `BULKHEAD_BENCH_SECS` (default 5).
//! Writes `<target>/bench-reports/agent.md`.

use serde_json::Value;
use std::fmt::Write as _;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const BIN: &str = env!("CARGO_BIN_EXE_bulkhead");

fn bulkhead(args: &[&str]) -> Res<String> {
    let out = Command::new(BIN).args(args).stdin(Stdio::null()).output()?;
    if !out.status.success() {
        return Err(format!(
            "bulkhead {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Kills (by PID) on drop.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        std::thread::sleep(Duration::from_millis(500));
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `lab down` on drop.
struct Lab(PathBuf);
impl Drop for Lab {
    fn drop(&mut self) {
        let _ = bulkhead(&["lab", "down", self.0.to_str().unwrap_or_default()]);
    }
}

/// utime + stime of a process, in seconds.
fn cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    // Fields after the command: state is skipped by the parse; utime and stime are
    // fields 14 and 15 of the line, i.e. index 10 and 11 of the numeric rest.
    (f.get(10).unwrap_or(&0.0) + f.get(11).unwrap_or(&0.0)) / 100.0
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn free_addr() -> Res<String> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .to_string())
}

fn main() -> Res<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let rate: u64 = std::env::var("BULKHEAD_BENCH_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let secs: u64 = std::env::var("BULKHEAD_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut o = String::new();
    writeln!(o, "# bulkhead agent benchmark\n")?;
    writeln!(
        o,
        "Real UDP flows from workload a to b:53 (a fresh source port each), {rate} flows/s for {secs} s, one agent, {} cores.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )?;
    writeln!(
        o,
        "| backend | flows sent | flows on the server | agent CPU idle (baseline) | agent CPU under load | agent CPU per 10k flows/s | load generator CPU | lost events | dropped records | agent RSS | server RSS |"
    )?;
    writeln!(o, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    let mut latency = String::new();
    for backend in ["nft", "ebpf"] {
        run(backend, rate, secs, &mut o, &mut latency)?;
    }
    writeln!(
        o,
        "\n## Policy stored through the API → refused by the kernel\n"
    )?;
    writeln!(
        o,
        "Time from starting `bulkhead policy apply` to the first refused `lab probe` (each probe is a process; 100 ms probe timeout), 5 rounds each.\n"
    )?;
    o.push_str(&latency);
    print!("{o}");
    let dir = PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
        .join("bench-reports");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("agent.md"), &o)?;
    Ok(())
}

fn run(backend: &str, rate: u64, secs: u64, o: &mut String, latency: &mut String) -> Res<()> {
    let tmp = std::env::temp_dir().join(format!(
        "bulkhead-agent-bench-{}-{backend}",
        std::process::id()
    ));
    std::fs::create_dir_all(&tmp)?;
    let name = format!("agb{}{}", &backend[..1], std::process::id() % 10000);
    let lab_path = tmp.join("lab.yaml");
    std::fs::write(
        &lab_path,
        format!(
            "name: {name}\nsubnet: 10.0.0.0/24\nworkloads:\n  - {{name: a, labels: {{app: a}}, ip: 10.0.0.10, ports: [{{port: 80}}]}}\n  - {{name: b, labels: {{app: b}}, ip: 10.0.0.11, ports: [{{port: 80}}, {{port: 53, protocol: UDP}}]}}\n"
        ),
    )?;
    let lab_str = lab_path.to_str().ok_or("path")?.to_string();
    let _lab = Lab(lab_path.clone());
    bulkhead(&["lab", "up", &lab_str])?;
    let addr = free_addr()?;
    let server = Proc(
        Command::new(BIN)
            .args(["server", "--listen", &addr, "--db"])
            .arg(tmp.join("db"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let url = format!("http://{addr}");
    let token = tmp.join("admin.token");
    let token_s = token.to_str().ok_or("path")?.to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !token.exists()
        || bulkhead(&["policy", "list", "--server", &url, "--token-file", &token_s]).is_err()
    {
        if Instant::now() > deadline {
            return Err("server not ready".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let agent = Proc(
        Command::new(BIN)
            .args([
                "agent",
                "--server",
                &url,
                "--token-file",
                &token_s,
                "--lab",
                &lab_str,
                "--backend",
                backend,
                "--state-dir",
            ])
            .arg(tmp.join("state"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let apid = agent.0.id();
    let status = || -> Value {
        std::fs::read_to_string(tmp.join("state/status.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while status()["revision"].as_u64().is_none_or(|r| r == 0) {
        if Instant::now() > deadline {
            return Err("agent never in sync".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    // Baseline: the idle agent over the same window.
    let c0 = cpu(apid);
    std::thread::sleep(Duration::from_secs(secs));
    let idle = (cpu(apid) - c0) / secs as f64;
    // Load: real flows from a's namespace.
    let c1 = cpu(apid);
    let g0 = cpu(std::process::id());
    let t0 = Instant::now();
    let sent = bulkhead_lab::netns::run_in(&format!("{name}-default-a"), || {
        let total = rate * secs;
        let mut sent = 0u64;
        let mut port = 1024u16;
        let dst = "10.0.0.11:53";
        while sent < total {
            // Pace in 1 ms steps.
            let due = (t0.elapsed().as_secs_f64() * rate as f64) as u64;
            if sent >= due {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
            port = if port == u16::MAX { 1024 } else { port + 1 };
            if let Ok(s) = UdpSocket::bind(("0.0.0.0", port))
                && s.send_to(b"bench", dst).is_ok()
            {
                sent += 1;
            }
        }
        Ok(sent)
    })?;
    let wall = t0.elapsed().as_secs_f64();
    let gen_cpu = (cpu(std::process::id()) - g0) / wall;
    // Let the agent catch up (settle, the last counter reads, shipping).
    std::thread::sleep(Duration::from_secs(3));
    let busy = (cpu(apid) - c1) / (wall + 3.0);
    let graph: Value = serde_json::from_str(&bulkhead(&[
        "graph",
        "-o",
        "json",
        "--server",
        &url,
        "--token-file",
        &token_s,
    ])?)?;
    let conns: u64 = graph["edges"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["port"] == 53)
                .filter_map(|e| e["connections"].as_u64())
                .sum()
        })
        .unwrap_or(0);
    let st = status();
    let spid = server.0.id();
    let per10k = (busy - idle) * 10_000.0 / (sent as f64 / wall);
    writeln!(
        o,
        "| {backend} | {sent} | {conns} | {:.1}% | {:.1}% | {:.1}% of a core | {:.1}% | {} | {} | {} MiB | {} MiB |",
        idle * 100.0,
        busy * 100.0,
        per10k * 100.0,
        gen_cpu * 100.0,
        st["lost_events"],
        st["dropped_records"],
        rss_kib(apid) / 1024,
        rss_kib(spid) / 1024
    )?;

    // Policy → kernel latency.
    let deny = tmp.join("deny.yaml");
    std::fs::write(
        &deny,
        "apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata: {name: lock-b, namespace: default}\nspec:\n  selector: {matchLabels: {app: b}}\n  ingress: []\n",
    )?;
    let probe = |want_allowed: bool| -> Res<()> {
        loop {
            let out = bulkhead(&[
                "lab",
                "probe",
                &lab_str,
                "--from",
                "default/a",
                "--to",
                "default/b",
                "--port",
                "80",
                "--protocol",
                "TCP",
                "--timeout-ms",
                "100",
                "-o",
                "json",
            ])?;
            if out.contains(&format!("\"allowed\":{want_allowed}")) {
                return Ok(());
            }
        }
    };
    let mut ms = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        bulkhead(&[
            "policy",
            "apply",
            "--server",
            &url,
            "--token-file",
            &token_s,
            deny.to_str().ok_or("path")?,
        ])?;
        probe(false)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        bulkhead(&[
            "policy",
            "delete",
            "--server",
            &url,
            "--token-file",
            &token_s,
            "default/lock-b",
        ])?;
        probe(true)?;
    }
    ms.sort_by(f64::total_cmp);
    writeln!(
        latency,
        "- {backend}: median {:.0} ms, max {:.0} ms ({:?})",
        ms[2],
        ms[4],
        ms.iter().map(|m| m.round() as u64).collect::<Vec<_>>()
    )?;
    drop(agent);
    drop(server);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
