//! The HTTP client of the commands that talk to a server (`observe`, `graph`,
//! `policy apply|delete|list`, `token`, `workload`): a blocking `ureq` agent, the bearer
//! token from a file, and server errors turned into the CLI's one-line (or
//! `file:line:col`) messages.

use anyhow::{Context, bail};
use bulkhead_api::ErrorBody;
use clap::Args;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Clone, Debug)]
pub struct ClientArgs {
    /// The server's base URL.
    #[arg(long, env = "BULKHEAD_SERVER", default_value = "http://127.0.0.1:7410")]
    pub server: String,
    /// A file holding an API token (the server's `admin.token`, or one made by `token create`).
    #[arg(long, env = "BULKHEAD_TOKEN_FILE")]
    pub token_file: PathBuf,
}

pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(args: &ClientArgs) -> anyhow::Result<Client> {
        let token = std::fs::read_to_string(&args.token_file)
            .with_context(|| format!("{}: cannot read the token file", args.token_file.display()))?
            .trim()
            .to_string();
        if token.is_empty() {
            bail!("{}: the token file is empty", args.token_file.display());
        }
        Ok(Client::with_token(&args.server, token))
    }

    /// A client for a token already in memory (the demo reads it from its own server).
    pub fn with_token(server: &str, token: String) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .build()
            .new_agent();
        Client {
            base: server.trim_end_matches('/').to_string(),
            token,
            agent,
        }
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send::<(), T>("GET", path, None)
    }

    pub fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.send("PUT", path, Some(body))
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.send("POST", path, Some(body))
    }

    pub fn delete<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&B>,
    ) -> anyhow::Result<T> {
        self.send("DELETE", path, body)
    }

    /// One request; a non-2xx answer becomes an error with the server's message.
    fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> anyhow::Result<T> {
        let text = self.exchange(method, path, body)?;
        // A 204 has no body: let `()`-like targets accept `null`.
        let text = if text.is_empty() {
            "null".to_string()
        } else {
            text
        };
        serde_json::from_str(&text)
            .with_context(|| format!("{method} {path}: unexpected answer from the server"))
    }

    fn exchange<B: Serialize>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> anyhow::Result<String> {
        let url = format!("{}{path}", self.base);
        let payload = match body {
            Some(b) => serde_json::to_vec(b)?,
            None => Vec::new(),
        };
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Authorization", format!("Bearer {}", self.token));
        if body.is_some() {
            req = req.header("Content-Type", "application/json");
        }
        let req = req
            .body(payload)
            .with_context(|| format!("{url}: not a valid URL"))?;
        let mut resp = self
            .agent
            .run(req)
            .with_context(|| format!("cannot reach the server at {}", self.base))?;
        let status = resp.status();
        let text = resp
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_string()
            .with_context(|| format!("{method} {path}: reading the answer"))?;
        if status.is_success() {
            return Ok(text);
        }
        match serde_json::from_str::<ErrorBody>(&text) {
            // Policy problems: print the `file:line:col: message` lines as they are.
            Ok(e) if !e.details.is_empty() => bail!("{}", e.details.join("\n")),
            Ok(e) => bail!("server: {} ({})", e.error, status.as_u16()),
            Err(_) => bail!("server answered {status} to {method} {path}"),
        }
    }

    /// Follows `GET path` as Server-Sent Events, calling `on_event(name, data)` for each
    /// until it returns false or the server ends the stream.
    pub fn events(
        &self,
        path: &str,
        mut on_event: impl FnMut(&str, &str) -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .agent
            .get(&url)
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Accept", "text/event-stream")
            .call()
            .with_context(|| format!("cannot reach the server at {}", self.base))?;
        if !resp.status().is_success() {
            bail!("server answered {} to GET {path}", resp.status());
        }
        let reader = std::io::BufReader::new(resp.into_body().into_reader());
        let (mut name, mut data) = (String::new(), String::new());
        for line in reader.lines() {
            let line = line.context("reading the event stream")?;
            if line.is_empty() {
                if !data.is_empty() && !on_event(&name, &data)? {
                    return Ok(());
                }
                name.clear();
                data.clear();
            } else if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        Ok(())
    }
}

/// Appends `key=value` pairs (URL-encoded) for the options that are set.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let set: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!("?{}", set.join("&"))
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
