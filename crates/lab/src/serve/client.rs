//! `lab up`'s side of the listener daemon: start it if needed, tell it to reload, wait
//! for its answer.

use super::{ListenerSpec, ROLE, config_path, socket_path};
use crate::error::{LabError, Result};
use crate::state::{self, ProcessRecord, state_dir, write_atomic};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a reload may take: binding a few hundred sockets on a loaded machine.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a fresh daemon may take to open its control socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes the lab's daemon serve exactly `specs`, starting it (`exe lab serve LAB`) if it
/// does not run. With no listeners at all, no daemon runs.
pub(crate) fn ensure(lab: &str, specs: &[ListenerSpec], exe: &Path) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(specs).map_err(|e| LabError::Invalid(e.to_string()))?;
    write_atomic(&config_path(lab), &bytes)?;
    let running = state::recorded_process(lab, ROLE).filter(ProcessRecord::alive);
    if specs.is_empty() {
        return stop(lab);
    }
    if running.is_some() {
        match reload(lab) {
            Ok(()) => return Ok(()),
            // A daemon that cannot answer is replaced (its sockets go with it).
            Err(e) => tracing::warn!("restarting the listener daemon: {e}"),
        }
        stop(lab)?;
    }
    start(lab, exe)?;
    reload(lab)
}

/// Stops the lab's daemon, if it runs.
pub(crate) fn stop(lab: &str) -> Result<()> {
    if let Some(rec) = state::recorded_process(lab, ROLE) {
        state::stop(&rec);
    }
    let _ = std::fs::remove_file(state_dir(lab).join(format!("{ROLE}.pid")));
    let _ = std::fs::remove_file(socket_path(lab));
    Ok(())
}

fn start(lab: &str, exe: &Path) -> Result<()> {
    let sock = socket_path(lab);
    let _ = std::fs::remove_file(&sock);
    let log_path = state_dir(lab).join("serve.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(LabError::io(format!("open {}", log_path.display())))?;
    let args = ["lab", "serve", lab];
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .current_dir("/")
        // Never the caller's pipes: whoever reads `lab up`'s output must see EOF when
        // `lab up` exits, not when the daemon does.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: runs in the forked child before exec; `setsid` is async-signal-safe and
    // touches no memory of the parent. It detaches the daemon from the caller's session
    // so a closing terminal or a Ctrl-C aimed at the caller does not reach it.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(LabError::io(format!("start {} lab serve", exe.display())))?;
    // Recorded from the arguments, not /proc: the child may not have exec'd yet.
    let mut cmdline = vec![exe.to_string_lossy().into_owned()];
    cmdline.extend(args.iter().map(|s| s.to_string()));
    state::record_process(
        lab,
        ROLE,
        &ProcessRecord {
            pid: child.id() as i32,
            cmdline,
        },
    )?;
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if UnixStream::connect(&sock).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(LabError::Serve {
                lab: lab.into(),
                message: format!("exited at start ({status}): {}", last_line(&log)),
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(LabError::Serve {
        lab: lab.into(),
        message: format!("no control socket after {START_TIMEOUT:?}"),
    })
}

/// Asks the daemon to reload and waits for its answer.
fn reload(lab: &str) -> Result<()> {
    let err = |message: String| LabError::Serve {
        lab: lab.into(),
        message,
    };
    let mut s =
        UnixStream::connect(socket_path(lab)).map_err(|e| err(format!("cannot reach it: {e}")))?;
    s.set_read_timeout(Some(RELOAD_TIMEOUT))
        .and_then(|()| s.write_all(b"reload\n"))
        .map_err(|e| err(format!("cannot send reload: {e}")))?;
    let mut reply = String::new();
    BufReader::new(&s)
        .read_line(&mut reply)
        .map_err(|e| err(format!("no answer to reload: {e}")))?;
    match reply.trim() {
        "ok" => Ok(()),
        "" => Err(err("closed the connection without answering".into())),
        other => Err(err(other.trim_start_matches("error: ").to_string())),
    }
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
}
