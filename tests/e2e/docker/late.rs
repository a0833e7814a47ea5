//! Containers started after the policy is in force, whose very first command is a
//! connection attempt (repeated every 50 ms for a few seconds, each success printed):
//!
//! - an intruder towards web, which accepts only `app: client`: no attempt ever passes
//!   (web's check knows every address it allows; an address not known yet is no
//!   client);
//! - a second intruder towards `open` (no policy selects it), while the intruder's own
//!   egress is denied: no attempt passes either, because addresses on Docker's bridges
//!   that the agent does not know yet are dropped until the apply that puts the
//!   container's own rules in force (the nft guard; with eBPF, a guard-only nft table
//!   beside the programs, see `cmd::guarded`). What passes without the guard is
//!   measured by the start-gap benchmark (docs/bench/docker.md);
//! - a client towards web: it gets through once known.
//!
//! Both backends, the same assertions.

use super::agent::DockerAgent;
use super::{LISTEN_80, apply, engine, free_addr};
use crate::harness::TempDir;
use crate::harness::docker::DockerEngine;
use crate::server::process::ServerProcess;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const POLICY: &str = "\
apiVersion: bulkhead.dev/v1
kind: Policy
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  ingress:
    - action: allow
      from: [{selector: {matchLabels: {app: client}}}]
---
apiVersion: bulkhead.dev/v1
kind: Policy
metadata: {name: intruder, namespace: shop}
spec:
  selector: {matchLabels: {app: intruder}}
  egress:
    - action: deny
      to: [{entity: world}]
";

/// A shell loop: `n` attempts to `ip:80`, 50 ms apart, printing `try` before each and
/// the listener's `ok` on success; then `done`, then it idles.
fn attempts(ip: Ipv4Addr, n: u32) -> String {
    format!(
        "i=0; while [ $i -lt {n} ]; do echo try; timeout 3 nc -w 1 {ip} 80 </dev/null; \
         i=$((i+1)); sleep 0.05; done; echo done; sleep 3600"
    )
}

/// (attempts made, attempts that connected) once the loop of `container` is done.
fn outcome(engine: &DockerEngine, container: &str) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let logs = engine.docker(&["logs", container]);
        if logs.stdout.lines().any(|l| l == "done") {
            let tries = logs.stdout.lines().filter(|l| *l == "try").count();
            let ok = logs.stdout.lines().filter(|l| *l == "ok").count();
            return (tries, ok);
        }
        assert!(
            Instant::now() < deadline,
            "{container} never finished: {logs:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn scenario(backend: &str) {
    let engine = engine(&format!("dl{}", &backend[..1]));
    engine.run_app("shop", &[("web", LISTEN_80), ("open", LISTEN_80)]);
    let dir = TempDir::new(&format!("docker-late-{backend}"));
    let server = ServerProcess::start_on(dir.path(), &free_addr());
    let agent = DockerAgent::start(&server, &engine, backend, dir.path());
    agent.wait_in_sync(&server, &engine, 2);
    apply(&server, &dir, "late.yaml", POLICY);
    agent.wait_in_sync(&server, &engine, 2);
    let (web, open) = (engine.ip("shop-web-1"), engine.ip("shop-open-1"));

    engine.run_service("shop", "intruder", &attempts(web, 20), &[]);
    engine.run_service(
        "shop",
        "sneak",
        &attempts(open, 20),
        &["-l", "app=intruder"],
    );
    engine.run_service("shop", "client", &attempts(web, 40), &[]);
    let (tries, ok) = outcome(&engine, "shop-intruder-1");
    assert_eq!(
        (tries, ok),
        (20, 0),
        "intruder → web passed\n{}",
        agent.log_text()
    );
    let (tries, ok) = outcome(&engine, "shop-client-1");
    assert!(
        ok > 0,
        "the client never got through ({tries} tries)\n{}",
        agent.log_text()
    );
    let (tries, ok) = outcome(&engine, "shop-sneak-1");
    assert_eq!(tries, 20);
    assert_eq!(ok, 0, "sneak → open passed before its policy was in force");
    // Known now: denied whatever the backend.
    assert!(
        !engine.connects("shop-sneak-1", open, 80, 1),
        "{}",
        agent.log_text()
    );
    assert!(engine.connects("shop-client-1", web, 80, 2));
    drop(agent);
}

#[test]
fn privileged_docker_nft_late_container_governed_from_first_attempt() {
    scenario("nft");
}

#[test]
fn privileged_docker_ebpf_late_container_governed_from_first_attempt() {
    scenario("ebpf");
}
