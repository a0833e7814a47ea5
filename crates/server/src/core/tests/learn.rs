//! Baselines over the stored flow windows, and violations (drift) with their metrics.
use super::inventory::workload;
use super::*;
use bulkhead_api::{BaselineRequest, ReplayRequest, ViolationQuery};
use bulkhead_policy::baseline::Format;

/// x/a (app=client) calls x/b (app=web) on 80; x/c (app=other) was denied on 80.
fn shop(core: &Core) {
    let report = AgentReport {
        workloads: vec![
            workload("x", "a", [10, 0, 0, 1]),
            workload("x", "b", [10, 0, 0, 2]),
            workload("x", "c", [10, 0, 0, 3]),
        ],
        cluster_cidrs: vec!["10.0.0.0/16".parse().unwrap()],
        host_ips: vec!["10.0.0.254".parse().unwrap()],
        status: AgentStatus::default(),
    };
    core.execute(Some(&admin()), Command::AgentReport("n1".into(), report))
        .unwrap();
    ingest(
        core,
        vec![
            record("x/a", "x/b", 80, Verdict::Allowed, 3, 1_000_000),
            record("x/a", "x/b", 80, Verdict::Allowed, 2, 1_200_000),
            record("10.0.0.254", "x/b", 80, Verdict::Allowed, 1, 1_000_000),
            record("x/c", "x/b", 80, Verdict::Denied, 1, 1_000_000),
            record("x/a", "x/c", 22, Verdict::WouldDeny, 1, 1_300_000),
        ],
    );
}

