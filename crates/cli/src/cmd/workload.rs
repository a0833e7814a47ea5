//! `bulkhead workload list|mode`: the inventory the agents report, and workload modes.

use super::client::{Client, ClientArgs};
use crate::output::Format;
use bulkhead_api::{Revision, SetMode, WorkloadInfo, paths};
use bulkhead_policy::{Mode, WorkloadId};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum WorkloadCommand {
    /// Every workload the agents report, with its node and mode.
    List(ListArgs),
    /// Set a workload's mode: learn (allow and record), monitor (allow, report
    /// would-deny), enforce (drop what the policies deny).
    Mode(ModeArgs),
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Args)]
pub struct ModeArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// namespace/name
    workload: WorkloadId,
    #[arg(value_parser = |s: &str| s.parse::<Mode>())]
    mode: Mode,
}

pub fn run(cmd: WorkloadCommand) -> anyhow::Result<()> {
    match cmd {
        WorkloadCommand::List(a) => {
            let client = Client::new(&a.client)?;
            let list: Vec<WorkloadInfo> = client.get(paths::WORKLOADS)?;
            match a.output {
                Format::Json => println!("{}", serde_json::to_string_pretty(&list)?),
                Format::Table => {
                    println!(
                        "{:<32} {:<16} {:<10} {:<16} LABELS",
                        "ID", "IP", "MODE", "NODE"
                    );
                    for w in &list {
                        let ip = w.ips.first().map(ToString::to_string).unwrap_or_default();
                        let labels: Vec<String> =
                            w.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        let node = w.node.as_deref().unwrap_or("-");
                        println!(
                            "{:<32} {:<16} {:<10} {:<16} {}",
                            w.id.to_string(),
                            ip,
                            w.mode.to_string(),
                            node,
                            labels.join(",")
                        );
                    }
                }
            }
            Ok(())
        }
        WorkloadCommand::Mode(a) => {
            let client = Client::new(&a.client)?;
            let r: Revision = client.put(
                &paths::workload_mode(&a.workload),
                &SetMode { mode: a.mode },
            )?;
            println!(
                "{} is now in {} mode (revision {})",
                a.workload, a.mode, r.revision
            );
            Ok(())
        }
    }
}
