//! `bulkhead lab up|down|probe` (and the hidden `lab serve`, the listener daemon that
//! `lab up` starts).

use crate::load;
use crate::output::Format;
use anyhow::Context;
use bulkhead_lab::{ProbeOptions, UpOptions};
use bulkhead_policy::lab::LabFile;
use bulkhead_policy::{Protocol, WorkloadId};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Subcommand)]
pub enum LabCommand {
    /// Create the lab's namespaces, links, addresses and listeners, or bring them to the
    /// file's current state. Idempotent; listeners keep running until `lab down`.
    Up {
        /// The lab file (YAML).
        lab: PathBuf,
    },
    /// Remove everything the lab created: namespaces, links, rules, programs, processes.
    /// Idempotent. LAB may be the lab file or, if the file is gone, the lab's name.
    Down {
        /// The lab file (YAML), or the name of a lab that is up.
        lab: String,
    },
    /// Make real connection attempts between the lab's workloads.
    Probe(ProbeArgs),
    /// The listener daemon `lab up` starts (not for direct use).
    #[command(hide = true)]
    Serve {
        /// The lab's name.
        name: String,
    },
}

#[derive(Args)]
pub struct ProbeArgs {
    /// The lab file (YAML).
    lab: PathBuf,
    /// Only from this workload (`namespace/name`).
    #[arg(long)]
    from: Option<WorkloadId>,
    /// Only to this workload (`namespace/name`).
    #[arg(long)]
    to: Option<WorkloadId>,
    /// Only this port (of those the destination lists).
    #[arg(long)]
    port: Option<u16>,
    /// Only this protocol.
    #[arg(long, value_parser = parse_protocol)]
    protocol: Option<Protocol>,
    /// How long each attempt may take before it counts as not allowed.
    #[arg(long, default_value_t = bulkhead_lab::DEFAULT_TIMEOUT.as_millis() as u64)]
    timeout_ms: u64,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    output: Format,
}

pub fn run(cmd: LabCommand) -> anyhow::Result<()> {
    match cmd {
        LabCommand::Up { lab } => up(&lab),
        LabCommand::Down { lab } => down(&lab),
        LabCommand::Probe(args) => probe(args),
        LabCommand::Serve { name } => Ok(bulkhead_lab::serve::run(&name)?),
    }
}

fn up(path: &Path) -> anyhow::Result<()> {
    let lab = load::lab(path)?;
    let opts = UpOptions {
        source: Some(path.to_path_buf()),
        serve_exe: None,
    };
    let report = bulkhead_lab::up(&lab, &opts).with_context(|| format!("lab up {}", lab.name))?;
    eprintln!(
        "lab {} is up: {} workloads, {} listeners ({} namespaces created, {} removed) in {:.2?}",
        lab.name,
        lab.workloads.len(),
        report.listeners,
        report.created_netns,
        report.removed_netns,
        report.duration
    );
    Ok(())
}

/// `down` must work when the file is gone or broken: then the lab is found from the
/// state `up` recorded (by the file's path, or by the lab's name).
fn down(arg: &str) -> anyhow::Result<()> {
    let path = Path::new(arg);
    let (name, file) = match load::lab(path) {
        Ok(lab) => (lab.name.clone(), Some(lab)),
        Err(err) => match bulkhead_lab::state::lab_from_source(path) {
            Some(name) => (name, None),
            None if is_lab_name(arg) => (arg.to_string(), None),
            None if !path.exists() => {
                eprintln!("lab down: no lab file {arg} and no lab recorded for it: nothing to do");
                return Ok(());
            }
            None => return Err(err),
        },
    };
    let report =
        bulkhead_lab::down(&name, file.as_ref()).with_context(|| format!("lab down {name}"))?;
    if report.was_up {
        eprintln!(
            "lab {name} is down ({} namespaces removed)",
            report.removed_netns.len()
        );
    } else {
        eprintln!("lab {name} was not up");
    }
    Ok(())
}

fn is_lab_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= bulkhead_policy::lab::MAX_LAB_NAME
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

fn probe(args: ProbeArgs) -> anyhow::Result<()> {
    let lab: LabFile = load::lab(&args.lab)?;
    let opts = ProbeOptions {
        from: args.from,
        to: args.to,
        port: args.port,
        protocol: args.protocol,
        timeout: Duration::from_millis(args.timeout_ms),
    };
    let results = bulkhead_lab::probe(&lab, &opts)?;
    let text = match args.output {
        Format::Json => bulkhead_lab::to_json(&results),
        Format::Table => bulkhead_lab::to_table(&lab, &results),
    };
    print!("{text}");
    Ok(())
}

/// Protocols as the lab can probe them (SCTP has no sockets on this kernel).
fn parse_protocol(s: &str) -> Result<Protocol, String> {
    match s.to_ascii_uppercase().as_str() {
        "TCP" => Ok(Protocol::Tcp),
        "UDP" => Ok(Protocol::Udp),
        _ => Err(format!("`{s}`: expected TCP or UDP")),
    }
}
