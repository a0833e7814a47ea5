//! The lab itself: `lab up`, `lab down`, `lab probe`, with no firewall except the
//! rules these tests add by hand to prove a probe can say `false`.

mod lifecycle;
mod multinode;
mod probing;
mod reconcile;

use crate::harness::{self, ProbeMap, TestLab};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// Three workloads in two namespaces, TCP and UDP ports, a named port.
const BASIC: &str = "\
subnet: 10.0.0.0/24
namespaces:
  x: {labels: {team: x}}
workloads:
  - {name: a, namespace: x, ip: 10.0.0.10, ports: [{port: 80}, {port: 53, protocol: UDP}]}
  - {name: b, namespace: x, ip: 10.0.0.11, ports: [{name: http, port: 8080}, {port: 53, protocol: UDP}]}
  - {name: c, namespace: y, ip: 10.0.0.12, ports: [{port: 80, protocol: TCP}]}
";

/// The verdict map a probe of `workloads` (id and its listed ports) must print: every
/// ordered pair with from ≠ to, on the destination's ports; computed here independently
/// of the lab crate's own enumeration. `allowed` decides each row.
fn expected(
    workloads: &[(&str, &[(&str, u16)])],
    allowed: impl Fn(&str, &str, &str, u16) -> bool,
) -> ProbeMap {
    let mut out = ProbeMap::new();
    for (from, _) in workloads {
        for (to, ports) in workloads {
            if from == to {
                continue;
            }
            for (proto, port) in *ports {
                let k = harness::key(from, to, proto, *port);
                out.insert(k, allowed(from, to, proto, *port));
            }
        }
    }
    out
}

fn basic_workloads() -> Vec<(&'static str, &'static [(&'static str, u16)])> {
    vec![
        ("x/a", &[("TCP", 80), ("UDP", 53)]),
        ("x/b", &[("TCP", 8080), ("UDP", 53)]),
        ("y/c", &[("TCP", 80)]),
    ]
}

/// Asserts the lab left nothing: no namespace, no daemon, no state directory.
#[track_caller]
fn assert_clean(lab: &TestLab) {
    assert_eq!(
        harness::lab_netns(&lab.name),
        Vec::<String>::new(),
        "namespaces left"
    );
    assert_eq!(
        harness::serve_pids(&lab.name),
        Vec::<i32>::new(),
        "daemons left"
    );
    let state = Path::new(bulkhead_lab::STATE_ROOT).join(&lab.name);
    assert!(!state.exists(), "{} left", state.display());
}

/// Asserts two probe maps are equal, showing only the rows that differ.
#[track_caller]
fn assert_verdicts(got: &ProbeMap, want: &ProbeMap) {
    let d = harness::diff(got, want);
    assert!(d.is_empty(), "probe differs from expectation:\n{d}");
}

/// A TCP connection made from inside `netns` (it stays there).
fn connect_from(netns: &str, to: &str) -> std::io::Result<TcpStream> {
    let addr: SocketAddr = to.parse().unwrap_or_else(|e| panic!("{to}: {e}"));
    harness::in_netns(netns, || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(2))
    })
}

/// Sends `msg` and reads back as many bytes: the echo listener answered.
#[track_caller]
fn assert_echoes(stream: &mut TcpStream, msg: &[u8]) {
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap_or_else(|e| panic!("{e}"));
    stream
        .write_all(msg)
        .unwrap_or_else(|e| panic!("send: {e}"));
    let mut buf = vec![0u8; msg.len()];
    stream
        .read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("no echo: {e}"));
    assert_eq!(buf, msg);
}
