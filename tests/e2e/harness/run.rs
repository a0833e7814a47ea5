//! Running the `bulkhead` binary built for this test run.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

/// The binary under test (cargo builds it for this integration test).
pub fn bulkhead_bin() -> &'static str {
    env!("CARGO_BIN_EXE_bulkhead")
}

/// What a run of the binary did.
#[derive(Clone, Debug)]
pub struct Run {
    pub args: Vec<String>,
    /// The exit status (-1 if killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics, showing everything, unless the run exited 0. Returns the run for chaining.
    #[track_caller]
    pub fn success(&self) -> &Run {
        assert_eq!(self.code, 0, "expected success:\n{self}");
        self
    }

    /// Panics, showing everything, unless the run exited with `code`.
    #[track_caller]
    pub fn failure(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "expected exit {code}:\n{self}");
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ bulkhead {}\nexit {}\n--- stdout\n{}--- stderr\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

/// Runs `bulkhead ARGS...` to completion and captures its output.
pub fn bulkhead<S: AsRef<OsStr>>(args: &[S]) -> Run {
    run_with_env(args, &[])
}

/// Like [`bulkhead`], with extra environment variables (e.g. `RUST_LOG`).
pub fn run_with_env<S: AsRef<OsStr>>(args: &[S], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(bulkhead_bin());
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bulkhead_bin()));
    Run {
        args: args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
