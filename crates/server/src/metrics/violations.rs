//! Drift: traffic outside the policies in force, as the agents report it (`denied` in
//! enforce mode, `would-deny` in monitor mode). Counted per verdict in connections, plus
//! the number of distinct violating edges. Both start from what the store holds, so the
//! counters do not fall back to zero when the server restarts.

use super::Metrics;
use bulkhead_api::Verdict;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct Violations {
    denied: AtomicU64,
    would_deny: AtomicU64,
    edges: AtomicU64,
}

impl Metrics {
    /// `connections` more connections with `verdict`; `new_edge` when its edge is new.
    pub fn violation(&self, verdict: Verdict, connections: u64, new_edge: bool) {
        let v = &self.violations;
        match verdict {
            Verdict::Allowed => return,
            Verdict::Denied => v.denied.fetch_add(connections, Relaxed),
            Verdict::WouldDeny => v.would_deny.fetch_add(connections, Relaxed),
        };
        if new_edge {
            v.edges.fetch_add(1, Relaxed);
        }
    }

    pub(super) fn render_violations(&self, o: &mut String) {
        let v = &self.violations;
        let _ = writeln!(
            o,
            "# HELP bulkhead_violations_total Connections outside the policies in force, by verdict (denied: enforce mode, would-deny: monitor mode).\n# TYPE bulkhead_violations_total counter"
        );
        for (verdict, n) in [("denied", &v.denied), ("would-deny", &v.would_deny)] {
            let _ = writeln!(
                o,
                "bulkhead_violations_total{{verdict=\"{verdict}\"}} {}",
                n.load(Relaxed)
            );
        }
        let _ = writeln!(
            o,
            "# HELP bulkhead_violation_edges Distinct (source, destination, protocol, port, verdict, rule) edges outside the policies in force.\n# TYPE bulkhead_violation_edges gauge\nbulkhead_violation_edges {}",
            v.edges.load(Relaxed)
        );
    }
}