fn baseline(
    core: &Core,
    req: BaselineRequest,
) -> Result<bulkhead_api::BaselineResult, ServerError> {
    match core.execute(Some(&admin()), Command::Baseline(req))? {
        Outcome::Baseline(b) => Ok(*b),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn baseline_learns_from_the_window_and_replays_clean() {
    let core = core();
    shop(&core);
    let b = baseline(&core, BaselineRequest::default()).unwrap();
    assert_eq!((b.edges, b.denied_edges), (3, 1), "a->b is one edge");
    let names: Vec<&str> = b
        .baseline
        .policies
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["baseline-a", "baseline-b", "baseline-c"]);
    let web = &b.baseline.policies[1];
    assert_eq!(
        web.ingress.len(),
        2,
        "from x/a and from the host; never from the denied x/c"
    );
    assert_eq!(web.ingress.iter().map(|r| r.evidence.flows).sum::<u64>(), 3);
    assert!(b.yaml.contains("- action: allow"), "{}", b.yaml);

    // Replaying the baseline over what it learned from denies only what was denied.
    let files = vec![PolicyFile {
        name: "baseline.yaml".into(),
        text: b.yaml.clone(),
    }];
    let req = ReplayRequest {
        files: files.clone(),
        since: None,
        workload: None,
    };
    let Outcome::Replayed(r) = core.execute(Some(&admin()), Command::Replay(req)).unwrap() else {
        panic!()
    };
    let denied: Vec<(&str, &str, Option<&str>)> = r
        .denied
        .iter()
        .map(|d| (d.source.as_str(), d.destination.as_str(), d.rule.as_deref()))
        .collect();
    assert_eq!(
        denied,
        [("x/c", "x/b", Some("x/baseline-c default-deny egress"))]
    );

    // It applies as is, and the Kubernetes form parses too.
    let stored = apply(&core, &[("baseline.yaml", &b.yaml)]).unwrap();
    assert_eq!(stored.policies.len(), 3);
    let req = BaselineRequest {
        format: Format::Kubernetes,
        ..BaselineRequest::default()
    };
    let k = baseline(&core, req).unwrap();
    let parsed = bulkhead_policy::parse_documents("k.yaml", &k.yaml).unwrap();
    assert!(
        parsed
            .iter()
            .all(|p| p.kind == bulkhead_policy::ir::PolicyKind::Kubernetes)
    );
}

#[test]
fn baseline_of_chosen_workloads_in_a_window() {
    let core = core();
    shop(&core);
    let req = BaselineRequest {
        workloads: vec!["x/b".parse().unwrap()],
        since: Some("1970-01-01T00:20:00Z".parse().unwrap()),
        ..BaselineRequest::default()
    };
    let b = baseline(&core, req).unwrap();
    assert_eq!(b.baseline.policies.len(), 1);
    let rules = &b.baseline.policies[0].ingress;
    assert_eq!(rules.len(), 1, "only x/a's later flow is in the window");
    assert_eq!(rules[0].evidence.flows, 1);
    let req = BaselineRequest {
        workloads: vec!["x/nope".parse().unwrap()],
        ..BaselineRequest::default()
    };
    assert_eq!(baseline(&core, req).unwrap_err().status(), 404);
    let req = BaselineRequest {
        outside_prefix: Some(33),
        ..BaselineRequest::default()
    };
    assert_eq!(baseline(&core, req).unwrap_err().status(), 422);
}

#[test]
fn violations_are_listed_and_counted() {
    let core = core();
    shop(&core);
    let list = |q: ViolationQuery| match core
        .execute(Some(&admin()), Command::Violations(q))
        .unwrap()
    {
        Outcome::Violations(p) => p,
        other => panic!("unexpected {other:?}"),
    };
    let all = list(ViolationQuery::default());
    let v: Vec<(&str, Verdict)> = all
        .violations
        .iter()
        .map(|r| (r.destination.as_str(), r.verdict))
        .collect();
    assert_eq!(v, [("x/b", Verdict::Denied), ("x/c", Verdict::WouldDeny)]);
    assert!(all.violations[0].rule.is_some(), "each names its rule");
    let page = list(ViolationQuery {
        limit: Some(1),
        ..ViolationQuery::default()
    });
    assert_eq!(page.violations.len(), 1);
    let rest = list(ViolationQuery {
        cursor: page.next_cursor,
        ..ViolationQuery::default()
    });
    assert_eq!(rest.violations.len(), 1);
    let b_only = list(ViolationQuery {
        workload: Some("x/c".into()),
        since: Some("1970-01-01T00:21:00Z".parse().unwrap()),
        ..ViolationQuery::default()
    });
    assert_eq!(b_only.violations.len(), 1);

    let Outcome::Metrics(text) = core.execute(Some(&admin()), Command::Metrics).unwrap() else {
        panic!()
    };
    assert!(
        text.contains("bulkhead_violations_total{verdict=\"denied\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("bulkhead_violations_total{verdict=\"would-deny\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("bulkhead_violation_edges 2\n"), "{text}");
    // Another denied connection on the same edge counts, without a new edge.
    ingest(
        &core,
        vec![record("x/c", "x/b", 80, Verdict::Denied, 1, 1_400_000)],
    );
    let Outcome::Metrics(text) = core.execute(Some(&admin()), Command::Metrics).unwrap() else {
        panic!()
    };
    assert!(
        text.contains("bulkhead_violations_total{verdict=\"denied\"} 2\n"),
        "{text}"
    );
    assert!(text.contains("bulkhead_violation_edges 2\n"), "{text}");
}

#[test]
fn replay_names_the_deny_rule_or_the_default_deny_of_each_denied_flow() {
    let core = core();
    shop(&core);
    let text = "apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata: {name: guard, namespace: x}\n\
        spec:\n  selector: {matchLabels: {app: b}}\n  ingress:\n    - action: deny\n      from:\n        - selector: {matchLabels: {app: a}}\n    - action: allow\n\
        ---\napiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata: {name: lock, namespace: x}\n\
        spec:\n  selector: {matchLabels: {app: c}}\n  ingress: []\n";
    let files = vec![PolicyFile {
        name: "p.yaml".into(),
        text: text.into(),
    }];
    let req = ReplayRequest {
        files,
        since: None,
        workload: None,
    };
    let Outcome::Replayed(r) = core.execute(Some(&admin()), Command::Replay(req)).unwrap() else {
        panic!()
    };
    let denied: Vec<(&str, &str, Option<&str>)> = r
        .denied
        .iter()
        .map(|d| (d.source.as_str(), d.destination.as_str(), d.rule.as_deref()))
        .collect();
    assert_eq!(
        denied,
        [
            ("x/a", "x/b", Some("x/guard ingress[0] (deny)")),
            ("x/a", "x/c", Some("x/lock default-deny ingress")),
        ]
    );
}
