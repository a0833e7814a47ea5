//! `bulkhead demo --runtime docker` as a process: its URL signs in, the map fills with
//! the containers' flows and the policies' verdicts, and SIGTERM removes everything it
//! created (the engine's namespace, its state directory).

use crate::harness::bulkhead_bin;
use crate::harness::docker::ensure_installed;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The demo process, stopped by PID on drop (SIGTERM, then SIGKILL).
struct Demo(Child);

impl Demo {
    /// SIGTERM, then waits up to a minute; true if it exited by itself.
    fn stop(&mut self) -> bool {
        crate::harness::sigterm_and_wait(&mut self.0, Duration::from_secs(60))
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if !self.stop() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn graph(url: &str, token: &str) -> Value {
    ureq::get(&format!("{url}/api/v1/graph"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_json().ok())
        .unwrap_or(Value::Null)
}

fn has(g: &Value, src: &str, dst: &str, verdict: &str) -> bool {
    g["edges"].as_array().into_iter().flatten().any(|e| {
        e["source"] == format!("shop/shop-{src}-1").as_str()
            && e["destination"] == format!("shop/shop-{dst}-1").as_str()
            && e["verdict"] == verdict
    })
}

#[test]
fn privileged_docker_demo_shows_verdicts_and_removes_everything() {
    ensure_installed();
    let name = format!("dd{:04x}", std::process::id() as u16);
    let mut child = Command::new(bulkhead_bin())
        .args(["demo", "--runtime", "docker", "--listen", "127.0.0.1:0"])
        .args(["--lab-name", &name])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut demo = Demo(child);
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("#token="))
        .expect("the demo printed no URL");
    let (url, token) = line.trim().split_once("/#token=").unwrap();
    let netns = format!("/run/netns/{name}-dk");
    assert!(Path::new(&netns).exists());

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let g = graph(url, token);
        let seen = has(&g, "frontend", "api", "allowed")
            && has(&g, "api", "db", "allowed")
            && has(&g, "intruder", "db", "denied")
            && has(&g, "intruder", "api", "denied");
        if seen {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the map never showed the shop: {g}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    let pid = demo.0.id();
    assert!(demo.stop(), "the demo did not stop on SIGTERM");
    assert!(!Path::new(&netns).exists(), "{netns} left behind");
    let state = std::env::temp_dir().join(format!("bulkhead-demo-{pid}"));
    assert!(!state.exists(), "{} left behind", state.display());
}
