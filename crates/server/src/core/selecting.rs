//! Which stored policies select a workload, and which directions they isolate: what the
//! UI shows in a workload's panel and needs before it writes a rule (a deny-only policy
//! on a workload nothing isolated yet would make it default-deny; see docs/policy.md).

use super::Core;
use crate::error::ServerError;
use crate::store;
use bulkhead_api::{PolicyDocument, SelectingPolicy};
use bulkhead_policy::{Direction, WorkloadId};

impl Core {
    pub(super) fn selecting(&self, id: &WorkloadId) -> Result<Vec<SelectingPolicy>, ServerError> {
        let state = self.lock();
        let Some(known) = state.workloads.get(id) else {
            return Err(ServerError::NotFound(format!(
                "no workload `{id}` is reported by an agent"
            )));
        };
        let workload = known.workload.clone();
        let stored = store::load_policies(state.store.conn())?;
        drop(state);
        let mut out = Vec::new();
        for p in stored {
            let doc = PolicyDocument {
                name: p.name.clone(),
                kind: p.kind,
                version: p.version,
                file: p.file,
                source: p.source,
            };
            let policy = doc
                .parse()
                .map_err(|d| ServerError::Corrupt(format!("stored policy `{}`: {d}", p.name)))?;
            if !policy.subject.selects(&workload) {
                continue;
            }
            out.push(SelectingPolicy {
                name: p.name,
                kind: p.kind,
                ingress: policy.isolates(&workload, Direction::Ingress),
                egress: policy.isolates(&workload, Direction::Egress),
            });
        }
        Ok(out)
    }
}
