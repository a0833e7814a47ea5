//! The planner against the whole path ([`crate::enforce::plan`]) over sequences of
//! revisions: after every step the program, rule table and flow context must be what
//! parsing and compiling everything gives, and policy-only edits must parse only the
//! documents that changed and take the compiler's incremental path.

use super::*;
use crate::enforce::plan;
use crate::synthetic::{desired, on_nodes};
use bulkhead_compile::synthetic::{Synthetic, scale};
use bulkhead_policy::ir::{Policy, PortMatch};
use bulkhead_policy::{Action, Mode, WorkloadId};

const NODE: &str = "n0";

/// A small synthetic cluster on two nodes, as node `n0` sees it.
fn start() -> (Synthetic, DesiredState, Arc<Snapshot>) {
    let s = scale(240, 5);
    let (d, snap) = on_nodes(&s, 2, 1).expect("synthetic documents");
    (s, d, Arc::new(snap))
}

/// `s`'s policies rendered again into `d` (the inventory and modes of `d` stay).
fn republish(s: &Synthetic, d: &mut DesiredState) {
    d.revision += 1;
    d.policies = desired(s, d.revision)
        .expect("synthetic documents")
        .policies;
}

fn policy<'a>(s: &'a mut Synthetic, name: &str) -> &'a mut Policy {
    let p = s
        .policies
        .policies
        .iter_mut()
        .find(|p| p.name.to_string() == name);
    p.unwrap_or_else(|| panic!("no policy {name}"))
}

/// Sets the port of `name`'s first ingress rule.
fn set_port(s: &mut Synthetic, name: &str, port: u16) {
    let rules = policy(s, name).ingress.as_mut().expect("ingress");
    rules[0].ports = Some(vec![bulkhead_policy::ir::PortSpec {
        protocol: bulkhead_policy::Protocol::Tcp,
        port: PortMatch::Range(port, port),
    }]);
}

/// Plans `d`, checks it against the whole path, and returns (incremental, parses).
fn step(p: &mut Planner, d: &DesiredState, snap: &Arc<Snapshot>, what: &str) -> (bool, u64) {
    let before = p.parses();
    let (want, want_ctx) = plan(NODE, d, snap).unwrap_or_else(|e| panic!("{what}: {e}"));
    let got = p.plan(d, snap).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        *got.program == want,
        "{what}: the planner's program differs from a whole compile"
    );
    assert_eq!(*got.rules, want.rules, "{what}: rule table");
    let ctx = &got.context;
    assert_eq!(
        *ctx.policies, *want_ctx.policies,
        "{what}: context policies"
    );
    assert_eq!(ctx.inventory(), want_ctx.inventory(), "{what}: inventory");
    assert_eq!(*ctx.modes, *want_ctx.modes, "{what}: modes");
    assert_eq!(
        ctx.default_mode, want_ctx.default_mode,
        "{what}: default mode"
    );
    (p.was_incremental(), p.parses() - before)
}

