//! `bulkhead enforce --backend ebpf` run again and again (each run a new process that
//! takes the pinned programs over) while probes run without pause: no probe may ever
//! see a wrong verdict, neither a gap (c → b getting through) nor a blip (a → b cut).

use crate::ebpf::{enforce, write};
use crate::harness::{LabGuard, TempDir, TestLab, in_netns};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

const LAB: &str = "subnet: 10.0.0.0/16
workloads:
  - {name: a, labels: {app: a}, ip: 10.0.0.10, ports: [{port: 80, protocol: TCP}, {port: 80, protocol: UDP}]}
  - {name: b, labels: {app: b}, ip: 10.0.0.11, ports: [{port: 80, protocol: TCP}, {port: 81, protocol: TCP}, {port: 80, protocol: UDP}]}
  - {name: c, labels: {app: c}, ip: 10.0.0.12, ports: [{port: 80, protocol: TCP}, {port: 80, protocol: UDP}]}
";

/// b admits a on 80; the second version also admits c on 81 (another program, the same
/// verdicts on port 80).
const P1: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b, namespace: default}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: a}}}]
      ports: [{port: 80, protocol: TCP}, {port: 80, protocol: UDP}]
";

fn p2() -> String {
    format!(
        "{P1}    - from: [{{podSelector: {{matchLabels: {{app: c}}}}}}]\n      ports: [{{port: 81}}]\n"
    )
}

fn attempt(netns: &str, dst: SocketAddr, udp: bool, timeout: Duration) -> bool {
    in_netns(netns, move || {
        if udp {
            let s = UdpSocket::bind("0.0.0.0:0").unwrap();
            s.set_read_timeout(Some(timeout)).unwrap();
            let mut buf = [0u8; 64];
            s.send_to(b"ping", dst).is_ok() && s.recv_from(&mut buf).is_ok()
        } else {
            TcpStream::connect_timeout(&dst, timeout).is_ok()
        }
    })
}

#[test]
fn privileged_ebpf_reenforcing_leaves_no_gap() {
    let lab = TestLab::new("ec", LAB);
    let up = LabGuard::up(&lab);
    let dir = TempDir::new("ebpf-cont");
    let files = [write(&dir, "p1.yaml", P1), write(&dir, "p2.yaml", &p2())];
    enforce(&up, "ebpf", &[&files[0]]);

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, wrong) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let b = "10.0.0.11:80".parse::<SocketAddr>().unwrap();
    let mut threads = Vec::new();
    for (from, want) in [("a", true), ("c", false), ("c", false)] {
        let netns = up.workload_netns(from);
        let (stop, ok, wrong) = (stop.clone(), ok.clone(), wrong.clone());
        threads.push(std::thread::spawn(move || {
            let mut udp = false;
            while !stop.load(Ordering::Relaxed) {
                udp = !udp;
                let timeout = Duration::from_millis(if want { 1000 } else { 150 });
                let got = attempt(&netns, b, udp, timeout);
                if got == want {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    eprintln!("wrong verdict: {from} → b:80 udp={udp}: {got}");
                    wrong.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let runs = 20;
    for i in 0..runs {
        enforce(&up, "ebpf", &[&files[i % 2]]);
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let (ok, wrong) = (ok.load(Ordering::Relaxed), wrong.load(Ordering::Relaxed));
    eprintln!("{runs} enforce runs; {ok} right verdicts, {wrong} wrong");
    assert_eq!(wrong, 0);
    assert!(ok >= 40, "too few probes to mean anything");
}
