//! `bulkhead enforce --lab LAB --policy PATH... --backend nft|ebpf [--dry-run]`.
//!
//! Everything that can be wrong with the input (files, policies, compilation) is found
//! before the first node is touched, so bad input changes nothing in the kernel; each
//! node's apply is then one atomic step of its backend.

use crate::load;
use anyhow::Context;
use bulkhead_compile::nft::{self, Stamps};
use bulkhead_compile::{Input, Program, compile};
use bulkhead_dataplane::Dataplane;
use bulkhead_policy::{Mode, WorkloadId};
use clap::{Args, ValueEnum};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct EnforceArgs {
    /// The lab file (YAML); the lab must be up.
    #[arg(long)]
    lab: PathBuf,
    /// Policy files or directories. May be given with no paths: nothing is isolated.
    #[arg(long, num_args = 0..)]
    policy: Vec<PathBuf>,
    /// The enforcement backend.
    #[arg(long, value_enum)]
    backend: BackendKind,
    /// Print what would be put in force (the nft ruleset of each node) and change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// nftables, over netlink.
    Nft,
    /// eBPF TC programs.
    Ebpf,
}

/// The backend of one node, programming the network namespace at `netns`.
/// This is the one place a new backend is added.
pub fn backend(kind: BackendKind, netns: &Path) -> anyhow::Result<Box<dyn Dataplane>> {
    match kind {
        BackendKind::Nft => Ok(Box::new(bulkhead_nft::NftBackend::new(netns)?)),
        BackendKind::Ebpf => Ok(Box::new(bulkhead_bpf::EbpfDataplane::open_path(netns)?)),
    }
}

pub fn run(args: EnforceArgs) -> anyhow::Result<()> {
    let lab = load::lab(&args.lab)?;
    let policies = load::policies(&args.policy)?;
    let inventory = lab.inventory();
    let interfaces = lab.host_interfaces();
    let modes: BTreeMap<WorkloadId, Mode> = BTreeMap::new();
    // Compile every node first: a compile error must leave every node untouched.
    let mut programs: Vec<(String, Program)> = Vec::new();
    for node in &lab.nodes {
        let input = Input {
            policies: &policies,
            inventory: &inventory,
            node: Some(&node.name),
            modes: &modes,
            interfaces: &interfaces,
        };
        let program = compile(&input).with_context(|| {
            format!(
                "{}: cannot compile for node {}",
                args.lab.display(),
                node.name
            )
        })?;
        programs.push((node.name.clone(), program));
    }
    if args.dry_run {
        if args.backend != BackendKind::Nft {
            anyhow::bail!("--dry-run prints nft rulesets; it is only available with --backend nft");
        }
        for (node, program) in &programs {
            let ruleset = nft::build(program, &Stamps::next(None, program, 1))
                .with_context(|| format!("node {node}: cannot build the nft ruleset"))?;
            println!("# node {node} (netns {})", lab.node_netns(node));
            print!("{}", nft::render(&ruleset));
        }
        return Ok(());
    }
    for (node, program) in &programs {
        let netns = bulkhead_dataplane::netns::named(&lab.node_netns(node));
        if !netns.exists() {
            anyhow::bail!(
                "{}: node {node} is not up ({} is missing): run `bulkhead lab up` first",
                args.lab.display(),
                netns.display()
            );
        }
        let mut dp = backend(args.backend, &netns)?;
        let report = dp
            .apply(program)
            .with_context(|| format!("node {node}: cannot apply the program"))?;
        tracing::info!(
            node = node.as_str(),
            backend = dp.name(),
            elements = report.elements_written,
            ms = report.duration.as_secs_f64() * 1e3,
            "in force"
        );
    }
    Ok(())
}
