//! `bulkhead`: one binary, one subcommand per job. Each subcommand parses its arguments
//! here and hands them to a module of [`cmd`]; `anyhow` lives in this crate only.

mod cmd;
mod load;
mod output;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "bulkhead",
    version,
    about = "Network microsegmentation for containers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Network labs: workloads in namespaces on a bridge, to try policies with real packets.
    #[command(subcommand)]
    Lab(cmd::lab::LabCommand),
    /// Validate and evaluate policy files.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
    /// Compile policies for a lab's workloads and put them in force in the kernel.
    Enforce(cmd::enforce::EnforceArgs),
    /// The control plane: stores policies, modes and flows; serves the API.
    Server(cmd::server::ServerArgs),
    /// A node agent: enforces the server's desired state on a lab node and ships its flows.
    Agent(cmd::agent::AgentArgs),
    /// Print recorded (and, with --follow, live) flows from a server.
    Observe(cmd::observe::ObserveArgs),
    /// Bring up the demo shop in a lab with server, agent and live traffic; print the
    /// web UI's URL; remove everything on Ctrl-C.
    Demo(cmd::demo::DemoArgs),
    /// Print the connection graph from a server.
    Graph(cmd::graph::GraphArgs),
    /// Manage API tokens on a server.
    #[command(subcommand)]
    Token(cmd::token::TokenCommand),
    /// Least-privilege policies learned from the flows a server recorded.
    #[command(subcommand)]
    Baseline(cmd::baseline::BaselineCommand),
    /// The workloads a server knows, and their modes.
    #[command(subcommand)]
    Workload(cmd::workload::WorkloadCommand),
}

/// mimalloc rather than glibc's malloc: compiling a large policy set is mostly many
/// small, short-lived allocations, where glibc spent about a third of the compiler's
/// time (consolidating free lists); with mimalloc the whole compile + full apply of
/// 10,000 workloads takes ~30% less CPU (see the nft benchmark).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Lab(c) => cmd::lab::run(c),
        Command::Policy(c) => cmd::policy::run(c),
        Command::Enforce(a) => cmd::enforce::run(a),
        Command::Server(a) => cmd::server::run(a),
        Command::Agent(a) => cmd::agent::run_agent(a),
        Command::Observe(a) => cmd::observe::run(a),
        Command::Graph(a) => cmd::graph::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Token(c) => cmd::token::run(c),
        Command::Workload(c) => cmd::workload::run(c),
        Command::Baseline(c) => cmd::baseline::run(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // User errors carry their own `file:line:col: message` lines: print them as they are.
            eprintln!("{e:#}");
            ExitCode::from(1)
        }
    }
}

/// Logs go to stderr, at `warn` unless `RUST_LOG` says otherwise, so stdout stays machine-readable.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
