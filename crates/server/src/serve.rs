//! The server process: the admin token file, the loopback rule, listening, shutdown.

use crate::core::{Core, CoreOptions, generate_token};
use crate::error::ServerError;
use crate::store::Store;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:7410";

#[derive(Clone, Debug)]
pub struct Config {
    /// `host:port`; the port may be 0 (any free port, see [`Server::local_addr`]).
    pub listen: String,
    pub db: PathBuf,
    /// Default: `admin.token` beside the database.
    pub token_file: Option<PathBuf>,
    /// Allow listening on an address other hosts can reach. Off by default: the API
    /// is plain HTTP, so anything beyond loopback needs a TLS proxy in front.
    pub allow_remote: bool,
    pub options: CoreOptions,
    /// The web UI's built files, served at `/` (none: API only).
    pub ui_dir: Option<PathBuf>,
}

impl Config {
    pub fn new(listen: impl Into<String>, db: impl Into<PathBuf>) -> Config {
        Config {
            listen: listen.into(),
            db: db.into(),
            token_file: None,
            allow_remote: false,
            options: CoreOptions::default(),
            ui_dir: None,
        }
    }

    pub fn token_path(&self) -> PathBuf {
        self.token_file.clone().unwrap_or_else(|| {
            let dir = self.db.parent().unwrap_or(Path::new(""));
            dir.join("admin.token")
        })
    }
}

/// A bound, ready server.
pub struct Server {
    core: Arc<Core>,
    listener: TcpListener,
    ui_dir: Option<PathBuf>,
}

impl Server {
    /// Opens the database, reads or creates the token file and binds the address.
    pub async fn bind(config: &Config) -> Result<Server, ServerError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(&config.listen)
            .await
            .map_err(|e| ServerError::BadRequest(format!("--listen {}: {e}", config.listen)))?
            .collect();
        let Some(&addr) = addrs.first() else {
            return Err(ServerError::BadRequest(format!(
                "--listen {}: no address",
                config.listen
            )));
        };
        if !config.allow_remote && !addrs.iter().all(|a| a.ip().is_loopback()) {
            return Err(ServerError::BadRequest(format!(
                "--listen {}: {} is not a loopback address; the API is plain HTTP, so listening \
                 beyond this host needs --allow-remote (and a TLS proxy in front)",
                config.listen,
                addr.ip()
            )));
        }
        if let Some(dir) = config.db.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| ServerError::io(format!("creating {}", dir.display()), e))?;
        }
        let token = admin_token(&config.token_path())?;
        let store = Store::open(&config.db)?;
        let core = Arc::new(Core::new(store, &token, config.options.clone())?);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| ServerError::io(format!("listening on {addr}"), e))?;
        Ok(Server {
            core,
            listener,
            ui_dir: config.ui_dir.clone(),
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.listener
            .local_addr()
            .map_err(|e| ServerError::io("reading the bound address", e))
    }

    pub fn core(&self) -> Arc<Core> {
        self.core.clone()
    }

    /// Serves until `shutdown` completes, then ends live streams and lets requests in
    /// flight finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let core = self.core.clone();
        let app = crate::http::router_with_ui(self.core, self.ui_dir);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                core.shut_down();
            })
            .await
            .map_err(|e| ServerError::io("serving HTTP", e))
    }
}

/// Reads the admin token, creating the file (mode 0600, a fresh token) if it is missing.
pub fn admin_token(path: &Path) -> Result<String, ServerError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let token = text.trim().to_string();
            if token.len() < 32 {
                return Err(ServerError::BadRequest(format!(
                    "{}: the token file holds no token of at least 32 characters",
                    path.display()
                )));
            }
            Ok(token)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = generate_token()?;
            // create_new: never overwrite a token file another process just wrote.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| ServerError::io(format!("creating {}", path.display()), e))?;
            writeln!(f, "{token}")
                .and_then(|()| f.sync_all())
                .map_err(|e| ServerError::io(format!("writing {}", path.display()), e))?;
            tracing::info!(path = %path.display(), "created the admin token file");
            Ok(token)
        }
        Err(e) => Err(ServerError::io(format!("reading {}", path.display()), e)),
    }
}
