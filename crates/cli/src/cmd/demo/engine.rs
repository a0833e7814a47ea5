//! The demo's own Docker engine (see [`super::docker`]): `dockerd` in a fresh network
//! namespace with everything under the demo's state directory, the shop's containers
//! and their traffic; [`Engine`] removes the containers, stops the daemon by PID and
//! deletes the namespace on drop.

use anyhow::{Context, bail};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// (service, listening port).
pub const SERVICES: [(&str, u16); 5] = [
    ("db", 5432),
    ("cache", 6379),
    ("api", 8080),
    ("frontend", 80),
    ("intruder", 4444),
];

pub struct Engine {
    pub netns: String,
    dir: PathBuf,
    daemon: Option<Child>,
}

fn sh(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Engine {
    /// Starts `dockerd` in namespace `netns` with everything under `dir`.
    pub fn start(netns: &str, dir: &Path) -> anyhow::Result<Engine> {
        sh(Command::new("dockerd").arg("--version"))
            .context("--runtime docker needs dockerd and docker (apt-get install docker.io)")?;
        std::fs::create_dir_all(dir)?;
        let mut engine = Engine {
            netns: netns.to_string(),
            dir: dir.to_path_buf(),
            daemon: None,
        };
        sh(Command::new("ip").args(["netns", "add", netns]))?;
        sh(Command::new("ip").args(["-n", netns, "link", "set", "lo", "up"]))?;
        let log = std::fs::File::create(dir.join("dockerd.log"))?;
        let daemon = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{netns}"))
            .arg("dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg("-H")
            .arg(engine.host())
            .args(["--bip", "10.21.0.1/24"])
            .args(["--default-address-pool", "base=10.22.0.0/16,size=24"])
            .args(["--containerd-namespace", netns])
            .args(["--containerd-plugins-namespace", &format!("{netns}p")])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting dockerd")?;
        engine.daemon = Some(daemon);
        let deadline = Instant::now() + Duration::from_secs(60);
        while engine.docker(&["version"]).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "dockerd never answered (see {})",
                    dir.join("dockerd.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(engine)
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.join("docker.sock").display())
    }

    pub fn docker(&self, args: &[&str]) -> anyhow::Result<String> {
        sh(Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .env("DOCKER_BUILDKIT", "0"))
    }

    /// Builds the image, the `shop` network and its containers (listening only).
    pub fn shop(&self) -> anyhow::Result<()> {
        let ctx = self.dir.join("image");
        std::fs::create_dir_all(&ctx)?;
        std::fs::copy("/bin/busybox", ctx.join("busybox"))
            .context("copying /bin/busybox (install busybox-static)")?;
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\n\
             RUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\nCMD [\"/bin/sh\"]\n",
        )?;
        let ctx = ctx.to_str().context("image path")?;
        self.docker(&["build", "-q", "-t", "bulkhead-demo-busybox", ctx])?;
        self.docker(&["network", "create", "--subnet", "10.20.0.0/24", "shop"])?;

        for (service, port) in SERVICES {
            let name = format!("shop-{service}-1");
            let listen = format!("nc -ll -p {port} -e echo ok");
            self.docker(&[
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                "shop",
                "-l",
                "com.docker.compose.project=shop",
                "-l",
                &format!("com.docker.compose.service={service}"),
                "bulkhead-demo-busybox",
                "sh",
                "-c",
                &listen,
            ])?;
        }
        Ok(())
    }

    /// Starts the containers' traffic, every 2 s: frontend → api → db and cache, and
    /// the intruder knocking on api and db.
    pub fn traffic(&self) -> anyhow::Result<()> {
        let mut ips = std::collections::BTreeMap::new();
        for (service, _) in SERVICES {
            let name = format!("shop-{service}-1");
            let ip = self.docker(&[
                "inspect",
                "-f",
                "{{.NetworkSettings.Networks.shop.IPAddress}}",
                &name,
            ])?;
            let ip: Ipv4Addr = ip
                .trim()
                .parse()
                .with_context(|| format!("address of {name}"))?;
            ips.insert(service, ip);
        }
        let flows: [(&str, &[(&str, u16)]); 3] = [
            ("frontend", &[("api", 8080)]),
            ("api", &[("db", 5432), ("cache", 6379)]),
            ("intruder", &[("db", 5432), ("api", 8080)]),
        ];
        for (from, targets) in flows {
            let mut body = String::new();
            for (to, port) in targets {
                body.push_str(&format!(
                    "timeout 3 nc -w 1 {} {port} </dev/null >/dev/null 2>&1; ",
                    ips[to]
                ));
            }
            let script = format!("while true; do {body}sleep 2; done");
            self.docker(&["exec", "-d", &format!("shop-{from}-1"), "sh", "-c", &script])?;
        }
        Ok(())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            if let Ok(ids) = self.docker(&["ps", "-aq"]) {
                let ids: Vec<&str> = ids.split_whitespace().collect();
                if !ids.is_empty() {
                    let mut args = vec!["rm", "-f"];
                    args.extend(ids);
                    let _ = self.docker(&args);
                }
            }
            // By PID: SIGTERM lets dockerd stop its containerd and unmount its mounts.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(daemon.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(20);
            while !matches!(daemon.try_wait(), Ok(Some(_))) {
                if Instant::now() > deadline {
                    let _ = daemon.kill();
                    let _ = daemon.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = bulkhead_bpf::remove_pins(&bulkhead_bpf::PinDir::for_netns(&self.netns));
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
        eprintln!("demo: docker engine and namespace {} removed", self.netns);
    }
}
