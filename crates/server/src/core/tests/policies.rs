//! Policies: versions, audit, validation, documents, roles.
use super::*;

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
