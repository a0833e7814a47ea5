//! `bulkhead policy check|eval`: validate policy files, and print the reference
//! evaluator's verdicts for a lab in the shape `lab probe` prints real ones.
//! (Server-side subcommands — apply, delete, list, replay — join this enum later.)

use crate::load;
use crate::output::Format;
use bulkhead_policy::eval::{Flow, Verdict, evaluate};
use bulkhead_policy::lab::{LabFile, LabWorkload};
use bulkhead_policy::{PolicySet, Protocol, WorkloadId};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use std::collections::BTreeMap;
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

/// One verdict, in `lab probe`'s JSON shape plus the reasons behind it.
#[derive(Serialize)]
pub struct Record {
    pub from: String,
    pub to: String,
    pub port: u16,
    pub protocol: Protocol,
    pub allowed: bool,
    /// The deciding reason (what denied, else the most specific allow).
    pub reason: String,
    pub egress: String,
    pub ingress: String,
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let lab = load::lab(&args.lab)?;
    let set = load::policies(&args.policy)?;
    for (flag, id) in [("--from", &args.from), ("--to", &args.to)] {
        if let Some(id) = id.as_ref().filter(|id| lab.workload(id).is_none()) {
            let lab_path = args.lab.display();
            anyhow::bail!("{flag}: the lab {lab_path} has no workload `{id}`");
        }
    }
    let filter = Filter {
        from: args.from,
        to: args.to,
        port: args.port,
        protocol: args.protocol.map(Protocol::from),
    };
    let records = records(&lab, &set, &filter);
    match args.output {
        Format::Json => print_json(&records)?,
        Format::Table => print!("{}", tables(&lab, &records)),
    }
    Ok(())
}

/// Which flows to evaluate; `None` fields do not filter.
#[derive(Default)]
pub struct Filter {
    pub from: Option<WorkloadId>,
    pub to: Option<WorkloadId>,
    pub port: Option<u16>,
    pub protocol: Option<Protocol>,
}

/// Every ordered pair of distinct workloads (lab order), on every port the destination
/// lists (its order): the flows `lab probe` makes, since probes go to the listeners.
pub fn records(lab: &LabFile, set: &PolicySet, filter: &Filter) -> Vec<Record> {
    let inventory = lab.inventory();
    let wanted =
        |w: &LabWorkload, id: &Option<WorkloadId>| id.as_ref().is_none_or(|id| &w.id == id);
    let mut out = Vec::new();
    for src in lab.workloads.iter().filter(|w| wanted(w, &filter.from)) {
        let dsts = lab
            .workloads
            .iter()
            .filter(|w| wanted(w, &filter.to) && w.id != src.id);
        for dst in dsts {
            for p in &dst.ports {
                if filter.port.is_some_and(|n| n != p.port)
                    || filter.protocol.is_some_and(|x| x != p.protocol)
                {
                    continue;
                }
                let flow = Flow {
                    src: src.ip,
                    dst: dst.ip,
                    protocol: p.protocol.number(),
                    port: p.port,
                };
                let verdict = evaluate(set, &inventory, &flow);
                out.push(record(src, dst, p.port, p.protocol, &verdict));
            }
        }
    }
    out
}

fn record(
    src: &LabWorkload,
    dst: &LabWorkload,
    port: u16,
    protocol: Protocol,
    v: &Verdict,
) -> Record {
    Record {
        from: src.id.to_string(),
        to: dst.id.to_string(),
        port,
        protocol,
        allowed: v.allowed,
        reason: v.deciding().to_string(),
        egress: v.egress.to_string(),
        ingress: v.ingress.to_string(),
    }
}

/// A JSON array with one record per line: valid JSON, and still readable with grep.
fn print_json(records: &[Record]) -> anyhow::Result<()> {
    let lines: Vec<String> = records
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<_, _>>()?;
    if lines.is_empty() {
        println!("[]");
    } else {
        println!("[\n{}\n]", lines.join(",\n"));
    }
    Ok(())
}

/// The verdicts of one port/protocol, by (from, to).
type Cells<'a> = BTreeMap<(&'a str, &'a str), bool>;

/// One matrix per port/protocol in the conformance table format (rows: sources, columns:
/// destinations; `.` allowed, `X` denied, `-` not evaluated), so a checked result can be
/// pasted into a case file.
pub fn tables(lab: &LabFile, records: &[Record]) -> String {
    let mut by_target: BTreeMap<(Protocol, u16), Cells<'_>> = BTreeMap::new();
    for r in records {
        let cells = by_target.entry((r.protocol, r.port)).or_default();
        cells.insert((r.from.as_str(), r.to.as_str()), r.allowed);
    }
    let ids: Vec<String> = lab.workloads.iter().map(|w| w.id.to_string()).collect();
    let width = ids.iter().map(String::len).max().unwrap_or(1).max(1) + 1;
    let mut out = String::new();
    for ((protocol, port), cells) in &by_target {
        // Only the workloads that appear, in lab order: `--from`/`--to` shrink the matrix.
        let used = |source: bool| -> Vec<&String> {
            let on_side = |k: &(&str, &str), id: &str| if source { k.0 == id } else { k.1 == id };
            ids.iter()
                .filter(|id| cells.keys().any(|k| on_side(k, id)))
                .collect()
        };
        let (rows, columns) = (used(true), used(false));
        let mut header = format!("{:<width$}", "-");
        for c in &columns {
            header.push_str(&format!("{c:<width$}"));
        }
        out.push_str(&format!("{port}/{protocol}\n{}\n", header.trim_end()));
        for r in &rows {
            let mut line = format!("{r:<width$}");
            for c in &columns {
                let cell = match cells.get(&(r.as_str(), c.as_str())) {
                    Some(true) => ".",
                    Some(false) => "X",
                    None if r == c => ".",
                    None => "-",
                };
                line.push_str(&format!("{cell:<width$}"));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
