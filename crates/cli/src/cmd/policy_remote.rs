//! `bulkhead policy apply|delete|list`: policies stored on a server, which puts them in
//! force on every agent. Files are validated here first, with the same `file:line:col`
//! messages as `policy check`, so a mistake never needs a round trip; the server checks
//! again (it is the authority, and may hold other policies that conflict).

use super::client::{Client, ClientArgs};
use crate::load;
use crate::output::Format;
use anyhow::Context;
use bulkhead_api::{
    ApplyRequest, ChangeResult, DeleteRequest, PolicyFile, PolicyInfo, ReplayRequest, ReplayResult,
    TimeBound, paths,
};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Policy files or directories (searched recursively for *.yaml and *.yml).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Validate and show what would change; store nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Policy names (`namespace/name`, or `name` for a cluster-wide policy); all are
    /// deleted, or none if one is not stored.
    #[arg(required = true)]
    names: Vec<String>,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Policy files or directories to replay instead of the stored policies.
    #[arg(long, required = true, num_args = 1..)]
    policy: Vec<PathBuf>,
    /// Only flows recorded in this last duration (`1h`) or since an RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// Only flows from or to this workload (namespace/name).
    #[arg(long)]
    workload: Option<String>,
    #[arg(short = 'o', long, value_enum, default_value = "json")]
    output: Format,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

pub fn apply(args: ApplyArgs) -> anyhow::Result<()> {
    // Local validation: the same reader and messages as `policy check`.
    load::policies(&args.paths)?;
    let files = read_files(&args.paths)?;
    let client = Client::new(&args.client)?;
    let result: ChangeResult = client.put(
        paths::POLICIES,
        &ApplyRequest {
            files,
            dry_run: args.dry_run,
        },
    )?;
    print_changes(&result, args.output)
}

/// Prints the recorded flows the policies would deny, in `observe`'s shape (one JSON
/// object per line).
pub fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    load::policies(&args.policy)?;
    let files = read_files(&args.policy)?;
    let since = args
        .since
        .map(|s| s.parse::<TimeBound>().map_err(anyhow::Error::msg))
        .transpose()?;
    let client = Client::new(&args.client)?;
    let req = ReplayRequest {
        files,
        since,
        workload: args.workload,
    };
    let result: ReplayResult = client.post(paths::REPLAY, &req)?;
    match args.output {
        Format::Json => {
            for r in &result.denied {
                println!("{}", serde_json::to_string(r)?);
            }
        }
        Format::Table => {
            println!(
                "{:<24} {:<24} {:<9} {:>8}  RULE",
                "SOURCE", "DESTINATION", "PORT", "PACKETS"
            );
            for r in &result.denied {
                let port = format!("{}/{}", r.port, r.protocol);
                let rule = r.rule.as_deref().unwrap_or("-");
                println!(
                    "{:<24} {:<24} {:<9} {:>8}  {rule}",
                    r.source, r.destination, port, r.packets
                );
            }
            println!(
                "{} of {} recorded edges would be denied",
                result.denied.len(),
                result.evaluated
            );
        }
    }
    if result.unresolved > 0 {
        eprintln!(
            "replay: {} recorded edges skipped (a workload no agent reports any more)",
            result.unresolved
        );
    }
    Ok(())
}

pub fn delete(args: DeleteArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let result: ChangeResult =
        client.delete(paths::POLICIES, Some(&DeleteRequest { names: args.names }))?;
    print_changes(&result, args.output)
}

pub fn list(args: ListArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let policies: Vec<PolicyInfo> = client.get(paths::POLICIES)?;
    match args.output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&policies)?),
        Format::Table => {
            println!(
                "{:<32} {:<10} {:>7}  {:<24}  {:<12} FILE",
                "NAME", "KIND", "VERSION", "UPDATED", "AUTHOR"
            );
            for p in &policies {
                let kind = serde_json::to_value(p.kind)?;
                let kind = kind.as_str().unwrap_or("?");
                println!(
                    "{:<32} {:<10} {:>7}  {:<24}  {:<12} {}",
                    p.name,
                    kind,
                    p.version,
                    p.updated_at.to_string(),
                    p.author,
                    p.file
                );
            }
        }
    }
    Ok(())
}

fn print_changes(result: &ChangeResult, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(result)?),
        Format::Table => {
            for c in &result.policies {
                let change = serde_json::to_value(c.change)?;
                println!(
                    "{} {} (version {})",
                    c.name,
                    change.as_str().unwrap_or("?"),
                    c.version
                );
            }
            println!("revision {}", result.revision);
        }
    }
    Ok(())
}

fn read_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PolicyFile>> {
    let mut files = Vec::new();
    for p in paths {
        yaml_files(p, &mut files)?;
    }
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("{}: cannot read policy file", f.display()))?;
            Ok(PolicyFile {
                name: f.display().to_string(),
                text,
            })
        })
        .collect()
}

/// The files `policy check` reads for these paths: a named file whatever its extension,
/// inside directories only `*.yaml`/`*.yml`, in sorted order.
fn yaml_files(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if !path.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries = std::fs::read_dir(path)
        .with_context(|| format!("{}: cannot list directory", path.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: cannot list directory", path.display()))?;
    entries.sort();
    for e in entries {
        if e.is_dir() {
            yaml_files(&e, out)?;
        } else if e.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(e);
        }
    }
    Ok(())
}
