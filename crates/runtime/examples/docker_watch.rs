//! Prints the workloads of a Docker engine whenever they change:
//! `docker_watch /path/docker.sock /run/netns/NODE`.

use bulkhead_runtime::{DockerConfig, DockerSource, WorkloadSource};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let socket = PathBuf::from(args.next().ok_or("usage: docker_watch SOCKET NETNS")?);
    let node_netns = PathBuf::from(args.next().ok_or("usage: docker_watch SOCKET NETNS")?);
    let mut source = DockerSource::open(DockerConfig {
        socket,
        node_netns,
        node: "docker".into(),
        default_namespace: "default".into(),
        guard: true,
    })?;
    let start = Instant::now();
    loop {
        let t = Instant::now();
        let snap = source.snapshot()?;
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs_f64();
        println!(
            "--- at {:?} (unix {unix:.3}, snapshot took {:?})",
            start.elapsed(),
            t.elapsed()
        );
        for w in &snap.workloads {
            let ips: Vec<String> = w.ips.iter().map(|i| i.to_string()).collect();
            let iface = snap.interfaces.get(&w.id).cloned().unwrap_or_default();
            println!("{} {} {iface} {:?}", w.id, ips.join(","), w.labels);
        }
        while !source.wait_change(Duration::from_secs(60))? {}
    }
}
