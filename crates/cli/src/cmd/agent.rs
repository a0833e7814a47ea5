//! `bulkhead agent --server URL --token-file FILE --backend nft|ebpf` with a workload
//! source: `--lab LAB [--node NAME]` (the default runtime), or `--runtime docker
//! --docker-host unix:///PATH [--docker-netns /run/netns/NS]`.

use super::enforce::BackendKind;
use anyhow::{Context, bail};
use bulkhead_agent::{Config, run};
use bulkhead_dataplane::{Dataplane, FlowSource};
use bulkhead_runtime::{DockerConfig, DockerSource, LabSource, WorkloadSource};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Args)]
pub struct AgentArgs {
    /// The server's base URL.
    #[arg(long, env = "BULKHEAD_SERVER")]
    server: String,
    /// A file holding the token the agent authenticates with.
    #[arg(long, env = "BULKHEAD_TOKEN_FILE")]
    token_file: PathBuf,
    /// The lab file whose node this agent runs (the lab must be up); with `--runtime lab`.
    #[arg(long)]
    lab: Option<PathBuf>,
    /// The enforcement backend.
    #[arg(long, value_enum)]
    backend: BackendKind,
    /// Where the workloads come from.
    #[arg(long, value_enum, default_value = "lab")]
    runtime: RuntimeKind,
    /// The node of a multi-node lab (not needed when the lab has one node); with
    /// `--runtime docker`, the node name reported (default: the namespace's name).
    #[arg(long)]
    node: Option<String>,
    /// The Docker engine's socket (`unix:///PATH`), with `--runtime docker`.
    #[arg(long, default_value = "unix:///var/run/docker.sock")]
    docker_host: String,
    /// The network namespace the Docker engine and its bridges run in (a named one,
    /// `/run/netns/NAME`; the eBPF backend needs a named namespace). Default: this
    /// process's own namespace (nft backend only).
    #[arg(long)]
    docker_netns: Option<PathBuf>,
    /// The namespace of containers outside any compose project.
    #[arg(long, default_value = "default")]
    docker_namespace: String,
    /// With `--runtime docker`: do not hold back addresses on Docker's bridges that the
    /// agent does not know yet (a container then runs unchecked by its own rules until
    /// its start event is handled; see docs/bench/docker.md).
    #[arg(long)]
    no_unknown_guard: bool,
    /// Where the last desired state and the status are kept
    /// (default: /run/bulkhead/agent/<node netns>).
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RuntimeKind {
    /// The workloads of a lab file (`--lab`).
    Lab,
    /// The containers of a Docker engine (`--docker-host`).
    Docker,
}

/// The workload source the arguments ask for, and how it is described in the log.
fn source(args: &AgentArgs) -> anyhow::Result<(Box<dyn WorkloadSource>, String)> {
    match args.runtime {
        RuntimeKind::Lab => {
            let Some(lab) = &args.lab else {
                // A usage error (exit 2), as clap reports a missing required argument.
                clap::Error::raw(
                    clap::error::ErrorKind::MissingRequiredArgument,
                    "the following required arguments were not provided:\n  --lab <LAB> \
                     (or --runtime docker)\n",
                )
                .exit()
            };
            let source = LabSource::open(lab, args.node.as_deref())?;
            let netns = source.node_netns();
            if !netns.exists() {
                bail!(
                    "{}: node {} is not up ({} is missing): run `bulkhead lab up` first",
                    lab.display(),
                    source.node(),
                    netns.display()
                );
            }
            Ok((Box::new(source), lab.display().to_string()))
        }
        RuntimeKind::Docker => {
            let node_netns = match &args.docker_netns {
                Some(p) if !p.exists() => {
                    bail!("--docker-netns {}: no such namespace", p.display())
                }
                Some(p) => p.clone(),
                None if args.backend == BackendKind::Ebpf => bail!(
                    "--backend ebpf with --runtime docker needs --docker-netns /run/netns/NAME \
                     (its pins are named after the namespace)"
                ),
                None => PathBuf::from("/proc/self/ns/net"),
            };
            let node = match (&args.node, &args.docker_netns) {
                (Some(n), _) => n.clone(),
                (None, Some(p)) => p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("docker")
                    .to_string(),
                (None, None) => "docker".to_string(),
            };
            let config = DockerConfig {
                socket: DockerConfig::socket_from_host(&args.docker_host)?,
                node_netns,
                node,
                default_namespace: args.docker_namespace.clone(),
                guard: !args.no_unknown_guard,
            };
            let what = format!("docker engine {}", args.docker_host);
            Ok((Box::new(DockerSource::open(config)?), what))
        }
    }
}

pub fn run_agent(args: AgentArgs) -> anyhow::Result<()> {
    let token = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("{}: cannot read the token file", args.token_file.display()))?
        .trim()
        .to_string();
    if token.is_empty() {
        bail!("{}: the token file is empty", args.token_file.display());
    }
    let (source, what) = source(&args)?;
    let netns = source.node_netns();
    let netns_name = match args.runtime {
        RuntimeKind::Docker if args.docker_netns.is_none() => "docker".to_string(),
        _ => netns
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string(),
    };
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(bulkhead_agent::store::ROOT).join(&netns_name));
    let (dataplane, flows): (Box<dyn Dataplane + Send>, Box<dyn FlowSource>) = match args.backend {
        BackendKind::Nft => (
            Box::new(bulkhead_nft::NftBackend::new(&netns)?),
            Box::new(bulkhead_nft::NftFlows::open(&netns)?),
        ),
        // On a container runtime's bridges, the eBPF programs get the nft guard beside
        // them (see `guarded`): a new container is held until its programs run.
        BackendKind::Ebpf if args.runtime == RuntimeKind::Docker && !args.no_unknown_guard => (
            Box::new(super::guarded::Guarded::new(
                bulkhead_bpf::EbpfDataplane::open(&netns_name)?,
                bulkhead_nft::NftBackend::new(&netns)?,
            )),
            Box::new(bulkhead_bpf::CountedFlows::open(
                &netns_name,
                Duration::from_secs(1),
            )?),
        ),
        BackendKind::Ebpf => (
            Box::new(bulkhead_bpf::EbpfDataplane::open(&netns_name)?),
            Box::new(bulkhead_bpf::CountedFlows::open(
                &netns_name,
                Duration::from_secs(1),
            )?),
        ),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(super::server::stop_signal());
        }
        flag.store(true, Ordering::Relaxed);
    });
    eprintln!(
        "bulkhead agent: node {} of {what}, backend {}, server {}, state in {}",
        source.node(),
        dataplane.name(),
        args.server,
        state_dir.display()
    );
    let config = Config::new(&args.server, &token, state_dir);
    run(config, source, dataplane, flows, stop)?;
    eprintln!("bulkhead agent stopped (what is in force stays in force)");
    Ok(())
}
