//! The agent channel of the server API (`/api/v1/agents/{node}/...`), over blocking
//! HTTP with a bearer token.

use crate::Error;
use bulkhead_api::{AgentReport, DesiredState, FlowBatch, IngestResult, Revision, paths, wire};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use ureq::http::StatusCode;

pub struct Channel {
    base: String,
    node: String,
    token: String,
    http: ureq::Agent,
    /// Set once a server refused the binary flow body (415: a server older than it):
    /// batches go as JSON from then on.
    json_flows: AtomicBool,
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
            json_flows: AtomicBool::new(false),
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

    /// `POST /agents/{node}/flows`, in the binary encoding (bulkhead_api::wire: 1.6-1.7x
    /// the JSON body's ingest rate, docs/bench/server.md), or JSON for a server that
    /// refuses it (415).
    pub fn flows(&self, batch: &FlowBatch) -> Result<IngestResult, Error> {
        let path = paths::agent_flows(&self.node);
        let answer = if self.json_flows.load(Ordering::Relaxed) {
            self.send("POST", &path, Some(batch))
        } else {
            let body = (wire::CONTENT_TYPE, wire::encode(batch));
            let (status, text) = self.request("POST", &path, Some(body))?;
            if status == 415 {
                tracing::info!("the server does not take binary flow batches: sending JSON");
                self.json_flows.store(true, Ordering::Relaxed);
                self.send("POST", &path, Some(batch))
            } else {
                answer("POST", &path, status, &text)
            }
        };
        answer?.ok_or_else(|| Error::Server(format!("POST {path}: empty answer")))
    }

    fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<Option<T>, Error> {
        let payload = match body {
            Some(b) => Some((
                "application/json",
                serde_json::to_vec(b).map_err(|e| Error::Server(e.to_string()))?,
            )),
            None => None,
        };
        let (status, text) = self.request(method, path, payload)?;
        answer(method, path, status, &text)
    }

    /// One request with an already encoded body (its content type, its bytes): the
    /// answer's status and text.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(StatusCode, String), Error> {
        let url = format!("{}{path}", self.base);
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Authorization", format!("Bearer {}", self.token));
        let payload = match body {
            Some((kind, bytes)) => {
                req = req.header("Content-Type", kind);
                bytes
            }
            None => Vec::new(),
        };
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
        Ok((status, text))
    }
}

/// The value of an answer: none for 204, an error naming the call for a failure.
fn answer<T: DeserializeOwned>(
    method: &str,
    path: &str,
    status: StatusCode,
    text: &str,
) -> Result<Option<T>, Error> {
    if status.as_u16() == 204 {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(Error::Server(format!(
            "{method} {path}: {status}: {}",
            text.trim()
        )));
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| Error::Server(format!("{method} {path}: unexpected answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_api::{FlowRecord, IpProtocol, Timestamp, Verdict};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    /// A server older than the binary body: 415 for it, 200 for JSON. Answers `n`
    /// requests on loopback and returns the content type of each.
    fn old_server(n: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::thread::spawn(move || {
            let mut kinds = Vec::new();
            for _ in 0..n {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut kind, mut len) = (String::new(), 0usize);
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let line = line.trim_end().to_ascii_lowercase();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("content-type:") {
                        kind = v.trim().to_string();
                    }
                    if let Some(v) = line.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let (status, answer) = if kind == "application/json" {
                    let batch: FlowBatch = serde_json::from_slice(&body).unwrap();
                    let n = batch.records.len();
                    (
                        "200 OK",
                        format!(r#"{{"accepted":{n},"duplicate":false,"edges":1}}"#),
                    )
                } else {
                    (
                        "415 Unsupported Media Type",
                        r#"{"error":"json only"}"#.to_string(),
                    )
                };
                let mut out = stream;
                write!(
                    out,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                )
                .unwrap();
                kinds.push(kind);
            }
            kinds
        });
        (base, seen)
    }

    #[test]
    fn batches_go_as_json_once_a_server_refuses_the_binary_body() {
        let (base, seen) = old_server(3);
        let ch = Channel::new(&base, "n1", "token", Duration::from_secs(10));
        let record = FlowRecord {
            source: "x/a".into(),
            destination: "x/b".into(),
            protocol: IpProtocol::TCP,
            port: 80,
            verdict: Verdict::Allowed,
            rule: None,
            packets: 1,
            bytes: 60,
            connections: 1,
            first_seen: Timestamp(1_000),
            last_seen: Timestamp(2_000),
            node: None,
        };
        let batch = FlowBatch {
            records: vec![record; 2],
            ..FlowBatch::default()
        };
        assert_eq!(ch.flows(&batch).unwrap().accepted, 2);
        assert_eq!(ch.flows(&batch).unwrap().accepted, 2);
        let kinds = seen.join().unwrap();
        assert_eq!(
            kinds,
            [wire::CONTENT_TYPE, "application/json", "application/json"]
        );
    }
}
