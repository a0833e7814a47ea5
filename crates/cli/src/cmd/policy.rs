//! `bulkhead policy check|eval`: validate policy files, and print the reference
//! evaluator's verdicts for a lab in the shape `lab probe` prints real ones.
//! (Server-side subcommands — apply, delete, list, replay — join this enum later.)

use crate::load;
use crate::output::Format;
use bulkhead_lab::{ProbeOptions, ProbeResult};
use bulkhead_policy::eval::{Flow, evaluate};
use bulkhead_policy::lab::LabFile;
use bulkhead_policy::{PolicySet, Protocol, WorkloadId};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validate policy files (native and Kubernetes NetworkPolicy; files or directories).
    /// Prints `file:line:col: message` for every problem and exits 1 if there is one.
    Check(CheckArgs),
    /// The reference evaluator's verdict for every pair of lab workloads, on every port
    /// the destination listens on: what `lab probe` must observe after `enforce`.
    Eval(EvalArgs),
    /// Store policies on a server (validated here first), which puts them in force on
    /// every agent.
    Apply(super::policy_remote::ApplyArgs),
    /// Delete stored policies by name (all or none).
    Delete(super::policy_remote::DeleteArgs),
    /// List the policies stored on a server.
    List(super::policy_remote::ListArgs),
    /// Print the flows recorded on a server that these policies would deny (one JSON
    /// object per line, in `observe`'s shape).
    Replay(super::policy_remote::ReplayArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    /// Policy files or directories (searched recursively for *.yaml and *.yml).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Args)]
pub struct EvalArgs {
    /// The lab file whose workloads the policies are evaluated for.
    #[arg(long)]
    lab: PathBuf,
    /// Policy files or directories; none at all means nothing is isolated.
    #[arg(long, num_args = 0..)]
    policy: Vec<PathBuf>,
    /// Only flows from this workload (namespace/name).
    #[arg(long)]
    from: Option<WorkloadId>,
    /// Only flows to this workload (namespace/name).
    #[arg(long)]
    to: Option<WorkloadId>,
    /// Only this destination port.
    #[arg(long)]
    port: Option<u16>,
    /// Only this protocol.
    #[arg(long, value_enum, ignore_case = true)]
    protocol: Option<ProbeProtocol>,
    /// Output format: a JSON array of records, or one matrix per port/protocol.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
    /// Add the reasons (deciding rule, egress and ingress checks) to each JSON record.
    /// Without it the output is exactly what `lab probe` prints.
    #[arg(long)]
    explain: bool,
}

/// The protocols a lab can listen on (and so probe).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProbeProtocol {
    #[value(name = "TCP")]
    Tcp,
    #[value(name = "UDP")]
    Udp,
}

impl From<ProbeProtocol> for Protocol {
    fn from(p: ProbeProtocol) -> Protocol {
        match p {
            ProbeProtocol::Tcp => Protocol::Tcp,
            ProbeProtocol::Udp => Protocol::Udp,
        }
    }
}

pub fn run(cmd: PolicyCommand) -> anyhow::Result<()> {
    match cmd {
        PolicyCommand::Check(a) => check(a),
        PolicyCommand::Eval(a) => eval(a),
        PolicyCommand::Apply(a) => super::policy_remote::apply(a),
        PolicyCommand::Delete(a) => super::policy_remote::delete(a),
        PolicyCommand::List(a) => super::policy_remote::list(a),
        PolicyCommand::Replay(a) => super::policy_remote::replay(a),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<()> {
    let set = load::policies(&args.paths)?;
    let n = set.policies.len();
    println!("ok: {n} {}", if n == 1 { "policy" } else { "policies" });
    Ok(())
}

/// One verdict with the reasons behind it (`--explain`): `lab probe`'s fields first.
#[derive(Serialize)]
pub struct Explained {
    #[serde(flatten)]
    pub result: ProbeResult,
    /// The deciding reason (what denied, else the most specific allow).
    pub reason: String,
    pub egress: String,
    pub ingress: String,
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let lab = load::lab(&args.lab)?;
    let set = load::policies(&args.policy)?;
    let opts = ProbeOptions {
        from: args.from,
        to: args.to,
        port: args.port,
        protocol: args.protocol.map(Protocol::from),
        ..ProbeOptions::default()
    };
    let explained =
        explain(&lab, &set, &opts).map_err(|e| anyhow::anyhow!("{}: {e}", args.lab.display()))?;
    match (args.output, args.explain) {
        (Format::Json, false) => {
            let results: Vec<ProbeResult> = explained.into_iter().map(|e| e.result).collect();
            print!("{}", bulkhead_lab::to_json(&results));
        }
        (Format::Json, true) => {
            let lines: Vec<String> = explained
                .iter()
                .map(serde_json::to_string)
                .collect::<Result<_, _>>()?;
            match lines.is_empty() {
                true => println!("[]"),
                false => println!("[\n{}\n]", lines.join(",\n")),
            }
        }
        (Format::Table, _) => {
            let results: Vec<ProbeResult> = explained.into_iter().map(|e| e.result).collect();
            print!("{}", bulkhead_lab::to_table(&lab, &results));
        }
    }
    Ok(())
}

/// The evaluator's verdict on exactly the attempts `lab probe` makes ([`bulkhead_lab::plan`]:
/// ordered pairs of distinct workloads, on the destination's listed ports, in the same
/// order), so that `lab probe` after `enforce` prints byte for byte what `policy eval` prints.
pub fn explain(
    lab: &LabFile,
    set: &PolicySet,
    opts: &ProbeOptions,
) -> Result<Vec<Explained>, bulkhead_lab::LabError> {
    let inventory = lab.inventory();
    let ip = |id: &WorkloadId| lab.workload(id).map(|w| w.ip);
    let mut out = Vec::new();
    for attempt in bulkhead_lab::plan(lab, opts)? {
        let (Some(src), Some(dst)) = (ip(&attempt.from), ip(&attempt.to)) else {
            continue;
        };
        let flow = Flow {
            src,
            dst,
            protocol: attempt.protocol.number(),
            port: attempt.port,
        };
        let v = evaluate(set, &inventory, &flow);
        out.push(Explained {
            result: attempt.result(v.allowed),
            reason: v.deciding().to_string(),
            egress: v.egress.to_string(),
            ingress: v.ingress.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
