//! Replay: which recorded flows would a set of policies deny? The same reference
//! evaluator as `policy eval` (and the one the kernel backends are tested against) runs
//! over the recorded edges, with the inventory the agents report. Nothing is stored; the
//! auto-learning work (baselines, drift) builds on the same flow windows.

use super::Core;
use super::inventory::inventory;
use super::policies::parse_files;
use crate::error::ServerError;
use crate::store::{self, EdgeFilter};
use bulkhead_api::{FlowRecord, ReplayRequest, ReplayResult, Timestamp, Verdict};
use bulkhead_policy::eval::{Flow, evaluate};
use bulkhead_policy::{Inventory, PolicySet, WorkloadId};
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
        let rows = store::query_window(state.store.conn(), &filter)?;
        drop(state);
        let mut out = ReplayResult::default();
        for r in rows {
            let (Some(src), Some(dst)) = (address(&inv, &r.source), address(&inv, &r.destination))
            else {
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
            let verdict = evaluate(&set, &inv, &flow);
            if !verdict.allowed {
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
fn address(inv: &Inventory, endpoint: &str) -> Option<Ipv4Addr> {
    if let Ok(ip) = endpoint.parse::<Ipv4Addr>() {
        return Some(ip);
    }
    let id: WorkloadId = endpoint.parse().ok()?;
    inv.workload(&id)?.ips.first().copied()
}