#[test]
fn every_step_of_a_sequence_equals_a_whole_compile() {
    let (mut s, mut d, mut snap) = start();
    let mut p = Planner::new(NODE);
    let n = d.policies.len() as u64;
    assert_eq!(step(&mut p, &d, &snap, "first"), (false, n));

    d.revision += 1;
    assert_eq!(step(&mut p, &d, &snap, "nothing changed"), (true, 0));

    set_port(&mut s, "ns0/w0", 9090);
    republish(&s, &mut d);
    assert_eq!(step(&mut p, &d, &snap, "one port"), (true, 1));

    policy(&mut s, "deny-telnet")
        .ingress
        .as_mut()
        .expect("rules")[0]
        .action = Action::Allow;
    set_port(&mut s, "ns1/w101", 7070);
    republish(&s, &mut d);
    assert_eq!(step(&mut p, &d, &snap, "an action and a port"), (true, 2));

    let mut added = policy(&mut s, "ns0/w2").clone();
    added.name.name = "w2-extra".into();
    s.policies.policies.push(added);
    s.policies.policies.sort_by(|a, b| a.name.cmp(&b.name));
    republish(&s, &mut d);
    assert_eq!(step(&mut p, &d, &snap, "added").1, 1);
    assert!(p.asked_update(), "added: only policies changed");

    s.policies
        .policies
        .retain(|p| p.name.to_string() != "ns0/w4");
    republish(&s, &mut d);
    assert_eq!(step(&mut p, &d, &snap, "removed").1, 0);
    assert!(p.asked_update(), "removed: only policies changed");

    policy(&mut s, "ns0/w6").name.name = "w6-renamed".into();
    s.policies.policies.sort_by(|a, b| a.name.cmp(&b.name));
    republish(&s, &mut d);
    assert_eq!(step(&mut p, &d, &snap, "renamed").1, 1);
    assert!(p.asked_update(), "renamed: only policies changed");

    // Inventory: a remote workload's labels, and a new local workload.
    let remote = d
        .inventory
        .workloads
        .iter_mut()
        .find(|w| w.node.as_deref() == Some("n1"));
    let remote = remote.expect("a remote workload");
    remote.labels.insert("app".into(), "w0".into());
    d.revision += 1;
    assert_eq!(step(&mut p, &d, &snap, "remote labels"), (false, 0));
    assert!(!p.asked_update(), "the inventory changed");
    let mut new = snap.workloads[0].clone();
    new.id = WorkloadId::new("ns0", "fresh");
    new.ips = vec![std::net::Ipv4Addr::new(10, 9, 9, 9)];
    let local = Arc::make_mut(&mut snap);
    local.workloads.push(new);
    local.workloads.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(step(&mut p, &d, &snap, "local workload added"), (false, 0));
    // A new snapshot alike in every compile input: compared, not just recognised.
    Arc::make_mut(&mut snap).guarded = vec!["10.9.0.0/16".parse().expect("net")];
    assert_eq!(step(&mut p, &d, &snap, "guarded ranges only"), (true, 0));
    let iface = Arc::make_mut(&mut snap).interfaces.values_mut().next();
    iface.expect("an interface").push_str("-new");
    assert_eq!(step(&mut p, &d, &snap, "an interface"), (false, 0));

    set_port(&mut s, "ns0/w8", 6060);
    republish(&s, &mut d);
    assert_eq!(step(&mut p, &d, &snap, "port after inventory"), (true, 1));

    let local = snap.workloads[1].id.clone();
    d.modes.insert(local, Mode::Monitor);
    d.revision += 1;
    assert_eq!(step(&mut p, &d, &snap, "a mode"), (false, 0));
    d.default_mode = Mode::Learn;
    d.revision += 1;
    assert_eq!(step(&mut p, &d, &snap, "the default mode"), (false, 0));

    set_port(&mut s, "ns0/w8", 6061);
    republish(&s, &mut d);
    assert_eq!(step(&mut p, &d, &snap, "port after modes"), (true, 1));
}

#[test]
fn a_parse_error_changes_nothing_and_the_next_revision_is_right() {
    let (mut s, mut d, snap) = start();
    let mut p = Planner::new(NODE);
    step(&mut p, &d, &snap, "first");
    let good = d.clone();

    // One edit that parses, one that does not: neither may stick.
    set_port(&mut s, "ns0/w0", 9090);
    republish(&s, &mut d);
    let bad = d.policies.iter_mut().find(|x| x.name == "ns1/w100");
    bad.expect("policy").source.push_str("  bogus: [\n");
    let err = p.plan(&d, &snap).err().expect("a parse error");
    assert!(matches!(err, Error::Policy(_)), "{err}");
    assert!(err.to_string().contains("ns1-w100.yaml"), "{err}");

    // The revision before the error is still what the planner holds.
    assert_eq!(step(&mut p, &good, &snap, "good again"), (true, 0));
    // The good edit of the failed revision is parsed when it comes again.
    republish(&s, &mut d);
    assert_eq!(step(&mut p, &d, &snap, "after the error"), (true, 1));
}

#[test]
fn documents_named_twice_are_refused_like_the_whole_path() {
    let (_, mut d, snap) = start();
    let twice = d.policies[3].clone();
    d.policies.push(twice);
    let whole = plan(NODE, &d, &snap)
        .err()
        .expect("refused by the whole path");
    let err = Planner::new(NODE).plan(&d, &snap).err().expect("refused");
    assert!(matches!(
        (&err, whole),
        (Error::Policy(_), Error::Policy(_))
    ));
    assert!(err.to_string().contains("defined twice"), "{err}");
}

#[test]
fn edits_while_older_contexts_are_held_equal_a_whole_compile() {
    let (mut s, mut d, snap) = start();
    let mut p = Planner::new(NODE);
    step(&mut p, &d, &snap, "first");
    // Held contexts keep the spare set shared, so it is copied; released, it is
    // brought up to date in place. Both must give the same sets.
    let mut held = Vec::new();
    for (i, name) in ["ns0/w0", "ns0/w2", "ns0/w0", "ns1/w100", "ns0/w2"]
        .iter()
        .enumerate()
    {
        set_port(&mut s, name, 5000 + i as u16);
        republish(&s, &mut d);
        assert_eq!(step(&mut p, &d, &snap, name), (true, 1));
        if i % 2 == 0 {
            held.push(p.plan(&d, &snap).expect("again").context);
        } else {
            held.clear();
        }
    }
}
