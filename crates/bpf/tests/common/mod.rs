//! A tiny node of our own for privileged tests: a node namespace with a bridge and
//! workloads in their own namespaces, each on a veth whose host side sits in the node
//! (the lab's shape, without depending on the lab crate). Everything is created with
//! `ip` inside fresh namespaces and removed by [`Node`]'s `Drop`, pins included.
#![allow(dead_code)]

pub mod programs;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn sh_out(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A unique prefix per fixture: pid and a counter (tests run in parallel threads).
fn unique() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "bhbpf{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// `(link id, program id)` of every TCX link (type 11) that runs one of `progs`, as
/// `bpftool` lists them (bpftool 7.1 shows TCX links only by type number).
pub fn tcx_links(progs: &[u32]) -> Vec<(u64, u32)> {
    let json = sh_out(&["bpftool", "-j", "link", "show"]);
    let links: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let mut out: Vec<(u64, u32)> = links
        .iter()
        .filter(|l| l["type"] == 11 || l["type"] == "tcx")
        .filter_map(|l| Some((l["id"].as_u64()?, l["prog_id"].as_u64()? as u32)))
        .filter(|(_, p)| progs.contains(p))
        .collect();
    out.sort();
    out
}

/// Polls `cond` for up to 3 s: unpinned links and their programs are freed by a kernel
/// work item, a moment after the unpin returns.
pub fn eventually(cond: impl Fn() -> bool) -> bool {
    (0..60).any(|_| {
        let ok = cond();
        if !ok {
            std::thread::sleep(Duration::from_millis(50));
        }
        ok
    })
}

/// Whether a program with this id is loaded.
pub fn prog_loaded(id: u32) -> bool {
    Command::new("bpftool")
        .args(["prog", "show", "id", &id.to_string()])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub struct Workload {
    pub name: String,
    pub netns: String,
    /// Host-side veth, inside the node namespace.
    pub interface: String,
    pub ip: Ipv4Addr,
}

pub struct Node {
    pub netns: String,
    pub workloads: Vec<Workload>,
    stop: Arc<AtomicBool>,
    servers: Vec<JoinHandle<()>>,
}

impl Node {
    /// A node `10.77.0.1/24` with workloads `names[i]` at `10.77.0.(10 + i)`, each
    /// serving TCP and UDP echo on `ports`.
    pub fn new(names: &[&str], ports: &[u16]) -> Node {
        let prefix = unique();
        let netns = format!("{prefix}-node");
        sh(&["ip", "netns", "add", &netns]);
        let mut node = Node {
            netns: netns.clone(),
            workloads: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            servers: Vec::new(),
        };
        sh(&["ip", "-n", &netns, "link", "set", "lo", "up"]);
        sh(&["ip", "-n", &netns, "link", "add", "br0", "type", "bridge"]);
        sh(&[
            "ip",
            "-n",
            &netns,
            "addr",
            "add",
            "10.77.0.1/24",
            "dev",
            "br0",
        ]);
        sh(&["ip", "-n", &netns, "link", "set", "br0", "up"]);
        for (i, name) in names.iter().enumerate() {
            let wns = format!("{prefix}-{name}");
            let interface = format!("v{name}");
            let ip = Ipv4Addr::new(10, 77, 0, 10 + i as u8);
            sh(&["ip", "netns", "add", &wns]);
            sh(&[
                "ip", "-n", &netns, "link", "add", &interface, "type", "veth", "peer", "name",
                "eth0", "netns", &wns,
            ]);
            sh(&[
                "ip", "-n", &netns, "link", "set", &interface, "master", "br0", "up",
            ]);
            sh(&[
                "ip",
                "-n",
                &wns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                "eth0",
            ]);
            sh(&["ip", "-n", &wns, "link", "set", "eth0", "up"]);
            sh(&["ip", "-n", &wns, "link", "set", "lo", "up"]);
            node.workloads.push(Workload {
                name: name.to_string(),
                netns: wns,
                interface,
                ip,
            });
        }
        for w in 0..node.workloads.len() {
            for &port in ports {
                node.serve(w, port);
            }
        }
        node
    }

    pub fn netns_path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.netns)
    }

    pub fn w(&self, name: &str) -> &Workload {
        self.workloads.iter().find(|w| w.name == name).unwrap()
    }

    fn serve(&mut self, w: usize, port: u16) {
        let wl = &self.workloads[w];
        let path = PathBuf::from("/run/netns").join(&wl.netns);
        let ip = wl.ip;
        let (tcp, udp) = bulkhead_dataplane::netns::run_in(&path, || {
            let tcp = TcpListener::bind((ip, port)).unwrap();
            let udp = UdpSocket::bind((ip, port)).unwrap();
            (tcp, udp)
        })
        .unwrap();
        tcp.set_nonblocking(true).unwrap();
        udp.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let stop = self.stop.clone();
        self.servers.push(std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                // Answer one line so the client sees the reply direction work.
                if let Ok((mut s, _)) = tcp.accept() {
                    let _ = s.set_nonblocking(false);
                    let _ = s.write_all(b"hi\n");
                }
                if let Ok((n, from)) = udp.recv_from(&mut buf) {
                    let _ = udp.send_to(&buf[..n], from);
                }
            }
        }));
    }

    /// A TCP connection from `from` to `to:port` that also reads the server's line.
    /// Two attempts of 1 s each: the machine is shared, and a loaded scheduler must not
    /// turn an allowed connection into a "denied" one.
    pub fn tcp(&self, from: &str, to: &str, port: u16) -> bool {
        (0..2).any(|_| self.tcp_once(from, to, port, Duration::from_secs(1)))
    }

    pub fn tcp_once(&self, from: &str, to: &str, port: u16, timeout: Duration) -> bool {
        let src = self.w(from);
        let dst = SocketAddr::from((self.w(to).ip, port));
        bulkhead_dataplane::netns::run_in(
            &PathBuf::from("/run/netns").join(&src.netns),
            move || {
                let Ok(mut s) = TcpStream::connect_timeout(&dst, timeout) else {
                    return false;
                };
                let _ = s.set_read_timeout(Some(timeout));
                let mut line = [0u8; 3];
                s.read_exact(&mut line).is_ok()
            },
        )
        .unwrap()
    }

    /// A UDP datagram from `from` to `to:port`, answered by the echo server; a second
    /// try if the first gets no answer (the very first datagram may wait for ARP).
    pub fn udp(&self, from: &str, to: &str, port: u16) -> bool {
        (0..2).any(|_| self.udp_once(from, to, port, Duration::from_secs(1)))
    }

    pub fn udp_once(&self, from: &str, to: &str, port: u16, timeout: Duration) -> bool {
        let src = self.w(from);
        let dst = SocketAddr::from((self.w(to).ip, port));
        let ip = src.ip;
        let path = PathBuf::from("/run/netns").join(&src.netns);
        bulkhead_dataplane::netns::run_in(&path, move || {
            let s = UdpSocket::bind((ip, 0)).unwrap();
            s.set_read_timeout(Some(timeout)).unwrap();
            s.send_to(b"ping", dst).unwrap();
            let mut buf = [0u8; 16];
            s.recv_from(&mut buf).is_ok()
        })
        .unwrap()
    }

    pub fn interfaces(&self) -> std::collections::BTreeMap<bulkhead_policy::WorkloadId, String> {
        self.workloads
            .iter()
            .map(|w| {
                (
                    bulkhead_policy::WorkloadId::new("default", &w.name),
                    w.interface.clone(),
                )
            })
            .collect()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for s in self.servers.drain(..) {
            let _ = s.join();
        }
        for w in &self.workloads {
            let _ = Command::new("ip").args(["netns", "del", &w.netns]).status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
        let _ = bulkhead_bpf::remove_pins(&bulkhead_bpf::PinDir::for_netns(&self.netns));
    }
}
