//! `bulkhead demo`: one command from nothing to a live map. It brings up a small shop in
//! a lab (frontend, api, db, cache, a nightly report job and an intruder), stores the
//! shop's policies, starts `bulkhead server` and `bulkhead agent` as child processes (the
//! same binary, so the demo runs exactly what users run), keeps real connections flowing
//! inside the lab's namespaces, and prints the UI's URL with the admin token in its
//! fragment. On Ctrl-C or SIGTERM it stops the children by PID, takes the lab down and
//! removes its state directory: nothing it created is left. With `--runtime docker` the
//! shop runs as containers of a `dockerd` of the demo's own ([`docker`]).

mod children;
mod docker;
mod engine;
mod traffic;

use anyhow::{Context, bail};
use bulkhead_policy::lab::{LabFile, MAX_LAB_NAME};
use children::Children;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The demo application and its policies, compiled in so `bulkhead demo` works from any
/// directory.
const LAB: &str = include_str!("../../../../policies/labs/shop.yaml");
const POLICIES: &str = include_str!("../../../../policies/examples/native-shop.yaml");

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Runtime {
    Lab,
    Docker,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Nft,
    Ebpf,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Where the server (API and web UI) listens; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:7410")]
    listen: String,
    /// Where the demo's workloads run.
    #[arg(long, value_enum, default_value_t = Runtime::Lab)]
    runtime: Runtime,
    /// The agent's enforcement backend.
    #[arg(long, value_enum, default_value_t = Backend::Nft)]
    backend: Backend,
    /// The lab's name (at most 8 characters): it prefixes every namespace and link, so
    /// two demos on one machine need different names.
    #[arg(long, default_value = "demo")]
    lab_name: String,
    /// Keep the database and tokens here (kept on exit). Default: a fresh directory under
    /// /tmp, removed on exit.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Seconds between two rounds of demo traffic.
    #[arg(long, default_value_t = 2.0)]
    traffic_interval: f64,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.runtime == Runtime::Docker {
        return docker::run(&args);
    }
    if args.lab_name.is_empty() || args.lab_name.len() > MAX_LAB_NAME {
        bail!("demo: --lab-name must be 1 to {MAX_LAB_NAME} characters");
    }
    let lab_text = LAB.replacen("\nname: shop\n", &format!("\nname: {}\n", args.lab_name), 1);
    let lab = LabFile::parse("demo.yaml", &lab_text).map_err(|d| anyhow::anyhow!("{d}"))?;

    let (state, temporary) = match &args.state_dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("bulkhead-demo-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    let lab_path = state.join("lab.yaml");
    std::fs::write(&lab_path, &lab_text)
        .with_context(|| format!("writing {}", lab_path.display()))?;

    let stop = Arc::new(AtomicBool::new(false));
    let mut children = Children::default();
    let result = run_demo(&args, &lab, &lab_path, &state, &stop, &mut children);
    // Whatever happened, undo everything, in reverse order of creation.
    stop.store(true, Ordering::SeqCst);
    children.stop_all();
    match bulkhead_lab::down(&lab.name, Some(&lab)) {
        Ok(_) => eprintln!("demo: lab {} is down", lab.name),
        Err(e) => eprintln!("demo: lab down {}: {e}", lab.name),
    }
    if temporary {
        let _ = std::fs::remove_dir_all(&state);
    }
    result
}

fn run_demo(
    args: &DemoArgs,
    lab: &LabFile,
    lab_path: &std::path::Path,
    state: &std::path::Path,
    stop: &Arc<AtomicBool>,
    children: &mut Children,
) -> anyhow::Result<()> {
    let opts = bulkhead_lab::UpOptions {
        source: Some(lab_path.to_path_buf()),
        serve_exe: None,
    };
    bulkhead_lab::up(lab, &opts).with_context(|| format!("lab up {}", lab.name))?;
    eprintln!(
        "demo: lab {} is up ({} workloads)",
        lab.name,
        lab.workloads.len()
    );

    let exe = std::env::current_exe().context("finding the bulkhead binary")?;
    if super::server::default_ui_dir().is_none() {
        eprintln!(
            "demo: the web UI is not built; run `cd web-ui && npm ci && npm run build` (the API works without it)"
        );
    }
    let server = children.start_server(&exe, &args.listen, state)?;
    let api = children::Api::new(&server.url, &server.admin_token);
    api.apply_policies("demo/native-shop.yaml", POLICIES)?;
    let agent_token = state.join("agent.token");
    api.create_agent_token(&agent_token)?;
    let backend = match args.backend {
        Backend::Nft => "nft",
        Backend::Ebpf => "ebpf",
    };
    children.start_agent(
        &exe,
        &server.url,
        &agent_token,
        lab_path,
        backend,
        &state.join("agent"),
    )?;

    let traffic = traffic::spawn(lab.clone(), stop.clone(), args.traffic_interval);
    println!(
        "Bulkhead demo is running: {} workloads of lab {}, policies stored, agent on the {backend} backend.",
        lab.workloads.len(),
        lab.name
    );
    println!("Open the map (the token is in the fragment, which the browser never sends):");
    println!("{}/#token={}", server.url, server.admin_token);
    println!("Press Ctrl-C to stop; everything the demo created is removed.");
    std::io::stdout().flush().ok();

    let outcome = children.wait_for_stop_signal(stop);
    // The traffic thread ends its round and stops before the lab goes away.
    stop.store(true, Ordering::SeqCst);
    let _ = traffic.join();
    outcome
}
