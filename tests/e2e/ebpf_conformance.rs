//! Every conformance case (`tests/conformance/`) through a kernel backend: for each
//! step, `bulkhead enforce` with the step's policies (and labels), then `lab probe`,
//! which must print what `policy eval` prints and what the case's tables say. Flows with
//! an address end (the node's `host` address, a `world` address) are probed from or to
//! the node namespace, where the test adds the world address and listeners.
//!
//! [`run_conformance`] takes the backend's name, so the nft backend can run the very
//! same cases with one more test function.

use crate::ebpf::write;
use crate::harness::{self, LabGuard, TempDir, TestLab, bulkhead, in_netns, nsenter, parse_probe};
use bulkhead_policy::Protocol;
use bulkhead_policy::conformance::{Case, Endpoint};
use bulkhead_policy::lab::LabFile;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance")
}

/// The lab file's YAML (without `name:`), written back from its model.
pub fn lab_yaml(lab: &LabFile) -> String {
    let labels = |l: &std::collections::BTreeMap<String, String>| {
        let kv: Vec<String> = l.iter().map(|(k, v)| format!("{k:?}: {v:?}")).collect();
        format!("{{{}}}", kv.join(", "))
    };
    let mut out = format!("subnet: {}\nnamespaces:\n", lab.subnet);
    for (ns, l) in &lab.namespaces {
        out.push_str(&format!("  {ns}: {{labels: {}}}\n", labels(l)));
    }
    out.push_str("workloads:\n");
    for w in &lab.workloads {
        let ports: Vec<String> = w
            .ports
            .iter()
            .map(|p| match &p.name {
                Some(n) => format!("{{name: {n}, port: {}, protocol: {}}}", p.port, p.protocol),
                None => format!("{{port: {}, protocol: {}}}", p.port, p.protocol),
            })
            .collect();
        out.push_str(&format!(
            "  - {{name: {}, namespace: {}, labels: {}, ip: {}, ports: [{}]}}\n",
            w.id.name,
            w.id.namespace,
            labels(&w.labels),
            w.ip,
            ports.join(", ")
        ));
    }
    out
}

/// An address outside the lab (the `world`), added to the node so flows can reach it.
const WORLD: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

/// TCP and UDP-echo listeners on `addrs` × `ports` inside a namespace, until dropped.
struct NodeServers {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl NodeServers {
    fn start(netns: &str, addrs: &[Ipv4Addr], ports: &[u16]) -> NodeServers {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for &a in addrs {
            for &p in ports {
                let (tcp, udp) = in_netns(netns, || {
                    (
                        TcpListener::bind((a, p)).unwrap(),
                        UdpSocket::bind((a, p)).unwrap(),
                    )
                });
                tcp.set_nonblocking(true).unwrap();
                udp.set_read_timeout(Some(Duration::from_millis(20)))
                    .unwrap();
                let stop = stop.clone();
                threads.push(std::thread::spawn(move || {
                    let mut buf = [0u8; 512];
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok((mut s, _)) = tcp.accept() {
                            let _ = s.write_all(b"ok");
                        }
                        if let Ok((n, from)) = udp.recv_from(&mut buf) {
                            let _ = udp.send_to(&buf[..n], from);
                        }
                    }
                }));
            }
        }
        NodeServers { stop, threads }
    }
}

