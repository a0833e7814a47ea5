//! Replay: which recorded flows would a set of policies deny? The same reference
//! evaluator as `policy eval` (and the one the kernel backends are tested against) runs
//! over the recorded edges, with the inventory the agents report. Nothing is stored; the
//! auto-learning work (baselines, drift) builds on the same flow windows.

use super::Core;
use super::inventory::inventory;
use super::policies::parse_files;
use crate::error::ServerError;
use crate::store::EdgeFilter;
use bulkhead_api::{FlowRecord, ReplayRequest, ReplayResult, Timestamp, Verdict};
use bulkhead_policy::eval::{Flow, Prepared};
use bulkhead_policy::{PolicySet, WorkloadId};
use std::net::Ipv4Addr;

impl Core {
    pub(super) fn replay(&self, req: ReplayRequest) -> Result<ReplayResult, ServerError> {
        if req.files.is_empty() {
            return Err(ServerError::invalid(
                "files: at least one policy file is needed",
            ));
        }
        let parsed = parse_files(&req.files)?;
        let set = PolicySet::new(parsed.into_iter().map(|p| p.policy).collect())
            .map_err(super::policies::invalid)?;
        let state = self.lock();
        let inv = inventory(&state);
        let filter = EdgeFilter {
            workload: req.workload.as_deref(),
            since: req.since.map(|b| b.resolve(Timestamp::now())),
            ..EdgeFilter::default()
        };
        let rows = super::views::edge_rows(&state, &filter)?;
        drop(state);
        // Set-up once (isolating policies per workload, address and id maps), then each
        // edge costs lookups and the rules that concern it: docs/bench/learn.md.
        let prepared = Prepared::new(&set, &inv);
        let mut out = ReplayResult::default();
        for r in rows {
            let (Some(src), Some(dst)) = (
                address(&prepared, &r.source),
                address(&prepared, &r.destination),
            ) else {
                out.unresolved += 1;
                continue;
            };
            out.evaluated += 1;
            let flow = Flow {
                src,
                dst,
                protocol: r.protocol.0,
                port: r.port,
            };
            // Most flows pass: only the denied ones pay for their reasons.
            if !prepared.allows(&flow) {
                let verdict = prepared.evaluate(&flow);
                out.denied.push(FlowRecord {
                    source: r.source,
                    destination: r.destination,
                    protocol: r.protocol,
                    port: r.port,
                    verdict: Verdict::WouldDeny,
                    rule: Some(verdict.deciding().to_string()),
                    packets: r.counters.packets,
                    bytes: r.counters.bytes,
                    connections: r.counters.connections,
                    first_seen: r.counters.first_seen,
                    last_seen: r.counters.last_seen,
                    node: r.node,
                });
            }
        }
        Ok(out)
    }
}

/// The address of an endpoint: a workload's primary address, or the address itself.
fn address(prepared: &Prepared<'_>, endpoint: &str) -> Option<Ipv4Addr> {
    if let Ok(ip) = endpoint.parse::<Ipv4Addr>() {
        return Some(ip);
    }
    let id: WorkloadId = endpoint.parse().ok()?;
    prepared.workload(&id)?.ips.first().copied()
}
