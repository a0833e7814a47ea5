//! The demo's child processes (`bulkhead server`, `bulkhead agent`): started from the
//! running binary, watched, and stopped by PID (SIGTERM, then SIGKILL after a grace
//! period) so other engineers' processes of the same name are never touched. Both get a
//! parent-death signal: a SIGKILLed demo cannot stop them, so the kernel does. They are
//! spawned from the main thread, which lives as long as the demo (the signal follows
//! the spawning thread).

use crate::cmd::client::Client;
use anyhow::{Context, bail};
use bulkhead_api::{ChangeResult, CreateToken, CreatedToken, PolicyFile, Role};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const GRACE: Duration = Duration::from_secs(8);

#[derive(Default)]
pub struct Children {
    running: Vec<(&'static str, Child)>,
}

pub struct ServerInfo {
    pub url: String,
    pub admin_token: String,
}

impl Children {
    pub fn start_server(
        &mut self,
        exe: &Path,
        listen: &str,
        state: &Path,
    ) -> anyhow::Result<ServerInfo> {
        let token_file = state.join("admin.token");
        let mut child = bulkhead_lab::die_with_parent(&mut Command::new(exe))
            .args(["server", "--listen", listen, "--db"])
            .arg(state.join("bulkhead.db"))
            .arg("--token-file")
            .arg(&token_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting bulkhead server")?;
        let stderr = child.stderr.take().context("server stderr")?;
        self.running.push(("server", child));
        // The server prints its address once bound (port 0 picks one); the rest of its
        // log goes on to our stderr.
        let mut lines = BufReader::new(stderr).lines();
        let mut url = None;
        for line in lines.by_ref() {
            let line = line.context("reading the server's log")?;
            eprintln!("{line}");
            if let Some(rest) = line.split("listening on ").nth(1) {
                url = rest.split_whitespace().next().map(str::to_string);
                break;
            }
        }
        let Some(url) = url else {
            bail!("bulkhead server exited before listening (see its messages above)");
        };
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                eprintln!("{line}");
            }
        });
        let admin_token = std::fs::read_to_string(&token_file)
            .with_context(|| format!("reading {}", token_file.display()))?
            .trim()
            .to_string();
        Ok(ServerInfo { url, admin_token })
    }

    pub fn start_agent(
        &mut self,
        exe: &Path,
        url: &str,
        token: &Path,
        lab: &Path,
        backend: &str,
        state: &Path,
    ) -> anyhow::Result<()> {
        let source = ["--lab".to_string(), lab.display().to_string()];
        self.start_agent_with(exe, url, token, &source, backend, state)
    }

    /// Like [`start_agent`](Self::start_agent) with any workload-source arguments.
    pub fn start_agent_with(
        &mut self,
        exe: &Path,
        url: &str,
        token: &Path,
        source: &[String],
        backend: &str,
        state: &Path,
    ) -> anyhow::Result<()> {
        let child = bulkhead_lab::die_with_parent(&mut Command::new(exe))
            .args(["agent", "--server", url, "--token-file"])
            .arg(token)
            .args(source)
            .args(["--backend", backend])
            // Its persisted state lives and dies with the demo's.
            .arg("--state-dir")
            .arg(state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("starting bulkhead agent")?;
        self.running.push(("agent", child));
        Ok(())
    }

    /// Blocks until SIGINT or SIGTERM (Ok) or until a child exits by itself (an error).
    pub fn wait_for_stop_signal(&mut self, stop: &AtomicBool) -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the signal handler")?;
        rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).context("handling SIGTERM")?;
            let mut int = signal(SignalKind::interrupt()).context("handling SIGINT")?;
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tokio::select! {
                    _ = term.recv() => break,
                    _ = int.recv() => break,
                    _ = tick.tick() => {
                        if stop.load(Ordering::SeqCst) { break; }
                        for (name, child) in &mut self.running {
                            if let Ok(Some(status)) = child.try_wait() {
                                bail!("demo: bulkhead {name} exited ({status}); stopping");
                            }
                        }
                    }
                }
            }
            eprintln!("demo: stopping");
            Ok(())
        })
    }

    /// Stops every child, the last started first.
    pub fn stop_all(&mut self) {
        while let Some((name, mut child)) = self.running.pop() {
            if let Ok(Some(_)) = child.try_wait() {
                continue;
            }
            let pid = Pid::from_raw(child.id() as i32);
            let _ = kill(pid, Signal::SIGTERM);
            let started = Instant::now();
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if started.elapsed() < GRACE => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => {
                        eprintln!("demo: bulkhead {name} did not stop in {GRACE:?}; killing it");
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }
}

/// The few calls the demo makes to its server.
pub struct Api {
    client: Client,
}

impl Api {
    pub fn new(url: &str, admin_token: &str) -> Api {
        Api {
            client: Client::with_token(url, admin_token.to_string()),
        }
    }

    pub fn apply_policies(&self, name: &str, text: &str) -> anyhow::Result<()> {
        let body = bulkhead_api::ApplyRequest {
            files: vec![PolicyFile {
                name: name.into(),
                text: text.into(),
            }],
            dry_run: false,
        };
        let _: ChangeResult = self.client.put(bulkhead_api::paths::POLICIES, &body)?;
        Ok(())
    }

    pub fn create_agent_token(&self, out: &Path) -> anyhow::Result<()> {
        let body = CreateToken {
            name: "demo-agent".into(),
            role: Role::Agent,
        };
        let created: CreatedToken = self.client.post(bulkhead_api::paths::TOKENS, &body)?;
        write_private(out, &created.token)
    }
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
