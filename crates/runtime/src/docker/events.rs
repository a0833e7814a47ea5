//! The engine's event stream as a counter that [`Events::wait_past`] can wait on.
//!
//! Only the fact that something changed matters (snapshots are whole), so events are
//! counted, not queued. A stream that breaks counts as a change (events may have been
//! missed) and is re-opened after a short pause.

use super::http;
use crate::Error;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// `{"type":["container","network"]}`, URL-encoded.
const PATH: &str = "/events?filters=%7B%22type%22%3A%5B%22container%22%2C%22network%22%5D%7D";
/// Actions that change what a snapshot holds.
const RELEVANT: [&str; 9] = [
    "start",
    "die",
    "stop",
    "kill",
    "destroy",
    "rename",
    "connect",
    "disconnect",
    "restart",
];

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "Action", default)]
    action: String,
}

pub struct Events {
    count: Mutex<u64>,
    changed: Condvar,
}

impl Events {
    /// Starts the following thread and waits until the stream is open (so that nothing
    /// happening after this returns is missed).
    pub fn start(socket: &Path) -> Result<Arc<Events>, Error> {
        let events = Arc::new(Events {
            count: Mutex::new(0),
            changed: Condvar::new(),
        });
        let fail = |message: String| Error::Docker {
            socket: socket.display().to_string(),
            what: "GET /events".into(),
            message,
        };
        let first = http::get(socket, PATH, None).map_err(|e| fail(e.to_string()))?;
        if first.status != 200 {
            return Err(fail(format!("status {}", first.status)));
        }
        let weak = Arc::downgrade(&events);
        let socket = socket.to_path_buf();
        std::thread::Builder::new()
            .name("docker-events".into())
            .spawn(move || follow(weak, socket, first))
            .map_err(|e| Error::Docker {
                socket: String::new(),
                what: "start the event thread".into(),
                message: e.to_string(),
            })?;
        Ok(events)
    }

    pub fn count(&self) -> u64 {
        *self.count.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        *self.count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.changed.notify_all();
    }

    /// Waits up to `timeout` for the count to exceed `seen`; the new count, if it did.
    pub fn wait_past(&self, seen: u64, timeout: Duration) -> Option<u64> {
        let deadline = Instant::now() + timeout;
        let mut count = self.count.lock().unwrap_or_else(|p| p.into_inner());
        while *count <= seen {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            count = self
                .changed
                .wait_timeout(count, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Some(*count)
    }
}

/// Reads the stream until the source is dropped (noticed at the next event or break).
fn follow(events: Weak<Events>, socket: PathBuf, first: http::Response) {
    let mut response = Some(first);
    loop {
        if let Some(r) = response.take() {
            let result = r.lines(|line| {
                let Some(e) = events.upgrade() else {
                    return false;
                };
                let relevant = serde_json::from_slice::<Event>(line)
                    .map(|ev| RELEVANT.contains(&ev.action.as_str()))
                    .unwrap_or(true);
                if relevant {
                    e.bump();
                }
                true
            });
            if let Err(err) = result {
                eprintln!("docker source: event stream: {err}; re-opening");
            }
        }
        let Some(e) = events.upgrade() else {
            return;
        };
        e.bump();
        drop(e);
        std::thread::sleep(Duration::from_millis(500));
        match http::get(&socket, PATH, None) {
            Ok(r) if r.status == 200 => response = Some(r),
            Ok(r) => eprintln!("docker source: GET /events: status {}", r.status),
            Err(err) => eprintln!("docker source: GET /events: {err}"),
        }
    }
}
