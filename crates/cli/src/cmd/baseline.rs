//! `bulkhead baseline generate`: a least-privilege policy set learned by the server from
//! the flows it recorded (see docs/server.md, "Baselines and drift").

use super::client::{Client, ClientArgs};
use bulkhead_api::{BaselineRequest, BaselineResult, TimeBound, paths};
use bulkhead_policy::WorkloadId;
use bulkhead_policy::baseline::Format;
use clap::{Args, Subcommand, ValueEnum};

#[derive(Subcommand)]
pub enum BaselineCommand {
    /// Print the policies learned from recorded flows (review, then `policy apply`).
    Generate(GenerateArgs),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// The policies as YAML, each rule's evidence in a comment above it.
    #[default]
    Yaml,
    /// The whole answer: YAML, the policies as data with evidence, what was skipped.
    Json,
}

#[derive(Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Learn policies for this workload (namespace/name); repeat for more. Default: all.
    #[arg(long = "workload")]
    workloads: Vec<WorkloadId>,
    /// Only flows recorded in this last duration (`1h`) or since an RFC 3339 time.
    #[arg(long)]
    since: Option<TimeBound>,
    /// Only flows recorded until this time (or this long ago).
    #[arg(long)]
    until: Option<TimeBound>,
    /// native (bulkhead.dev/v1 Policy) or kubernetes (NetworkPolicy, same verdicts).
    #[arg(long, default_value = "native", value_parser = |s: &str| s.parse::<Format>())]
    format: Format,
    /// Outside addresses within one network of this prefix length are grouped into one CIDR.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=32))]
    outside_prefix: Option<u8>,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Output,
}

pub fn run(cmd: BaselineCommand) -> anyhow::Result<()> {
    match cmd {
        BaselineCommand::Generate(a) => generate(a),
    }
}

fn generate(a: GenerateArgs) -> anyhow::Result<()> {
    let client = Client::new(&a.client)?;
    let req = BaselineRequest {
        workloads: a.workloads,
        since: a.since,
        until: a.until,
        format: a.format,
        outside_prefix: a.outside_prefix,
    };
    let result: BaselineResult = client.post(paths::BASELINE, &req)?;
    match a.output {
        Output::Yaml => print!("{}", result.yaml),
        Output::Json => println!("{}", serde_json::to_string_pretty(&result)?),
    }
    let skipped: u64 = result.baseline.skipped.iter().map(|s| s.flows).sum();
    eprintln!(
        "baseline: {} policies from {} recorded edges ({} denied edges left out{})",
        result.baseline.policies.len(),
        result.edges,
        result.denied_edges,
        if skipped > 0 {
            format!(", {skipped} flows could not be learned: see the YAML header")
        } else {
            String::new()
        }
    );
    Ok(())
}
