//! The benchmark's machine: a node namespace with a bridge, two real workloads (client
//! and server, on veths) at the synthetic addresses of two workloads, and a dummy
//! interface per other local endpoint so that every endpoint of a large program has an
//! interface to hold its programs. All in namespaces this run creates, removed on drop.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: String) -> Netns {
        sh(&["ip", "netns", "add", &name]);
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Netns { name }
    }
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        bulkhead_dataplane::netns::run_in(&self.path(), f).expect("enter netns")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Field order: workloads go before the node.
pub struct Topo {
    pub client: Netns,
    pub server: Netns,
    pub node: Netns,
    pub server_ip: Ipv4Addr,
}

impl Topo {
    /// `client`/`server` at `client_ip`/`server_ip` (host-side veths `cli`/`srv`), and
    /// dummy interfaces `dummies` in the node.
    pub fn new(client_ip: Ipv4Addr, server_ip: Ipv4Addr, dummies: &[String]) -> Topo {
        let tag = std::process::id() % 100_000;
        let node = Netns::new(format!("bhbb-{tag}-node"));
        sh(&[
            "ip", "-n", &node.name, "link", "add", "br0", "type", "bridge",
        ]);
        sh(&[
            "ip",
            "-n",
            &node.name,
            "addr",
            "add",
            "10.255.255.254/8",
            "dev",
            "br0",
        ]);
        sh(&["ip", "-n", &node.name, "link", "set", "br0", "up"]);
        let mk = |name: &str, ip: Ipv4Addr| {
            let ns = Netns::new(format!("bhbb-{tag}-{name}"));
            sh(&[
                "ip", "-n", &node.name, "link", "add", name, "type", "veth", "peer", "name",
                "eth0", "netns", &ns.name,
            ]);
            sh(&[
                "ip", "-n", &node.name, "link", "set", name, "master", "br0", "up",
            ]);
            sh(&[
                "ip",
                "-n",
                &ns.name,
                "addr",
                "add",
                &format!("{ip}/8"),
                "dev",
                "eth0",
            ]);
            sh(&["ip", "-n", &ns.name, "link", "set", "eth0", "up"]);
            ns
        };
        let client = mk("cli", client_ip);
        let server = mk("srv", server_ip);
        // One `ip -batch` for all placeholder interfaces: thousands of links in about a second.
        let batch: String = dummies
            .iter()
            .map(|d| format!("link add {d} type ifb\n"))
            .collect();
        let path = std::env::temp_dir().join(format!("bhbb-{tag}.batch"));
        std::fs::write(&path, batch).expect("write batch");
        sh(&["ip", "-n", &node.name, "-batch", &path.to_string_lossy()]);
        let _ = std::fs::remove_file(&path);
        Topo {
            client,
            server,
            node,
            server_ip,
        }
    }

    /// The ifindex of an interface of the node.
    pub fn ifindex(&self, name: &str) -> u32 {
        let name = name.to_string();
        self.node
            .run(move || nix::net::if_::if_nametoindex(name.as_str()).expect("ifindex"))
    }

    /// iperf3 client → server for `secs` seconds on `port`, in Gbit/s.
    pub fn iperf(&self, port: u16, secs: u32) -> f64 {
        let dst = self.server_ip.to_string();
        let p = port.to_string();
        let mut server = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.server.name,
                "iperf3",
                "-s",
                "-1",
                "-p",
                &p,
                "-B",
                &dst,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("iperf3 server");
        std::thread::sleep(Duration::from_millis(300));
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.client.name,
                "iperf3",
                "-c",
                &dst,
                "-p",
                &p,
                "-t",
                &secs.to_string(),
                "-J",
            ])
            .output()
            .expect("iperf3 client");
        let _ = server.kill(); // by its pid
        let _ = server.wait();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .unwrap_or(0.0)
            / 1e9
    }

    /// Whether the client can open a TCP connection to the server on `port` (a
    /// listener is started for the attempt), within 300 ms.
    pub fn reaches(&self, port: u16) -> bool {
        let dst = SocketAddrV4::new(self.server_ip, port);
        let l = self
            .server
            .run(|| TcpListener::bind(dst))
            .expect("listener");
        let ok = self
            .client
            .run(|| TcpStream::connect_timeout(&dst.into(), Duration::from_millis(300)).is_ok());
        drop(l);
        ok
    }

    /// New TCP connections per second (connect, then reset) over one second.
    pub fn connection_rate(&self, port: u16) -> f64 {
        let dst = SocketAddrV4::new(self.server_ip, port);
        let l = self
            .server
            .run(|| TcpListener::bind(dst))
            .expect("listener");
        l.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let done = stop.clone();
        let acceptor = std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok(s) => drop(s),
                    Err(_) => std::thread::sleep(Duration::from_micros(200)),
                }
            }
        });
        let rate = self.client.run(|| {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < Duration::from_secs(1) {
                if let Ok(s) = TcpStream::connect_timeout(&dst.into(), Duration::from_millis(200)) {
                    // A reset close leaves no TIME_WAIT behind to exhaust the ports.
                    let linger = libc::linger {
                        l_onoff: 1,
                        l_linger: 0,
                    };
                    let _ = nix::sys::socket::setsockopt(
                        &s,
                        nix::sys::socket::sockopt::Linger,
                        &linger,
                    );
                    n += 1;
                }
            }
            n as f64 / start.elapsed().as_secs_f64()
        });
        stop.store(true, Ordering::Relaxed);
        let _ = acceptor.join();
        rate
    }
}
