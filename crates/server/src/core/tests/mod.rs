//! The core's behaviour, without HTTP: helpers here, tests by topic below.

mod edges;
mod flows;
mod inventory;
mod learn;
mod policies;
mod windows;
mod wire;

use super::*;
use bulkhead_api::{AgentStatus, Change, FlowRecord, IpProtocol, PolicyFile, Timestamp, Verdict};
use bulkhead_policy::Workload;

pub(crate) const ADMIN: &str = "bh_0123456789abcdef0123456789abcdef0123456789abcdef";

pub(crate) fn core() -> Core {
    Core::new(Store::in_memory().unwrap(), ADMIN, CoreOptions::default()).unwrap()
}

pub(crate) fn admin() -> Caller {
    Caller {
        name: "admin".into(),
        role: Role::Admin,
    }
}

pub(crate) fn policy_yaml(name: &str, port: u16) -> String {
    format!(
        "apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata:\n  name: {name}\n  namespace: x\n\
         spec:\n  selector:\n    matchLabels: {{app: web}}\n  ingress:\n    - action: allow\n      ports: [{port}]\n"
    )
}

pub(crate) fn apply(core: &Core, files: &[(&str, &str)]) -> Result<ChangeResult, ServerError> {
    let files = files
        .iter()
        .map(|(n, t)| PolicyFile {
            name: n.to_string(),
            text: t.to_string(),
        })
        .collect();
    match core.execute(
        Some(&admin()),
        Command::ApplyPolicies(ApplyRequest {
            files,
            dry_run: false,
        }),
    )? {
        Outcome::Changes(c) => Ok(c),
        other => panic!("unexpected {other:?}"),
    }
}

pub(crate) fn record(
    src: &str,
    dst: &str,
    port: u16,
    verdict: Verdict,
    packets: u64,
    at: i64,
) -> FlowRecord {
    FlowRecord {
        source: src.into(),
        destination: dst.into(),
        protocol: IpProtocol::TCP,
        port,
        verdict,
        rule: (verdict == Verdict::Denied).then(|| "x/web default-deny ingress".to_string()),
        packets,
        bytes: packets * 100,
        connections: 1,
        first_seen: Timestamp(at),
        last_seen: Timestamp(at + 1000),
        node: None,
    }
}

pub(crate) fn ingest(core: &Core, records: Vec<FlowRecord>) -> IngestResult {
    let batch = FlowBatch {
        records,
        ..FlowBatch::default()
    };
    match core
        .execute(Some(&admin()), Command::IngestFlows("n1".into(), batch))
        .unwrap()
    {
        Outcome::Ingested(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

pub(crate) fn flows(core: &Core, q: FlowQuery) -> FlowPage {
    match core.execute(Some(&admin()), Command::Flows(q)).unwrap() {
        Outcome::Flows(p) => p,
        other => panic!("unexpected {other:?}"),
    }
}
