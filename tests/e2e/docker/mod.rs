//! Docker end to end: a real `dockerd` in its own namespace ([`DockerEngine`]), a
//! compose-style application (web → api → db, and an intruder), `bulkhead server` and
//! `bulkhead agent --runtime docker` processes, real connections from inside the
//! containers (`docker exec ... nc`).
//!
//! For each backend: the containers are discovered with their compose identities and
//! labels; a policy stored on the server is enforced on their connections; the flows
//! appear in the graph with the kernel's verdicts; Docker's own rules keep working
//! beside Bulkhead's table (a published port answers, and Docker's isolation between
//! networks still holds where Bulkhead's policy would allow). [`late`]: containers
//! started after the policy is in force are governed from their first attempt.
//! [`demo`]: `bulkhead demo --runtime docker`.

mod agent;
mod demo;
mod late;

use crate::agent::process::{EdgeId, graph};
use crate::harness::TempDir;
use crate::harness::docker::DockerEngine;
use crate::server::process::ServerProcess;
use agent::DockerAgent;
use serde_json::Value;
use std::time::{Duration, Instant};

const LISTEN_80: &str = "nc -ll -p 80 -e echo ok";
const LISTEN_5432: &str = "nc -ll -p 5432 -e echo ok";

/// api accepts only web on 80; db accepts only api on 5432; web is open.
const POLICY: &str = "\
apiVersion: bulkhead.dev/v1
kind: Policy
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  ingress:
    - action: allow
      from: [{selector: {matchLabels: {app: web}}}]
      ports: [80]
---
apiVersion: bulkhead.dev/v1
kind: Policy
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  ingress:
    - action: allow
      from: [{selector: {matchLabels: {app: api}}}]
      ports: [5432]
";

/// The engine with the image built and the `shop` network (10.79.0.0/24) created.
pub fn engine(tag: &str) -> DockerEngine {
    let engine = DockerEngine::start(tag);
    engine.build_busybox();
    engine
        .docker(&["network", "create", "--subnet", "10.79.0.0/24", "shop"])
        .success();
    engine
}

pub fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// Applies `yaml` through the CLI.
#[track_caller]
pub fn apply(server: &ServerProcess, dir: &TempDir, name: &str, yaml: &str) {
    let path = dir.path().join(name);
    std::fs::write(&path, yaml).unwrap();
    crate::agent::remote(server, &["policy", "apply", path.to_str().unwrap()]);
}

fn edge(src: &str, dst: &str, port: u64) -> EdgeId {
    (
        format!("shop/shop-{src}-1"),
        format!("shop/shop-{dst}-1"),
        "TCP".into(),
        port,
    )
}

fn scenario(backend: &str) {
    let engine = engine(&format!("dk{}", &backend[..1]));
    engine.run_service("shop", "web", LISTEN_80, &["-p", "8080:80"]);
    engine.run_app(
        "shop",
        &[
            ("api", LISTEN_80),
            ("db", LISTEN_5432),
            ("intruder", "sleep 3600"),
        ],
    );
    let dir = TempDir::new(&format!("docker-{backend}"));
    let server = ServerProcess::start_on(dir.path(), &free_addr());
    let agent = DockerAgent::start(&server, &engine, backend, dir.path());
    agent.wait_in_sync(&server, &engine, 4);

    // Discovery: compose project → namespace, container name → name, service → app.
    let (code, list) = server.get("/api/v1/workloads");
    assert_eq!(code, 200, "{list}");
    let rows = list.as_array().cloned().unwrap_or_default();
    for service in ["web", "api", "db", "intruder"] {
        let id = format!("shop/shop-{service}-1");
        let w = rows
            .iter()
            .find(|w| w["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not discovered: {list}"));
        let ip = engine.ip(&format!("shop-{service}-1")).to_string();
        assert_eq!(w["labels"]["app"], service, "{w}");
        assert_eq!(w["labels"]["com.docker.compose.project"], "shop", "{w}");
        assert_eq!(w["ips"], Value::from(vec![ip]), "{w}");
        assert_eq!(w["node"], engine.netns.as_str(), "{w}");
    }

    apply(&server, &dir, "shop.yaml", POLICY);
    agent.wait_in_sync(&server, &engine, 4);
    let ip = |s: &str| engine.ip(&format!("shop-{s}-1"));
    let c =
        |from: &str, to: &str, port| engine.connects(&format!("shop-{from}-1"), ip(to), port, 2);
    let verdicts = [
        ("web", "api", 80, true),
        ("api", "db", 5432, true),
        ("web", "db", 5432, false),
        ("intruder", "db", 5432, false),
        ("intruder", "api", 80, false),
        ("intruder", "web", 80, true),
    ];
    for (from, to, port, want) in verdicts {
        assert_eq!(
            c(from, to, port),
            want,
            "{from} → {to}:{port}\n{}",
            agent.log_text()
        );
    }

    // The flows reach the graph with the kernel's verdicts.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let g = graph(&server);
        let missing: Vec<_> = verdicts
            .iter()
            .filter(|(f, t, p, want)| {
                let v = if *want { "allowed" } else { "denied" };
                g.get(&edge(f, t, u64::from(*p)))
                    .map(|s| s.verdict.as_str())
                    != Some(v)
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "edges {missing:?} not in {g:#?}\n{}",
            agent.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Docker's rules still work beside Bulkhead's table: the published port answers from
    // the node (DNAT or docker-proxy), and a container on another network still cannot
    // reach web although web's policy would let anyone in.
    let gateway = "10.79.0.1";
    let published = crate::harness::nsenter(
        &engine.netns,
        &[
            "sh",
            "-c",
            &format!("busybox nc -w 2 {gateway} 8080 </dev/null"),
        ],
        "",
    );
    assert!(
        published.stdout.contains("ok"),
        "published port: {published:?}"
    );
    engine
        .docker(&["network", "create", "--subnet", "10.79.1.0/24", "other"])
        .success();
    engine.run_service("other", "probe", "sleep 3600", &[]);
    agent.wait_in_sync(&server, &engine, 5);
    assert!(
        !engine.connects("other-probe-1", ip("web"), 80, 2),
        "Docker's network isolation no longer holds"
    );
    drop(agent);
}

#[test]
fn privileged_docker_nft_discovery_enforcement_flows() {
    scenario("nft");
}

#[test]
fn privileged_docker_ebpf_discovery_enforcement_flows() {
    scenario("ebpf");
}
