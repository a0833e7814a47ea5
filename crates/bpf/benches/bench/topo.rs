//! The benchmark's machine: a node namespace with a bridge, two real workloads (client
//! and server, on veths) at the synthetic addresses of two workloads, and a dummy
//! interface per other local endpoint so that every endpoint of a large program has an
//! interface to hold its programs. A second, *control* pair of workloads on the same
//! bridge is never an endpoint of any program: with eBPF applied, traffic between them
//! takes the same kernel path without the programs, a baseline measured seconds apart
//! without re-applying anything. All in namespaces this run creates (named `ebsp-*`),
//! removed on drop.

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

/// Which pair of workloads a measurement runs between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pair {
    /// Client and server: endpoints of every program.
    Real,
    /// Never an endpoint: no program runs on their interfaces.
    Control,
}

/// The control pair's addresses: on the bridge's /8, outside the synthetic range.
pub const CONTROL_IPS: (Ipv4Addr, Ipv4Addr) =
    (Ipv4Addr::new(10, 200, 0, 1), Ipv4Addr::new(10, 200, 0, 2));

/// CPUs for the iperf3 client and server: pinned, so that a run does not depend on
/// where the scheduler happens to put them on this 2-core machine.
const CLIENT_CPU: &str = "0";
const SERVER_CPU: &str = "1";

/// Field order: workloads go before the node.
pub struct Topo {
    pub client: Netns,
    pub server: Netns,
    pub ctl_client: Netns,
    pub ctl_server: Netns,
    pub node: Netns,
    pub server_ip: Ipv4Addr,
}

impl Topo {
    /// `client`/`server` at `client_ip`/`server_ip` (host-side veths `cli`/`srv`), and
    /// dummy interfaces `dummies` in the node.
    pub fn new(client_ip: Ipv4Addr, server_ip: Ipv4Addr, dummies: &[String]) -> Topo {
        let tag = std::process::id() % 100_000;
        let node = Netns::new(format!("ebsp-{tag}-node"));
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
            let ns = Netns::new(format!("ebsp-{tag}-{name}"));
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
        let ctl_client = mk("xcli", CONTROL_IPS.0);
        let ctl_server = mk("xsrv", CONTROL_IPS.1);
        // One `ip -batch` for all placeholder interfaces: thousands of links in about a second.
        let batch: String = dummies
            .iter()
            .map(|d| format!("link add {d} type ifb\n"))
            .collect();
        let path = std::env::temp_dir().join(format!("ebsp-{tag}.batch"));
        std::fs::write(&path, batch).expect("write batch");
        sh(&["ip", "-n", &node.name, "-batch", &path.to_string_lossy()]);
        let _ = std::fs::remove_file(&path);
        Topo {
            client,
            server,
            ctl_client,
            ctl_server,
            node,
            server_ip,
        }
    }

    /// Client and server namespaces of `pair`, and the server's address.
    fn pair(&self, pair: Pair) -> (&Netns, &Netns, Ipv4Addr) {
        match pair {
            Pair::Real => (&self.client, &self.server, self.server_ip),
            Pair::Control => (&self.ctl_client, &self.ctl_server, CONTROL_IPS.1),
        }
    }

    /// The ifindex of an interface of the node.
    pub fn ifindex(&self, name: &str) -> u32 {
        let name = name.to_string();
        self.node
            .run(move || nix::net::if_::if_nametoindex(name.as_str()).expect("ifindex"))
    }

    /// iperf3 client → server of the real pair for `secs` seconds on `port`, in Gbit/s.
    pub fn iperf(&self, port: u16, secs: u32) -> f64 {
        self.iperf_on(Pair::Real, port, secs)
    }

    /// iperf3 client → server of `pair` for `secs` seconds (after one second left out
    /// for TCP to ramp up) on `port`, client and server pinned to one CPU each, in Gbit/s.
    pub fn iperf_on(&self, pair: Pair, port: u16, secs: u32) -> f64 {
        let (client, server_ns, ip) = self.pair(pair);
        let dst = ip.to_string();
        let p = port.to_string();
        let mut server = Command::new("ip")
            .args([
                "netns",
                "exec",
                &server_ns.name,
                "taskset",
                "-c",
                SERVER_CPU,
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
                &client.name,
                "taskset",
                "-c",
                CLIENT_CPU,
                "iperf3",
                "-c",
                &dst,
                "-p",
                &p,
                "-t",
                &secs.to_string(),
                "-O",
                "1",
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
        self.reaches_on(Pair::Real, port)
    }

    /// Waits (up to a minute) until nothing stops the real pair on `port`: after a
    /// large program is removed, the kernel releases its thousands of links in the
    /// background, and until then the old programs may still be in the path.
    pub fn wait_unfiltered(&self, port: u16) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.reaches(port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// [`reaches`](Self::reaches) between the workloads of `pair`.
    pub fn reaches_on(&self, pair: Pair, port: u16) -> bool {
        let (client, server, ip) = self.pair(pair);
        let dst = SocketAddrV4::new(ip, port);
        let l = server.run(|| TcpListener::bind(dst)).expect("listener");
        let ok = client
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
