//! The machine around the tests: temporary directories, what a lab left behind, and
//! running things inside a lab's namespaces.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::run::Run;

/// A directory removed (with its contents) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("bulkhead-e2e-{tag}-{:x}", random_u64()));
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .unwrap_or_else(|e| panic!("read /dev/urandom: {e}"));
    u64::from_ne_bytes(b)
}

/// The named namespaces (`/run/netns`) that belong to lab `name`, sorted.
pub fn lab_netns(name: &str) -> Vec<String> {
    let prefix = format!("{name}-");
    let mut out: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// PIDs of running `bulkhead lab serve NAME` daemons.
pub fn serve_pids(name: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
        let want: [&[u8]; 3] = [b"lab", b"serve", name.as_bytes()];
        if args.windows(3).any(|w| w == want) {
            out.push(pid);
        }
    }
    out
}

/// Runs `cmd` inside the named namespace (`nsenter --net=/run/netns/NETNS`), with
/// `stdin` as its input; never panics, check the [`Run`].
pub fn nsenter(netns: &str, cmd: &[&str], stdin: &str) -> Run {
    let mut child = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{netns}"))
        .args(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run nsenter: {e}"));
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("nsenter: {e}"));
    let mut args = vec!["(nsenter)".to_string(), netns.to_string()];
    args.extend(cmd.iter().map(|s| s.to_string()));
    Run {
        args,
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Loads an nft script (`nft -f -`) inside the named namespace; must succeed. The
/// namespace's nft state goes with it at `lab down`.
#[track_caller]
pub fn nft(netns: &str, script: &str) {
    nsenter(netns, &["nft", "-f", "-"], script).success();
}

/// Runs `f` on a thread inside the named namespace: sockets it makes live there.
pub fn in_netns<T: Send>(netns: &str, f: impl FnOnce() -> T + Send) -> T {
    match bulkhead_lab::netns::run_in(netns, || Ok(f())) {
        Ok(v) => v,
        Err(e) => panic!("cannot enter {netns}: {e}"),
    }
}
