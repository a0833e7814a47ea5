//! The agent channel of the server API (`/api/v1/agents/{node}/...`), over blocking
//! HTTP with a bearer token.

use crate::Error;
use bulkhead_api::{AgentReport, DesiredState, FlowBatch, IngestResult, Revision, paths};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

pub struct Channel {
    base: String,
    node: String,
    token: String,
    http: ureq::Agent,
}

impl Channel {
    pub fn new(base: &str, node: &str, token: &str, timeout: Duration) -> Channel {
        let http = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(3)))
            .timeout_global(Some(timeout))
            .build()
            .new_agent();
        Channel {
            base: base.trim_end_matches('/').to_string(),
            node: node.to_string(),
            token: token.to_string(),
            http,
        }
    }

    /// `PUT /agents/{node}`: the node's workloads and status.
    pub fn report(&self, report: &AgentReport) -> Result<Revision, Error> {
        let path = paths::agent(&self.node);
        self.send("PUT", &path, Some(report))?
            .ok_or_else(|| Error::Server(format!("PUT {path}: empty answer")))
    }

    /// `GET /agents/{node}/desired?after=R&wait=S`: the desired state once its revision
    /// is past `after`, or `None` if `wait` seconds passed without a change.
    pub fn desired(&self, after: Option<u64>, wait: u64) -> Result<Option<DesiredState>, Error> {
        let mut path = format!("{}?wait={wait}", paths::agent_desired(&self.node));
        if let Some(a) = after {
            path.push_str(&format!("&after={a}"));
        }
        self.send::<(), DesiredState>("GET", &path, None)
    }

    /// `POST /agents/{node}/flows`.
    pub fn flows(&self, batch: &FlowBatch) -> Result<IngestResult, Error> {
        let path = paths::agent_flows(&self.node);
        self.send("POST", &path, Some(batch))?
            .ok_or_else(|| Error::Server(format!("POST {path}: empty answer")))
    }

    fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<Option<T>, Error> {
        let url = format!("{}{path}", self.base);
        let payload = match body {
            Some(b) => serde_json::to_vec(b).map_err(|e| Error::Server(e.to_string()))?,
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
            .map_err(|e| Error::Server(format!("{url}: {e}")))?;
        let mut resp = self
            .http
            .run(req)
            .map_err(|e| Error::Unreachable(format!("{}: {e}", self.base)))?;
        let status = resp.status();
        let text = resp
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(|e| Error::Unreachable(format!("{method} {path}: {e}")))?;
        if status.as_u16() == 204 {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(Error::Server(format!(
                "{method} {path}: {status}: {}",
                text.trim()
            )));
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Server(format!("{method} {path}: unexpected answer: {e}")))
    }
}
