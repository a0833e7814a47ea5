//! A tiny lab for privileged tests: a node namespace with a bridge, workload namespaces
//! on veths, TCP and UDP listeners, and probes. Everything lives in namespaces this
//! fixture creates and is removed when the [`Topo`] is dropped (RAII), even on panic.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub const TCP_PORTS: [u16; 2] = [80, 81];
pub const UDP_PORT: u16 = 53;

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A named network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: String) -> Netns {
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    pub fn exec(&self, args: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        sh(&full);
    }

    pub fn output(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        bulkhead_dataplane::netns::run_in(&self.path(), f).unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace removes its links, tables and sockets' bindings.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The node plus `n` workloads at `10.<subnet>.0.10 + i`; the node's bridge is `.1`.
/// Field order matters: workloads drop (and so their veths go) before the node.
pub struct Topo {
    pub workloads: Vec<(Netns, Ipv4Addr)>,
    pub node: Netns,
    pub host: Ipv4Addr,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Topo {
    pub fn new(n: usize) -> Topo {
        let k = NEXT.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}{k}", std::process::id() % 100_000);
        let subnet = 100 + (std::process::id() % 50) as u8 + k as u8 * 2;
        let node = Netns::new(format!("nftsp-{tag}-node"));
        let host = Ipv4Addr::new(10, subnet, 0, 1);
        node.exec(&["ip", "link", "add", "br0", "type", "bridge"]);
        node.exec(&["ip", "addr", "add", &format!("{host}/24"), "dev", "br0"]);
        node.exec(&["ip", "link", "set", "br0", "up"]);
        let mut workloads = Vec::new();
        for i in 0..n {
            let ns = Netns::new(format!("nftsp-{tag}-w{i}"));
            let ip = Ipv4Addr::new(10, subnet, 0, 10 + i as u8);
            let veth = format!("h{i}");
            node.exec(&[
                "ip", "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns",
                &ns.name,
            ]);
            node.exec(&["ip", "link", "set", &veth, "master", "br0", "up"]);
            ns.exec(&["ip", "addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
            ns.exec(&["ip", "link", "set", "eth0", "up"]);
            ns.exec(&["ip", "route", "add", "default", "via", &host.to_string()]);
            workloads.push((ns, ip));
        }
        let topo = Topo {
            workloads,
            node,
            host,
        };
        for (ns, ip) in &topo.workloads {
            serve(ns, *ip);
        }
        serve(&topo.node, host);
        topo
    }

    /// Every participant: the workloads, then the host (the node itself).
    pub fn participants(&self) -> Vec<(&Netns, Ipv4Addr)> {
        let mut v: Vec<_> = self.workloads.iter().map(|(n, ip)| (n, *ip)).collect();
        v.push((&self.node, self.host));
        v
    }
}

/// Listeners on TCP 80, 81 and a UDP echo on 53, bound inside `ns`; they serve from
/// threads of this process until the process ends (the namespace going away closes
/// nothing they need: a test's probes happen while it exists).
fn serve(ns: &Netns, ip: Ipv4Addr) {
    for port in TCP_PORTS {
        let l = ns
            .run(|| TcpListener::bind(SocketAddrV4::new(ip, port)))
            .unwrap();
        std::thread::spawn(move || {
            for s in l.incoming() {
                drop(s);
            }
        });
    }
    let u = ns
        .run(|| UdpSocket::bind(SocketAddrV4::new(ip, UDP_PORT)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok((n, from)) = u.recv_from(&mut buf) {
            let _ = u.send_to(&buf[..n], from);
        }
    });
}

/// A real connection attempt from inside `from`: TCP connect, or a UDP datagram that
/// the echo must answer.
pub fn probe(from: &Netns, dst: Ipv4Addr, protocol: u8, port: u16) -> bool {
    let timeout = Duration::from_millis(300);
    from.run(|| match protocol {
        6 => TcpStream::connect_timeout(&SocketAddrV4::new(dst, port).into(), timeout).is_ok(),
        _ => {
            let Ok(s) = UdpSocket::bind("0.0.0.0:0") else {
                return false;
            };
            let _ = s.set_read_timeout(Some(timeout));
            let mut buf = [0u8; 8];
            s.send_to(b"ping", SocketAddrV4::new(dst, port)).is_ok() && s.recv(&mut buf).is_ok()
        }
    })
}

/// `nft list table inet bulkhead` inside the node.
pub fn list_table(node: &Netns) -> String {
    node.output(&["nft", "list", "table", "inet", "bulkhead"])
}
