//! The core's behaviour, without HTTP.

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

fn apply(core: &Core, files: &[(&str, &str)]) -> Result<ChangeResult, ServerError> {
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

fn ingest(core: &Core, records: Vec<FlowRecord>) -> IngestResult {
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

fn flows(core: &Core, q: FlowQuery) -> FlowPage {
    match core.execute(Some(&admin()), Command::Flows(q)).unwrap() {
        Outcome::Flows(p) => p,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn policies_are_versioned_and_audited() {
    let core = core();
    let c = apply(&core, &[("a.yaml", &policy_yaml("web", 80))]).unwrap();
    assert_eq!(
        (c.revision, c.policies[0].change, c.policies[0].version),
        (1, Change::Created, 1)
    );
    let c = apply(&core, &[("a.yaml", &policy_yaml("web", 80))]).unwrap();
    assert_eq!((c.revision, c.policies[0].change), (1, Change::Unchanged));
    let c = apply(&core, &[("a.yaml", &policy_yaml("web", 8080))]).unwrap();
    assert_eq!(
        (c.revision, c.policies[0].change, c.policies[0].version),
        (2, Change::Updated, 2)
    );
    let Outcome::Policy(p) = core
        .execute(Some(&admin()), Command::GetPolicy("x/web".into()))
        .unwrap()
    else {
        panic!()
    };
    assert!(p.source.contains("8080"));
    assert_eq!((p.version, p.author.as_str()), (2, "admin"));

    let del = core
        .execute(
            Some(&admin()),
            Command::DeletePolicies(DeleteRequest {
                names: vec!["x/web".into()],
            }),
        )
        .unwrap();
    let Outcome::Changes(d) = del else { panic!() };
    assert_eq!((d.revision, d.policies[0].change), (3, Change::Deleted));
    // Created again, it continues its numbering.
    let c = apply(&core, &[("a.yaml", &policy_yaml("web", 80))]).unwrap();
    assert_eq!(
        (c.policies[0].change, c.policies[0].version),
        (Change::Created, 3)
    );

    let Outcome::Audit(a) = core
        .execute(Some(&admin()), Command::Audit(AuditQuery::default()))
        .unwrap()
    else {
        panic!()
    };
    let actions: Vec<&str> = a.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "policy.create",
            "policy.delete",
            "policy.update",
            "policy.create"
        ]
    );
    assert!(
        a.entries
            .iter()
            .all(|e| e.actor == "admin" && e.target == "x/web")
    );
    assert_eq!(a.entries[0].revision, Some(4));
}

#[test]
fn invalid_policies_name_file_line_and_column() {
    let core = core();
    let bad = policy_yaml("web", 80).replace("ingress:", "ingres:");
    let err = apply(&core, &[("bad.yaml", &bad)]).unwrap_err();
    let ServerError::Invalid { details, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        details[0].starts_with("bad.yaml:9:3: spec: unknown field `ingres`"),
        "{details:?}"
    );
    assert_eq!(err.status(), 422);
    // Duplicates across files are refused as a whole; nothing is stored.
    let err = apply(
        &core,
        &[
            ("a.yaml", &policy_yaml("web", 80)),
            ("b.yaml", &policy_yaml("web", 81)),
        ],
    )
    .unwrap_err();
    assert!(err.to_string().contains("defined twice"), "{err}");
    let Outcome::Policies(all) = core.execute(Some(&admin()), Command::ListPolicies).unwrap()
    else {
        panic!()
    };
    assert!(all.is_empty());
    assert_eq!(core.current_revision(), 0);
}

#[test]
fn multi_document_files_store_one_document_per_policy() {
    let core = core();
    let text = format!(
        "# two policies\n{}---\n{}",
        policy_yaml("web", 80),
        policy_yaml("api", 81)
    );
    let c = apply(&core, &[("two.yaml", &text)]).unwrap();
    assert_eq!(c.policies.len(), 2);
    let Outcome::Policy(p) = core
        .execute(Some(&admin()), Command::GetPolicy("x/api".into()))
        .unwrap()
    else {
        panic!()
    };
    assert!(
        p.source.starts_with("---\n") && p.source.contains("81") && !p.source.contains("name: web")
    );
    let Outcome::Desired(d) = core
        .execute(Some(&admin()), Command::Desired("n1".into()))
        .unwrap()
    else {
        panic!()
    };
    for doc in &d.policies {
        assert_eq!(doc.parse().unwrap().name.to_string(), doc.name);
    }
}

#[test]
fn roles_limit_what_callers_may_do() {
    let core = core();
    let Outcome::Token(ro) = core
        .execute(
            Some(&admin()),
            Command::CreateToken(CreateToken {
                name: "viewer".into(),
                role: Role::ReadOnly,
            }),
        )
        .unwrap()
    else {
        panic!()
    };
    let viewer = core.authenticate(&ro.token).unwrap();
    assert_eq!(
        viewer,
        Caller {
            name: "viewer".into(),
            role: Role::ReadOnly
        }
    );
    assert!(core.authenticate("bh_wrong").is_err());
    assert!(core.execute(Some(&viewer), Command::ListPolicies).is_ok());
    let write = Command::SetMode(WorkloadId::new("x", "a"), Mode::Monitor);
    assert_eq!(
        core.execute(Some(&viewer), write).unwrap_err().status(),
        403
    );
    assert_eq!(
        core.execute(Some(&viewer), Command::ListTokens)
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(
        core.execute(None, Command::ListPolicies)
            .unwrap_err()
            .status(),
        401
    );
    assert!(core.execute(None, Command::Health).is_ok());
    let agent = Caller {
        name: "n1".into(),
        role: Role::Agent,
    };
    assert!(
        core.execute(Some(&agent), Command::Desired("n1".into()))
            .is_ok()
    );
    assert_eq!(
        core.execute(Some(&agent), Command::ListPolicies)
            .unwrap_err()
            .status(),
        403
    );
    // Only the hash is kept: the token's text appears nowhere in the database.
    let conn = core.lock();
    let n: i64 = conn
        .store
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM tokens WHERE hash = ?1",
            [&hash_token(&ro.token)[..]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn flows_aggregate_into_graph_edges() {
    let core = core();
    let t = 1_700_000_000_000;
    let r = ingest(
        &core,
        vec![
            record("x/a", "x/b", 80, Verdict::Allowed, 3, t),
            record("x/a", "x/b", 80, Verdict::Allowed, 4, t + 5000),
            record("x/a", "y/c", 443, Verdict::Denied, 1, t),
        ],
    );
    assert_eq!((r.accepted, r.edges), (3, 2));
    ingest(
        &core,
        vec![record("x/a", "x/b", 80, Verdict::Allowed, 10, t + 120_000)],
    );
    let Outcome::Graph(g) = core
        .execute(Some(&admin()), Command::Graph(GraphQuery::default()))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(g.edges.len(), 2);
    let ab = &g.edges[0];
    assert_eq!(
        (
            ab.source.as_str(),
            ab.destination.as_str(),
            ab.packets,
            ab.bytes,
            ab.connections
        ),
        ("x/a", "x/b", 17, 1700, 3)
    );
    assert_eq!(
        (ab.first_seen, ab.last_seen),
        (Timestamp(t), Timestamp(t + 121_000))
    );
    assert_eq!(
        g.edges[1].rule.as_deref(),
        Some("x/web default-deny ingress")
    );
    let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["x/a", "x/b", "y/c"]);

    // Filters.
    let denied = flows(
        &core,
        FlowQuery {
            verdict: Some(Verdict::Denied),
            ..FlowQuery::default()
        },
    );
    assert_eq!(denied.records.len(), 1);
    assert_eq!(denied.records[0].node.as_deref(), Some("n1"));
    assert_eq!(
        flows(
            &core,
            FlowQuery {
                namespace: Some("y".into()),
                ..FlowQuery::default()
            }
        )
        .records
        .len(),
        1
    );
    assert_eq!(
        flows(
            &core,
            FlowQuery {
                workload: Some("x/b".into()),
                ..FlowQuery::default()
            }
        )
        .records
        .len(),
        1
    );
    // A window sums only its minutes.
    let since = bulkhead_api::TimeBound::At(Timestamp(t + 60_000));
    let recent = flows(
        &core,
        FlowQuery {
            since: Some(since),
            ..FlowQuery::default()
        },
    );
    assert_eq!(recent.records.len(), 1);
    assert_eq!(recent.records[0].packets, 10);
    // Paging walks every edge once.
    let p1 = flows(
        &core,
        FlowQuery {
            limit: Some(1),
            ..FlowQuery::default()
        },
    );
    let p2 = flows(
        &core,
        FlowQuery {
            limit: Some(1),
            cursor: p1.next_cursor,
            ..FlowQuery::default()
        },
    );
    assert_eq!(
        (p1.records.len(), p2.records.len(), p2.next_cursor),
        (1, 1, None)
    );
    assert_ne!(p1.records[0], p2.records[0]);
}

#[test]
fn retried_batches_are_counted_once() {
    let core = core();
    let batch = FlowBatch {
        instance: Some("agent-1".into()),
        sequence: Some(7),
        records: vec![record("x/a", "x/b", 80, Verdict::Allowed, 3, 1_000_000)],
        dropped_records: 2,
        lost_events: 1,
    };
    let first = core
        .execute(
            Some(&admin()),
            Command::IngestFlows("n1".into(), batch.clone()),
        )
        .unwrap();
    let again = core
        .execute(Some(&admin()), Command::IngestFlows("n1".into(), batch))
        .unwrap();
    assert!(matches!(
        first,
        Outcome::Ingested(IngestResult {
            duplicate: false,
            ..
        })
    ));
    assert!(matches!(
        again,
        Outcome::Ingested(IngestResult {
            duplicate: true,
            ..
        })
    ));
    assert_eq!(flows(&core, FlowQuery::default()).records[0].packets, 3);
    let m = core.render_metrics().unwrap();
    assert!(m.contains("bulkhead_flow_records_dropped_total 2\n"), "{m}");
    assert!(m.contains("bulkhead_kernel_events_lost_total 1\n"), "{m}");
}

fn workload(ns: &str, name: &str, ip: [u8; 4]) -> Workload {
    Workload {
        id: WorkloadId::new(ns, name),
        labels: [("app".to_string(), name.to_string())].into(),
        namespace_labels: Default::default(),
        ips: vec![ip.into()],
        ports: Vec::new(),
        node: None,
    }
}

#[test]
fn agent_reports_build_the_inventory_and_move_the_revision_on_change() {
    let core = core();
    let report = |ws: Vec<Workload>| AgentReport {
        workloads: ws,
        cluster_cidrs: vec!["10.0.0.0/16".parse().unwrap()],
        host_ips: Vec::new(),
        status: AgentStatus {
            backend: "nft".into(),
            ..AgentStatus::default()
        },
    };
    let send = |node: &str, r: AgentReport| match core
        .execute(Some(&admin()), Command::AgentReport(node.into(), r))
        .unwrap()
    {
        Outcome::Revision(r) => r.revision,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        send("n1", report(vec![workload("x", "a", [10, 0, 0, 1])])),
        1
    );
    assert_eq!(
        send("n1", report(vec![workload("x", "a", [10, 0, 0, 1])])),
        1,
        "a heartbeat changes nothing"
    );
    assert_eq!(
        send("n2", report(vec![workload("x", "b", [10, 0, 0, 2])])),
        2
    );
    core.execute(
        Some(&admin()),
        Command::SetMode(WorkloadId::new("x", "b"), Mode::Monitor),
    )
    .unwrap();
    let Outcome::Desired(d) = core
        .execute(Some(&admin()), Command::Desired("n1".into()))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(d.revision, 3);
    assert_eq!(
        d.inventory.workloads.len(),
        2,
        "every node sees every workload"
    );
    assert_eq!(d.inventory.workloads[1].node.as_deref(), Some("n2"));
    assert_eq!(d.inventory.cluster_cidrs.len(), 1);
    assert_eq!(d.mode_of(&WorkloadId::new("x", "b")), Mode::Monitor);
    assert_eq!(d.mode_of(&WorkloadId::new("x", "a")), Mode::Enforce);
    // A workload gone from its node's report is gone from the inventory.
    assert_eq!(send("n1", report(Vec::new())), 4);
    let Outcome::Workloads(ws) = core
        .execute(Some(&admin()), Command::ListWorkloads)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(ws.len(), 1);
    assert_eq!(ws[0].mode, Mode::Monitor);
    let bad = report(vec![Workload {
        node: Some("n9".into()),
        ..workload("x", "c", [10, 0, 0, 3])
    }]);
    let err = core
        .execute(Some(&admin()), Command::AgentReport("n1".into(), bad))
        .unwrap_err();
    assert!(err.to_string().contains("workloads[0].node"), "{err}");
}

#[test]
fn everything_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    {
        let core = Core::new(Store::open(&db).unwrap(), ADMIN, CoreOptions::default()).unwrap();
        apply(&core, &[("a.yaml", &policy_yaml("web", 80))]).unwrap();
        ingest(
            &core,
            vec![record("x/a", "x/b", 80, Verdict::Allowed, 3, 1_000_000)],
        );
        core.execute(
            Some(&admin()),
            Command::SetMode(WorkloadId::new("x", "a"), Mode::Learn),
        )
        .unwrap();
    }
    let core = Core::new(Store::open(&db).unwrap(), ADMIN, CoreOptions::default()).unwrap();
    assert_eq!(core.current_revision(), 2);
    ingest(
        &core,
        vec![record("x/a", "x/b", 80, Verdict::Allowed, 4, 2_000_000)],
    );
    let page = flows(&core, FlowQuery::default());
    assert_eq!(
        (page.records.len(), page.records[0].packets),
        (1, 7),
        "the edge continues, not duplicated"
    );
    let Outcome::Workload(w) = core
        .execute(
            Some(&admin()),
            Command::GetWorkload(WorkloadId::new("x", "a")),
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(w.mode, Mode::Learn);
    let Outcome::Audit(a) = core
        .execute(Some(&admin()), Command::Audit(AuditQuery::default()))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(a.entries.len(), 2);
}

#[test]
fn replay_names_the_recorded_flows_new_policies_would_deny() {
    let core = core();
    let w = |name: &str, app: &str, ip: [u8; 4]| Workload {
        labels: [("app".to_string(), app.to_string())].into(),
        ..workload("x", name, ip)
    };
    let report = AgentReport {
        workloads: vec![
            w("a", "client", [10, 0, 0, 1]),
            w("b", "web", [10, 0, 0, 2]),
        ],
        cluster_cidrs: vec!["10.0.0.0/16".parse().unwrap()],
        host_ips: Vec::new(),
        status: AgentStatus::default(),
    };
    core.execute(Some(&admin()), Command::AgentReport("n1".into(), report))
        .unwrap();
    ingest(
        &core,
        vec![
            record("x/a", "x/b", 80, Verdict::Allowed, 1, 1_000_000),
            record("x/a", "x/b", 22, Verdict::Allowed, 1, 1_000_000),
            record("x/gone", "x/b", 80, Verdict::Allowed, 1, 1_000_000),
        ],
    );
    // Only port 80 is allowed into app=web: the port 22 flow would be denied.
    let files = vec![PolicyFile {
        name: "web.yaml".into(),
        text: policy_yaml("web", 80),
    }];
    let req = bulkhead_api::ReplayRequest {
        files,
        since: None,
        workload: None,
    };
    let Outcome::Replayed(r) = core.execute(Some(&admin()), Command::Replay(req)).unwrap() else {
        panic!()
    };
    assert_eq!((r.evaluated, r.unresolved, r.denied.len()), (2, 1, 1));
    assert_eq!(
        (r.denied[0].port, r.denied[0].verdict),
        (22, Verdict::WouldDeny)
    );
    assert_eq!(
        r.denied[0].rule.as_deref(),
        Some("x/web default-deny ingress")
    );
    assert_eq!(core.current_revision(), 1, "replay stores nothing");
}
