//! Auto-learning over the recorded flow windows: baselines (the pure learner of
//! `bulkhead_policy::baseline` fed with the edges and the agents' inventory) and
//! violations (drift: the denied and would-deny edges the agents reported).

use super::Core;
use super::inventory::inventory;
use super::views::{edge, page_size};
use crate::error::ServerError;
use crate::store::EdgeFilter;
use bulkhead_api::{
    BaselineRequest, BaselineResult, Timestamp, Verdict, ViolationPage, ViolationQuery,
};
use bulkhead_policy::baseline::{self, BaselineError, Endpoint, Observation, Options};

impl Core {
    pub(super) fn baseline(&self, req: BaselineRequest) -> Result<BaselineResult, ServerError> {
        let now = Timestamp::now();
        let filter = EdgeFilter {
            since: req.since.map(|b| b.resolve(now)),
            until: req.until.map(|b| b.resolve(now)),
            ..EdgeFilter::default()
        };
        let state = self.lock();
        let inv = inventory(&state);
        let rows = super::views::edge_rows(&state, &filter)?;
        drop(state);
        let mut observations = Vec::with_capacity(rows.len());
        let mut denied_edges = 0;
        for r in rows {
            // Denied traffic never reached its destination: learning it would open what
            // the policies in force closed on purpose.
            if r.verdict == Verdict::Denied {
                denied_edges += 1;
                continue;
            }
            // Endpoints are written by agents: a workload id or an address, never empty.
            let (Ok(source), Ok(destination)) = (
                r.source.parse::<Endpoint>(),
                r.destination.parse::<Endpoint>(),
            ) else {
                continue;
            };
            observations.push(Observation {
                source,
                destination,
                protocol: r.protocol.0,
                port: r.port,
                flows: r.counters.connections,
                first_seen: r.counters.first_seen.millis(),
                last_seen: r.counters.last_seen.millis(),
            });
        }
        let options = Options {
            workloads: req.workloads,
            outside_prefix: req
                .outside_prefix
                .unwrap_or(Options::default().outside_prefix),
        };
        let learned = baseline::generate(&inv, &observations, &options).map_err(|e| match e {
            BaselineError::UnknownWorkload(_) => ServerError::NotFound(e.to_string()),
            BaselineError::Prefix(_) => ServerError::invalid(format!("outside_prefix: {e}")),
        })?;
        Ok(BaselineResult {
            format: req.format,
            yaml: baseline::render(&learned, &inv, req.format),
            baseline: learned,
            edges: observations.len() as u64,
            denied_edges,
        })
    }

    pub(super) fn violations(&self, q: &ViolationQuery) -> Result<ViolationPage, ServerError> {
        let limit = page_size(q.limit, 1000, 10_000, "limit")?;
        let now = Timestamp::now();
        let filter = EdgeFilter {
            workload: q.workload.as_deref(),
            namespace: q.namespace.as_deref(),
            since: q.since.map(|b| b.resolve(now)),
            until: q.until.map(|b| b.resolve(now)),
            after: q.cursor.unwrap_or(0),
            limit: Some(limit + 1),
            violations: true,
            ..EdgeFilter::default()
        };
        let mut rows = super::views::edge_rows(&self.lock(), &filter)?;
        let next_cursor = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.id)
        } else {
            None
        };
        let violations = rows
            .into_iter()
            .map(|r| {
                let node = r.node.clone();
                edge(r).to_record(node)
            })
            .collect();
        Ok(ViolationPage {
            violations,
            next_cursor,
        })
    }
}