impl Drop for NodeServers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One attempt from inside `netns`, from `src` (bound for UDP; for TCP the node's
/// route to `dst` names `src` as its source), like `lab probe` does it.
fn attempt(netns: &str, src: Option<Ipv4Addr>, dst: SocketAddr, protocol: Protocol) -> bool {
    let timeout = Duration::from_millis(800);
    in_netns(netns, move || match protocol {
        Protocol::Udp => {
            let s = UdpSocket::bind((src.unwrap_or(Ipv4Addr::UNSPECIFIED), 0)).unwrap();
            s.set_read_timeout(Some(timeout)).unwrap();
            let mut buf = [0u8; 16];
            (0..2).any(|_| s.send_to(b"ping", dst).is_ok() && s.recv_from(&mut buf).is_ok())
        }
        // A completed handshake is an allowed connection, as for `lab probe`.
        _ => TcpStream::connect_timeout(&dst, timeout).is_ok(),
    })
}

/// Probes one flow with an address end; `None` if the lab cannot produce it.
fn probe_flow(
    lab: &TestLab,
    model: &LabFile,
    from: &Endpoint,
    to: &Endpoint,
    port: u16,
    protocol: Protocol,
) -> Option<bool> {
    let node = lab.node_netns("node");
    let host = model.nodes.first()?.host_ip;
    match (from, to) {
        (Endpoint::Workload(w), Endpoint::Address(a)) if *a == host || *a == WORLD => {
            Some(attempt(
                &lab.workload_netns(&w.to_string()),
                None,
                SocketAddr::from((*a, port)),
                protocol,
            ))
        }
        (Endpoint::Address(a), Endpoint::Workload(w)) if *a == host || *a == WORLD => {
            let ip = model.workload(w)?.ip;
            let route = format!("{ip}/32");
            // TCP sockets cannot be bound here, so the route says which source to use.
            nsenter(
                &node,
                &[
                    "ip",
                    "route",
                    "replace",
                    &route,
                    "dev",
                    "br0",
                    "src",
                    &a.to_string(),
                ],
                "",
            )
            .success();
            let got = attempt(&node, Some(*a), SocketAddr::from((ip, port)), protocol);
            nsenter(&node, &["ip", "route", "del", &route], "").success();
            Some(got)
        }
        _ => None,
    }
}

/// Runs every case through `backend` (`nft` or `ebpf`); panics listing every mismatch.
pub fn run_conformance(backend: &str) {
    let text = std::fs::read_to_string(root().join("lab.yaml")).unwrap();
    let base = LabFile::parse("lab.yaml", &text).unwrap();
    let lab = TestLab::new("cf", &lab_yaml(&base));
    let up = LabGuard::up(&lab);
    let model = LabFile::parse("lab.yaml", &std::fs::read_to_string(&lab.path).unwrap()).unwrap();
    let node = lab.node_netns("node");
    nsenter(
        &node,
        &["ip", "addr", "add", &format!("{WORLD}/32"), "dev", "lo"],
        "",
    )
    .success();
    let host = model.nodes[0].host_ip;
    let _servers = NodeServers::start(&node, &[host, WORLD], &[80, 81]);
    let dir = TempDir::new("conformance");

    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let (mut failures, mut steps, mut skipped) = (Vec::new(), 0, 0);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let case = Case::parse(&name, &std::fs::read_to_string(file).unwrap()).unwrap();
        for step in &case.steps {
            steps += 1;
            let at = format!("{name} step `{}`", step.name);
            let step_lab = step.apply(&model);
            up.rewrite(&lab_yaml(&step_lab));
            let pol = write(&dir, "policies.yaml", &step.policies);
            let run = bulkhead(&[
                "enforce",
                "--lab",
                lab.path_str(),
                "--backend",
                backend,
                "--policy",
                &pol,
            ]);
            if run.code != 0 {
                failures.push(format!("{at}: enforce failed:\n{run}"));
                continue;
            }
            let eval = bulkhead(&[
                "policy",
                "eval",
                "--lab",
                lab.path_str(),
                "--policy",
                &pol,
                "-o",
                "json",
            ]);
            let want = parse_probe(&eval.success().stdout);
            let got = up.probe(&[]);
            if got != want {
                failures.push(format!(
                    "{at}: probe ≠ eval:\n{}",
                    harness::diff(&got, &want)
                ));
            }
            for e in step.expected(&step_lab) {
                let verdict = match (&e.from, &e.to) {
                    (Endpoint::Workload(f), Endpoint::Workload(t)) => got
                        .get(&harness::key(
                            &f.to_string(),
                            &t.to_string(),
                            e.protocol.as_str(),
                            e.port,
                        ))
                        .copied(),
                    _ => probe_flow(&lab, &step_lab, &e.from, &e.to, e.port, e.protocol),
                };
                match verdict {
                    Some(v) if v == e.allowed => {}
                    Some(v) => failures.push(format!(
                        "{at}: {:?} → {:?} {}/{}: got {v}, the case says {}",
                        e.from, e.to, e.port, e.protocol, e.allowed
                    )),
                    None => skipped += 1,
                }
            }
        }
    }
    up.rewrite(&lab_yaml(&model));
    assert!(
        failures.is_empty(),
        "{} of {steps} steps failed on {backend}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Only flows between two outside addresses could not be produced.
    assert!(skipped <= 2, "{skipped} expected flows could not be probed");
}

#[test]
fn privileged_ebpf_conformance() {
    run_conformance("ebpf");
}
