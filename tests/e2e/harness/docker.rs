//! A Docker engine of the test's own: `dockerd` started (with `nsenter --net=`) inside
//! a fresh network namespace, with its own data root, exec root, socket, containerd
//! namespace and address pool, so that it never meets the machine's Docker or another
//! test's. [`DockerEngine`] removes every container, stops the daemon by PID, deletes
//! the namespace (with Bulkhead's nft table and eBPF pins for it) and the data root on
//! drop, even when the test panics.
//!
//! ```ignore
//! let engine = DockerEngine::start("dk");      // installs docker.io first if missing
//! engine.build_busybox();                       // image `bh-busybox`, FROM scratch
//! engine.docker(&["network", "create", "--subnet", "10.79.0.0/24", "shop"]).success();
//! engine.run_app("shop", &[("web", "nc -ll -p 80 -e echo ok")]);
//! let ip = engine.ip("shop-web-1");
//! ```

use super::run::Run;
use super::system::{TempDir, random_u64};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The image every test container runs: busybox-static and nothing else.
pub const IMAGE: &str = "bh-busybox";

pub struct DockerEngine {
    /// The named namespace the engine and its bridges live in.
    pub netns: String,
    dir: TempDir,
    daemon: Child,
}

/// Installs `docker.io` from apt if `dockerd` is not on this machine (once per run).
pub fn ensure_installed() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let present = Command::new("sh")
            .args(["-c", "command -v dockerd && command -v docker"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if present {
            return;
        }
        let ok = Command::new("sh")
            .args(["-c", "apt-get update -q && apt-get install -y -q docker.io"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cannot install docker.io from apt");
    });
}

fn run(cmd: &mut Command) -> Run {
    let args: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy().to_string())
        .collect();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    Run {
        args,
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl DockerEngine {
    /// Starts an engine in a namespace named `bh<tag>-<random>`; returns when it answers.
    pub fn start(tag: &str) -> DockerEngine {
        ensure_installed();
        let netns = format!("bh{tag}-{:08x}", random_u64() as u32);
        run(Command::new("ip").args(["netns", "add", &netns])).success();
        run(Command::new("ip").args(["-n", &netns, "link", "set", "lo", "up"])).success();
        let dir = TempDir::new(&format!("docker-{tag}"));
        let d = dir.path();
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let daemon = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{netns}"))
            .arg("dockerd")
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .args(["--bip", "10.77.0.1/24"])
            .args(["--default-address-pool", "base=10.78.0.0/16,size=24"])
            .args(["--containerd-namespace", &netns])
            .args(["--containerd-plugins-namespace", &format!("{netns}p")])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dockerd: {e}"));
        // nsenter execs dockerd: the child's PID is the daemon's.
        let engine = DockerEngine { netns, dir, daemon };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if engine.docker(&["version"]).code == 0 {
                return engine;
            }
            if Instant::now() > deadline {
                panic!("dockerd never answered:\n{}", engine.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `dockerd --version`, for reports.
    pub fn version() -> String {
        let r = run(Command::new("dockerd").arg("--version"));
        r.stdout.trim().to_string()
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// `unix:///...`, for `--docker-host`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    pub fn netns_path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.netns)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// `docker -H <this engine> ARGS`; never panics, check the [`Run`].
    pub fn docker(&self, args: &[&str]) -> Run {
        run(Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .env("DOCKER_BUILDKIT", "0")
            .env("DOCKER_CLI_HINTS", "false"))
    }

    /// Builds [`IMAGE`] from scratch with this machine's busybox-static.
    pub fn build_busybox(&self) {
        let ctx = self.dir.path().join("image");
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::copy("/bin/busybox", ctx.join("busybox"))
            .unwrap_or_else(|e| panic!("copy /bin/busybox (busybox-static): {e}"));
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\n\
             RUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\nCMD [\"/bin/sh\"]\n",
        )
        .unwrap();
        self.docker(&["build", "-q", "-t", IMAGE, ctx.to_str().unwrap()])
            .success();
    }

    /// Starts `project-service-1` for each (service, shell command) on network
    /// `project`, labelled as compose would label it.
    pub fn run_app(&self, project: &str, services: &[(&str, &str)]) {
        for (service, cmd) in services {
            self.run_service(project, service, cmd, &[]);
        }
    }

    /// Starts one compose-style container; `extra` goes before the image.
    pub fn run_service(&self, project: &str, service: &str, cmd: &str, extra: &[&str]) -> Run {
        let name = format!("{project}-{service}-1");
        let p = format!("com.docker.compose.project={project}");
        let s = format!("com.docker.compose.service={service}");
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            project,
            "-l",
            &p,
            "-l",
            &s,
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[IMAGE, "sh", "-c", cmd]);
        let r = self.docker(&args);
        r.success();
        r
    }

    /// The address of `container` on its (first) network.
    pub fn ip(&self, container: &str) -> Ipv4Addr {
        let r = self.docker(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
            container,
        ]);
        r.success();
        let first = r.stdout.split_whitespace().next().unwrap_or_default();
        first
            .parse()
            .unwrap_or_else(|_| panic!("no address for {container}: {:?}", r.stdout))
    }

    /// A TCP connection attempt from inside `from` (busybox `nc`, `timeout` seconds):
    /// true if it connected and the listener's greeting came back.
    pub fn connects(&self, from: &str, to: Ipv4Addr, port: u16, timeout: u32) -> bool {
        let cmd = format!(
            "timeout {} nc -w {timeout} {to} {port} </dev/null",
            timeout + 2
        );
        let r = self.docker(&["exec", from, "sh", "-c", &cmd]);
        r.stdout.contains("ok")
    }
}

impl Drop for DockerEngine {
    fn drop(&mut self) {
        let ids = self.docker(&["ps", "-aq"]).stdout;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            let _ = self.docker(&args);
        }
        // By PID: SIGTERM lets dockerd stop its containerd and unmount what it mounted.
        super::terminate(&mut self.daemon, Duration::from_secs(20));
        let _ = bulkhead_bpf::remove_pins(&bulkhead_bpf::PinDir::for_netns(&self.netns));
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}
