//! Agents, inventory, modes, restart, replay.
use super::*;

pub(crate) fn workload(ns: &str, name: &str, ip: [u8; 4]) -> Workload {
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
