//! A real server on a loopback port: restart durability, the token file, the agent long
//! poll and the event stream, seen by a client over TCP.

use bulkhead_server::{Config, Server};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Running {
    addr: SocketAddr,
    token: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

async fn start(dir: &Path) -> Running {
    let config = Config::new("127.0.0.1:0", dir.join("bulkhead.db"));
    let server = Server::bind(&config).await.unwrap();
    let addr = server.local_addr().unwrap();
    let token = std::fs::read_to_string(dir.join("admin.token"))
        .unwrap()
        .trim()
        .to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Running {
        addr,
        token,
        stop,
        task,
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
    }

    /// One HTTP/1.1 exchange with `Connection: close`; answers (status, body).
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut s = TcpStream::connect(self.addr).await.unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.token,
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let status = out[9..12].parse().unwrap();
        let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}

fn policy(port: u16) -> Value {
    let text = format!(
        "apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata:\n  name: web\n  namespace: x\n\
         spec:\n  selector: {{}}\n  ingress:\n    - action: allow\n      ports: [{port}]\n"
    );
    json!({"files": [{"name": "web.yaml", "text": text}]})
}

#[tokio::test]
async fn a_restart_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let mode = std::fs::metadata(dir.path().join("admin.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        s.call("PUT", "/api/v1/policies", Some(policy(80))).await.0,
        200
    );
    let batch = json!({"records": [{"source": "x/a", "destination": "x/b", "protocol": "UDP", "port": 53,
        "verdict": "would-deny", "rule": "x/web default-deny ingress", "packets": 5, "bytes": 500,
        "first_seen": "2025-01-01T00:00:00Z", "last_seen": "2025-01-01T00:00:02Z"}], "dropped_records": 4});
    assert_eq!(
        s.call("POST", "/api/v1/agents/n1/flows", Some(batch))
            .await
            .0,
        200
    );
    assert_eq!(
        s.call(
            "PUT",
            "/api/v1/workloads/x/a/mode",
            Some(json!({"mode": "monitor"}))
        )
        .await
        .0,
        200
    );
    let (_, token) = s
        .call(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "ro", "role": "read-only"})),
        )
        .await;
    let token_before = s.token.clone();
    s.stop().await;

    let s = start(dir.path()).await;
    assert_eq!(
        s.token, token_before,
        "the token file is kept, not replaced"
    );
    let (_, policies) = s.call("GET", "/api/v1/policies", None).await;
    assert_eq!(policies[0]["name"], "x/web");
    let (_, flows) = s.call("GET", "/api/v1/flows", None).await;
    let r = &flows["records"][0];
    assert_eq!(
        (
            r["verdict"].as_str(),
            r["packets"].as_u64(),
            r["rule"].as_str()
        ),
        (
            Some("would-deny"),
            Some(5),
            Some("x/web default-deny ingress")
        )
    );
    let (_, w) = s.call("GET", "/api/v1/workloads/x/a", None).await;
    assert_eq!(w["mode"], "monitor");
    let (_, audit) = s.call("GET", "/api/v1/audit", None).await;
    let actions: Vec<_> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["token.create", "mode.set", "policy.create"]);
    let (_, health) = s.call("GET", "/api/v1/health", None).await;
    assert_eq!(health["revision"], 2);
    let (_, tokens) = s.call("GET", "/api/v1/tokens", None).await;
    assert_eq!(tokens[0]["name"], token["name"]);
    s.stop().await;
}

#[tokio::test]
async fn a_stored_policy_reaches_a_waiting_agent_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let (addr, token) = (s.addr, s.token.clone());
    let waiting = tokio::spawn(async move {
        let agent = Running {
            addr,
            token,
            stop: oneshot::channel().0,
            task: tokio::spawn(async {}),
        };
        let got = agent
            .call("GET", "/api/v1/agents/n1/desired?after=0&wait=20", None)
            .await;
        (got, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored = Instant::now();
    assert_eq!(
        s.call("PUT", "/api/v1/policies", Some(policy(80))).await.0,
        200
    );
    let ((status, desired), received) = waiting.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(desired["revision"], 1);
    assert_eq!(desired["policies"][0]["name"], "x/web");
    let latency = received.duration_since(stored);
    assert!(latency < Duration::from_secs(1), "took {latency:?}");
    // Nothing new: the poll ends with 204 when `wait` runs out.
    assert_eq!(
        s.call("GET", "/api/v1/agents/n1/desired?after=1&wait=1", None)
            .await
            .0,
        204
    );
    s.stop().await;
}

#[tokio::test]
async fn events_stream_live_changes_and_end_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let req = format!(
        "GET /api/v1/events?verdict=denied HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        s.token
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rec = |verdict: &str, port: u16| {
        json!({"source": "x/a", "destination": "x/b", "protocol": "TCP", "port": port,
        "verdict": verdict, "rule": null, "packets": 1, "bytes": 1,
        "first_seen": "2025-01-01T00:00:00Z", "last_seen": "2025-01-01T00:00:00Z"})
    };
    let batch = json!({"records": [rec("allowed", 80), rec("denied", 22)]});
    assert_eq!(
        s.call("POST", "/api/v1/agents/n1/flows", Some(batch))
            .await
            .0,
        200
    );
    assert_eq!(
        s.call("PUT", "/api/v1/policies", Some(policy(80))).await.0,
        200
    );
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !seen.contains("event: policies") && Instant::now() < deadline {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("text/event-stream"), "{seen}");
    assert!(
        seen.contains("event: flows") && seen.contains("\"port\":22"),
        "{seen}"
    );
    assert!(
        !seen.contains("\"port\":80,\"verdict\":\"allowed\""),
        "filtered out: {seen}"
    );
    assert!(seen.contains("event: edges"), "{seen}");
    assert!(seen.contains("event: policies"), "{seen}");
    // Shutdown ends the stream instead of waiting for the client to leave.
    s.stop().await;
}
