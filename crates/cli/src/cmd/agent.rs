//! `bulkhead agent --server URL --token-file FILE --lab LAB --backend nft|ebpf [--node NAME]`.

use super::enforce::BackendKind;
use anyhow::{Context, bail};
use bulkhead_agent::{Config, run};
use bulkhead_dataplane::{Dataplane, FlowSource};
use bulkhead_runtime::{LabSource, WorkloadSource};
use clap::Args;
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
    /// The lab file whose node this agent runs (the lab must be up).
    #[arg(long)]
    lab: PathBuf,
    /// The enforcement backend.
    #[arg(long, value_enum)]
    backend: BackendKind,
    /// The node of a multi-node lab (not needed when the lab has one node).
    #[arg(long)]
    node: Option<String>,
    /// Where the last desired state and the status are kept
    /// (default: /run/bulkhead/agent/<lab>-<node>).
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

pub fn run_agent(args: AgentArgs) -> anyhow::Result<()> {
    let token = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("{}: cannot read the token file", args.token_file.display()))?
        .trim()
        .to_string();
    if token.is_empty() {
        bail!("{}: the token file is empty", args.token_file.display());
    }
    let source = LabSource::open(&args.lab, args.node.as_deref())?;
    let netns = source.node_netns();
    if !netns.exists() {
        bail!(
            "{}: node {} is not up ({} is missing): run `bulkhead lab up` first",
            args.lab.display(),
            source.node(),
            netns.display()
        );
    }
    let netns_name = netns
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let state_dir = args
        .state_dir
        .unwrap_or_else(|| PathBuf::from(bulkhead_agent::store::ROOT).join(&netns_name));
    let (dataplane, flows): (Box<dyn Dataplane + Send>, Box<dyn FlowSource>) = match args.backend {
        BackendKind::Nft => (
            Box::new(bulkhead_nft::NftBackend::new(&netns)?),
            Box::new(bulkhead_nft::NftFlows::open(&netns)?),
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
        "bulkhead agent: node {} of {}, backend {}, server {}, state in {}",
        source.node(),
        args.lab.display(),
        dataplane.name(),
        args.server,
        state_dir.display()
    );
    let source: Box<dyn WorkloadSource> = Box::new(source);
    let config = Config::new(&args.server, &token, state_dir);
    run(config, source, dataplane, flows, stop)?;
    eprintln!("bulkhead agent stopped (what is in force stays in force)");
    Ok(())
}
