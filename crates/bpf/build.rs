//! Builds the TC programs (`ebpf/`, package `bulkhead-ebpf`) for the bpf target and
//! leaves the object in `OUT_DIR/bulkhead-tc`, which `src/object.rs` embeds.
//!
//! The eBPF build needs a nightly toolchain with `rust-src` (for `-Z build-std=core`)
//! and `bpf-linker`; both are checked first so that a missing piece is named, with the
//! command that installs it, instead of surfacing as a linker error.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

const INSTALL: &str = "install them with `scripts/dev install`, or by hand:\n  \
    rustup toolchain install nightly --profile minimal --component rust-src\n  \
    PATH=/usr/lib/llvm-22/bin:$PATH cargo install bpf-linker@0.13.0 --locked --no-default-features --features llvm-22";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: building Bulkhead's eBPF programs: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest =
        std::env::var("CARGO_MANIFEST_DIR").map_err(|e| format!("CARGO_MANIFEST_DIR: {e}"))?;
    let root = PathBuf::from(manifest).join("../..");
    let ebpf = root.join("ebpf");
    let common = root.join("crates/ebpf-common");
    check_tools()?;
    // aya-build watches the eBPF crate; the shared layouts live elsewhere.
    println!("cargo:rerun-if-changed={}", common.display());
    let ebpf_dir = ebpf.to_str().ok_or("the eBPF crate's path is not UTF-8")?;
    // aya-build relays every line the nested cargo prints as a warning; quiet it so
    // that only real diagnostics (which come as JSON messages) show.
    // SAFETY: the build script is single-threaded here; nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var("CARGO_TERM_QUIET", "true") };
    let package = aya_build::Package {
        name: "bulkhead-ebpf",
        root_dir: ebpf_dir,
        ..Default::default()
    };
    aya_build::build_ebpf([package], aya_build::Toolchain::Nightly).map_err(|e| format!("{e:#}"))
}

fn check_tools() -> Result<(), String> {
    let linker = Command::new("bpf-linker").arg("--version").output();
    if !linker.is_ok_and(|o| o.status.success()) {
        return Err(format!("`bpf-linker` is not on PATH; {INSTALL}"));
    }
    let sysroot = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run rustup ({e}); {INSTALL}"))?;
    if !sysroot.status.success() {
        return Err(format!("the nightly toolchain is missing; {INSTALL}"));
    }
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    let core = PathBuf::from(sysroot).join("lib/rustlib/src/rust/library/core");
    if !core.is_dir() {
        return Err(format!("nightly has no `rust-src` component; {INSTALL}"));
    }
    Ok(())
}
