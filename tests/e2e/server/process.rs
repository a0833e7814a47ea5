//! `bulkhead server` as a child process, stopped by PID when dropped.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills a process by PID when dropped (even when the test panics).
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(self.0.to_string())
            .status();
    }
}

pub struct ServerProcess {
    child: Child,
    dir: PathBuf,
    pub addr: String,
}

impl ServerProcess {
    /// Starts on a free loopback port (`:0`) and waits for `/api/v1/health` to answer 200,
    /// the readiness check the contract documents.
    pub fn start(dir: &Path) -> ServerProcess {
        Self::start_on(dir, "127.0.0.1:0")
    }

    /// Like [`start`](Self::start) on a given address (agents keep their server's URL
    /// across a restart, so a restarted server must come back on the same port).
    pub fn start_on(dir: &Path, listen: &str) -> ServerProcess {
        let mut child = Command::new(crate::harness::bulkhead_bin())
            .args(["server", "--listen", listen, "--db"])
            .arg(dir.join("bulkhead.db"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        // The address is on the line that says where it listens; a line about the
        // web UI may come first.
        let mut first = String::new();
        for _ in 0..5 {
            first.clear();
            if stderr.read_line(&mut first).unwrap() == 0 || first.contains("http://") {
                break;
            }
        }
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string();
        let server = ServerProcess {
            child,
            dir: dir.to_path_buf(),
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.get_health() != Some(200) {
            assert!(Instant::now() < deadline, "the server never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn kill_and_restart(mut self) -> ServerProcess {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        ServerProcess::start(&self.dir.clone())
    }

    /// SIGKILL: what it answered must already be on disk.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token_file(&self) -> PathBuf {
        self.dir.join("admin.token")
    }

    /// `GET path` with the admin token: (status, JSON body).
    pub fn get(&self, path: &str) -> (u16, Value) {
        let (code, body) = self.get_text(path);
        (code, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// `GET path` with the admin token: (status, raw body), e.g. for `/metrics`.
    pub fn get_text(&self, path: &str) -> (u16, String) {
        let token = std::fs::read_to_string(self.dir.join("admin.token")).unwrap();
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            token.trim()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (out[9..12].parse().unwrap(), body.to_string())
    }

    /// `--server URL --token-file FILE` for the CLI.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--server".into(),
            format!("http://{}", self.addr),
            "--token-file".into(),
            self.dir.join("admin.token").display().to_string(),
        ]
    }

    fn get_health(&self) -> Option<u16> {
        let mut s = TcpStream::connect(&self.addr).ok()?;
        s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.get(9..12)?.parse().ok()
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, String) {
        self.send("POST", path, body)
    }

    pub fn put(&self, path: &str, body: &Value) -> (u16, String) {
        self.send("PUT", path, body)
    }

    /// One request with the admin token; answers (status, raw answer).
    fn send(&self, method: &str, path: &str, body: &Value) -> (u16, String) {
        let token = std::fs::read_to_string(self.dir.join("admin.token")).unwrap();
        let body = body.to_string();
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            token.trim(),
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        (out[9..12].parse().unwrap(), out)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
