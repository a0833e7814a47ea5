//! `bulkhead server`: the control plane. Ready when `GET /api/v1/health` answers 200.

use anyhow::Context;
use bulkhead_policy::Mode;
use bulkhead_server::core::CoreOptions;
use bulkhead_server::serve::DEFAULT_LISTEN;
use bulkhead_server::{Config, Server};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ServerArgs {
    /// Address to listen on (loopback only, unless --allow-remote).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: String,
    /// The SQLite database (created if missing).
    #[arg(long)]
    db: PathBuf,
    /// The admin token file; created with mode 0600 and a fresh token if missing.
    /// Default: `admin.token` beside the database.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Allow a non-loopback listen address (the API is plain HTTP: put TLS in front).
    #[arg(long)]
    allow_remote: bool,
    /// Serve the web UI's built files (e.g. `web-ui/dist`) at `/`.
    #[arg(long)]
    ui: Option<PathBuf>,
    /// The mode of workloads that have none set.
    #[arg(long, default_value = "enforce", value_parser = parse_mode)]
    default_mode: Mode,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

pub fn run(args: ServerArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    let config = Config {
        listen: args.listen,
        db: args.db,
        token_file: args.token_file,
        allow_remote: args.allow_remote,
        ui_dir: args.ui,
        options: CoreOptions {
            default_mode: args.default_mode,
        },
    };
    let server = Server::bind(&config).await?;
    let addr = server.local_addr()?;
    eprintln!(
        "bulkhead server listening on http://{addr} (database {}, admin token in {})",
        config.db.display(),
        config.token_path().display()
    );
    server.run(stop_signal()).await?;
    eprintln!("bulkhead server stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM, so both Ctrl-C and `kill PID` stop the server cleanly.
pub async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        // Without a SIGTERM handler, Ctrl-C still works.
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
