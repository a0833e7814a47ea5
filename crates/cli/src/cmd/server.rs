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
    /// Serve the web UI's built files from DIR at `/`. Default: the first of
    /// `$BULKHEAD_UI_DIR`, `share/bulkhead/ui` beside the binary's directory, and the
    /// source tree's `web-ui/dist` that holds an `index.html`.
    #[arg(long, value_name = "DIR")]
    ui: Option<PathBuf>,
    /// Serve the API only, no web UI.
    #[arg(long, conflicts_with = "ui")]
    no_ui: bool,
    /// The mode of workloads that have none set.
    #[arg(long, default_value = "enforce", value_parser = parse_mode)]
    default_mode: Mode,
    /// How long to keep per-minute flow counters and their hourly and daily sums (what
    /// time windows are answered from), e.g. `30d`; at least `1d`. Default: forever.
    /// Edges and their whole-history totals are always kept.
    #[arg(long, value_name = "DURATION", value_parser = parse_retention)]
    retention: Option<std::time::Duration>,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

fn parse_retention(s: &str) -> Result<std::time::Duration, String> {
    match s.parse::<bulkhead_api::TimeBound>() {
        Ok(bulkhead_api::TimeBound::Ago(d)) if d >= std::time::Duration::from_secs(86_400) => Ok(d),
        Ok(bulkhead_api::TimeBound::Ago(_)) => Err(format!("`{s}` is less than 1d")),
        _ => Err(format!("`{s}` is not a duration such as `30d` or `12w`")),
    }
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
        ui_dir: if args.no_ui {
            None
        } else {
            args.ui.or_else(default_ui_dir)
        },
        options: CoreOptions {
            default_mode: args.default_mode,
            retention: args.retention,
            ..CoreOptions::default()
        },
    };
    let server = Server::bind(&config).await?;
    let addr = server.local_addr()?;
    match &config.ui_dir {
        Some(dir) => eprintln!("bulkhead server: web UI from {}", dir.display()),
        None => {
            eprintln!("bulkhead server: no web UI (build it: cd web-ui && npm ci && npm run build)")
        }
    }
    eprintln!(
        "bulkhead server listening on http://{addr} (database {}, admin token in {})",
        config.db.display(),
        config.token_path().display()
    );
    server.run(stop_signal()).await?;
    eprintln!("bulkhead server stopped");
    Ok(())
}

/// Where the built web UI is, when `--ui` is not given: an installed copy, or the
/// source tree this binary was built from (so `cargo run -- server` and the demo serve
/// `web-ui/dist` after `npm run build` without flags). Only a folder holding an
/// `index.html` counts, so an unbuilt tree falls back to serving the API alone.
pub fn default_ui_dir() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("BULKHEAD_UI_DIR") {
        candidates.push(PathBuf::from(dir));
    }
    if let Some(bin_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(PathBuf::from))
    {
        candidates.push(bin_dir.join("../share/bulkhead/ui"));
    }
    candidates.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../web-ui/dist"
    )));
    candidates
        .into_iter()
        .find(|d| d.join("index.html").is_file())
        .map(|d| d.canonicalize().unwrap_or(d))
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
