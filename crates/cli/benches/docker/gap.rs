//! One backend's rounds of the start-gap benchmark (see the bench's docs).

use crate::Res;
use crate::harness::TempDir;
use crate::harness::docker::DockerEngine;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_bulkhead");

const POLICY: &str = "\
apiVersion: bulkhead.dev/v1
kind: Policy
metadata: {name: intruder, namespace: shop}
spec:
  selector: {matchLabels: {app: intruder}}
  egress:
    - action: deny
      to: [{entity: world}]
";

pub struct Round {
    pub passed: usize,
    pub in_force_ms: f64,
    pub baseline_ms: f64,
}

/// Ends a child by PID on drop.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Nanoseconds since the epoch of an RFC 3339 UTC time (`2026-11-24T17:40:01.123Z`).
fn rfc3339_nanos(s: &str) -> Option<i128> {
    let (date, time) = s.trim().split_once('T')?;
    let time = time.strip_suffix('Z')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>());
    let (h, mi, sec) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let digits: String = frac.chars().take(9).collect();
    let nanos = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + h * 3600 + mi * 60 + sec;
    Some(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
}

/// (time, endpoints) of every `in force` line of an agent log.
fn applies(log: &str) -> Vec<(i128, u64)> {
    let mut out = Vec::new();
    for line in log.lines().filter(|l| l.contains("in force")) {
        let mut plain = String::new();
        let mut esc = false;
        for c in line.chars() {
            match (esc, c) {
                (false, '\u{1b}') => esc = true,
                (true, 'm') => esc = false,
                (false, c) => plain.push(c),
                _ => {}
            }
        }
        let ts = plain.split_whitespace().next().and_then(rfc3339_nanos);
        let eps = plain
            .split_whitespace()
            .find_map(|w| w.strip_prefix("endpoints="))
            .and_then(|v| v.parse().ok());
        if let (Some(t), Some(e)) = (ts, eps) {
            out.push((t, e));
        }
    }
    out
}

fn get(url: &str, token: &str) -> Res<Value> {
    let mut r = ureq::get(url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()?;
    Ok(r.body_mut().read_json()?)
}

pub fn run(backend: &str, guard: bool, rounds: usize) -> Res<Vec<Round>> {
    let engine = DockerEngine::start(&format!("gb{}", &backend[..1]));
    engine.build_busybox();
    engine
        .docker(&["network", "create", "--subnet", "10.79.0.0/24", "shop"])
        .success();
    engine.run_app("shop", &[("open", "nc -ll -p 80 -e echo ok")]);
    let open = engine.ip("shop-open-1");
    let dir = TempDir::new(&format!("gap-{backend}"));
    let mut server = Command::new(BIN)
        .args(["server", "--listen", "127.0.0.1:0", "--no-ui", "--db"])
        .arg(dir.path().join("db"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut err = BufReader::new(server.stderr.take().ok_or("no stderr")?);
    let mut line = String::new();
    while !line.contains("http://") {
        line.clear();
        if err.read_line(&mut line)? == 0 {
            return Err("the server exited".into());
        }
    }
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    let server = Proc(server);
    let url = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .map(|a| format!("http://{a}"))
        .ok_or("no address")?;
    let token_file = dir.path().join("admin.token");
    let token = std::fs::read_to_string(&token_file)?.trim().to_string();
    let log = dir.path().join("agent.log");
    let agent = Proc(
        Command::new(BIN)
            .args(["agent", "--server", &url, "--token-file"])
            .arg(&token_file)
            .args(["--runtime", "docker", "--docker-host", &engine.host()])
            .arg("--docker-netns")
            .arg(engine.netns_path())
            .args(["--backend", backend, "--state-dir"])
            .arg(dir.path().join("state"))
            .args(if guard {
                &[][..]
            } else {
                &["--no-unknown-guard"][..]
            })
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?,
    );
    let policy = dir.path().join("intruder.yaml");
    std::fs::write(&policy, POLICY)?;
    let tf = token_file.to_str().ok_or("path")?;
    let p = policy.to_str().ok_or("path")?;
    let st = Command::new(BIN)
        .args(["policy", "apply", p, "--server", &url, "--token-file", tf])
        .status()?;
    if !st.success() {
        return Err("policy apply failed".into());
    }
    let in_sync = || -> Res<bool> {
        let rows = get(&format!("{url}/api/v1/agents"), &token)?;
        Ok(rows
            .as_array()
            .is_some_and(|r| r.iter().all(|a| a["in_sync"] == true) && !r.is_empty()))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !in_sync()? {
        if Instant::now() > deadline {
            return Err(format!("agent never in sync: {}", std::fs::read_to_string(&log)?).into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut out = Vec::new();
    for i in 0..rounds {
        let before = applies(&std::fs::read_to_string(&log)?);
        let base_eps = before.last().map(|a| a.1).unwrap_or(0);
        let service = format!("intr{i}");
        // `timeout`: a connection cut mid-way by an apply (its conntrack entry deleted)
        // would leave nc waiting for the reply forever.
        let cmd = format!(
            "while timeout 3 nc -w 1 {open} 80 </dev/null; do :; done; echo done; sleep 3600"
        );
        let called = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as i128;
        engine.run_service("shop", &service, &cmd, &["-l", "app=intruder"]);
        let name = format!("shop-{service}-1");
        let deadline = Instant::now() + Duration::from_secs(60);
        let logs = loop {
            let l = engine.docker(&["logs", &name]).stdout;
            if l.lines().any(|x| x == "done") {
                break l;
            }
            if Instant::now() > deadline {
                return Err(format!("{name} never stopped connecting: {l}").into());
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let passed = logs.lines().filter(|l| *l == "ok").count();
        let started = engine.docker(&["inspect", "-f", "{{.State.StartedAt}}", &name]);
        let started = rfc3339_nanos(&started.stdout).ok_or("bad StartedAt")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let known = loop {
            let all = applies(&std::fs::read_to_string(&log)?);
            if let Some(a) = all.iter().find(|a| a.0 >= started && a.1 > base_eps) {
                break a.0;
            }
            if Instant::now() > deadline {
                return Err(format!("{name} never in force").into());
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        out.push(Round {
            passed,
            in_force_ms: (known - started) as f64 / 1e6,
            baseline_ms: (started - called) as f64 / 1e6,
        });
        engine.docker(&["rm", "-f", &name]).success();
        // Wait until the agent dropped it again, so rounds do not overlap.
        let deadline = Instant::now() + Duration::from_secs(30);
        while applies(&std::fs::read_to_string(&log)?).last().map(|a| a.1) != Some(base_eps) {
            if Instant::now() > deadline {
                return Err(format!("{name} never forgotten").into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    drop(agent);
    drop(server);
    Ok(out)
}
