//! The eBPF backend against real packets, in namespaces each test creates for itself.

mod common;

use bulkhead_bpf::{EbpfDataplane, EbpfFlows, PinDir};
use bulkhead_compile::Outcome;
use bulkhead_dataplane::{Dataplane, FlowKind, FlowSource};
use bulkhead_policy::{Action, Mode};
use common::Node;
use common::programs::{TCP, UDP, add, base, endpoint, finished, identity_of, isolate};
use std::time::Duration;

#[test]
fn privileged_policy_is_enforced_and_replies_pass() {
    let node = Node::new(&["a", "b", "c"], &[80, 81]);
    let mut dp = EbpfDataplane::open(&node.netns).unwrap();
    // Before any policy everything passes.
    assert!(node.tcp("a", "b", 80));

    let mut p = base(&node);
    let a = identity_of(&node, "a");
    // b's ingress: only a, only TCP 80 and UDP 81.
    let b = endpoint(&mut p, "b");
    isolate(&mut b.ingress, 5);
    add(&mut b.ingress, Some(a), TCP, (80, 80), Action::Allow, 1);
    add(&mut b.ingress, Some(a), UDP, (81, 81), Action::Allow, 2);
    let report = dp.apply(&finished(&p)).unwrap();
    assert_eq!(report.generation, 1);
    assert!(report.elements_written > 0);

    assert!(node.tcp("a", "b", 80), "allowed, and the reply came back");
    assert!(!node.tcp("a", "b", 81), "port not allowed");
    assert!(!node.tcp("c", "b", 80), "peer not allowed");
    assert!(node.udp("a", "b", 81), "UDP allowed, echo came back");
    assert!(!node.udp("c", "b", 81));
    // b's egress is not isolated: b reaches everyone.
    assert!(node.tcp("b", "a", 80));
    assert!(node.tcp("b", "c", 81));
    drop(dp);
}

#[test]
fn privileged_unsolicited_reverse_connections_obey_policy() {
    let node = Node::new(&["a", "b"], &[80]);
    let mut dp = EbpfDataplane::open(&node.netns).unwrap();
    let mut p = base(&node);
    let b = identity_of(&node, "b");
    // a may open connections to b:80, but accepts none: replies must still pass.
    let a = endpoint(&mut p, "a");
    isolate(&mut a.egress, 3);
    isolate(&mut a.ingress, 4);
    add(&mut a.egress, Some(b), TCP, (80, 80), Action::Allow, 1);
    add(&mut a.egress, Some(b), UDP, (80, 80), Action::Allow, 2);
    dp.apply(&finished(&p)).unwrap();
    assert!(node.tcp("a", "b", 80));
    assert!(node.udp("a", "b", 80));
    assert!(
        !node.tcp("b", "a", 80),
        "b → a is a new connection: a's ingress denies"
    );
    assert!(!node.udp("b", "a", 80));
}

#[test]
fn privileged_monitor_and_learn_pass_and_report() {
    let node = Node::new(&["a", "b"], &[80]);
    let mut dp = EbpfDataplane::open(&node.netns).unwrap();
    let mut flows = EbpfFlows::open(&node.netns).unwrap();
    let mut p = base(&node);
    let b = endpoint(&mut p, "b");
    isolate(&mut b.ingress, 7);
    b.mode = Mode::Monitor;
    let gen_monitor = dp.apply(&finished(&p)).unwrap().generation;
    assert!(node.tcp("a", "b", 80), "monitor never drops");
    let events = collect(&mut flows);
    let b_ip = node.w("b").ip;
    assert!(
        events.iter().any(|e| e.kind == FlowKind::New
            && e.outcome == Outcome::WouldDeny
            && e.dst == b_ip
            && e.dst_port == 80
            && e.rule == 7
            && e.generation == gen_monitor),
        "{events:#?}"
    );

    endpoint(&mut p, "b").mode = Mode::Learn;
    let gen_learn = dp.apply(&finished(&p)).unwrap().generation;
    assert!(node.tcp("a", "b", 80), "learn never drops");
    let events = collect(&mut flows);
    assert!(events.iter().any(|e| e.kind == FlowKind::New
        && e.outcome == Outcome::Allowed
        && e.dst == b_ip
        && e.rule == 7
        && e.generation == gen_learn));

    endpoint(&mut p, "b").mode = Mode::Enforce;
    let gen_enforce = dp.apply(&finished(&p)).unwrap().generation;
    assert!(!node.tcp("a", "b", 80));
    let events = collect(&mut flows);
    assert!(events.iter().any(|e| e.kind == FlowKind::Verdict
        && e.outcome == Outcome::Denied
        && e.dst == b_ip
        && e.rule == 7
        && e.generation == gen_enforce));
    assert_eq!(flows.lost(), 0);
}

fn collect(flows: &mut EbpfFlows) -> Vec<bulkhead_dataplane::FlowEvent> {
    let mut out = Vec::new();
    flows.poll(&mut out, Duration::from_millis(100)).unwrap();
    while flows.drain(&mut out) > 0 {}
    out
}

#[test]
fn privileged_reapply_updates_in_place() {
    let node = Node::new(&["a", "b"], &[80, 81]);
    let mut dp = EbpfDataplane::open(&node.netns).unwrap();
    let mut p = base(&node);
    let a = identity_of(&node, "a");
    {
        let b = endpoint(&mut p, "b");
        isolate(&mut b.ingress, 3);
        add(&mut b.ingress, Some(a), TCP, (80, 80), Action::Allow, 1);
    }
    let first = dp.apply(&finished(&p)).unwrap();
    assert!(node.tcp("a", "b", 80));
    assert!(!node.tcp("a", "b", 81));
    // Move the allowed port: only that endpoint's entries change.
    {
        let b = endpoint(&mut p, "b");
        b.ingress.peers.clear();
        add(&mut b.ingress, Some(a), TCP, (81, 81), Action::Allow, 1);
    }
    let second = dp.apply(&finished(&p)).unwrap();
    assert_eq!(second.generation, first.generation + 1);
    assert_eq!((second.elements_written, second.elements_removed), (1, 1));
    assert!(!node.tcp("a", "b", 80));
    assert!(node.tcp("a", "b", 81));
    // The same program again writes nothing.
    let third = dp.apply(&finished(&p)).unwrap();
    assert_eq!((third.elements_written, third.elements_removed), (0, 0));
}

#[test]
fn privileged_pins_survive_the_process_and_are_taken_over() {
    let node = Node::new(&["a", "b"], &[80, 81]);
    let mut p = base(&node);
    let a = identity_of(&node, "a");
    {
        let b = endpoint(&mut p, "b");
        isolate(&mut b.ingress, 3);
        add(&mut b.ingress, Some(a), TCP, (80, 80), Action::Allow, 1);
    }
    let first_prog = {
        let mut dp = EbpfDataplane::open(&node.netns).unwrap();
        dp.apply(&finished(&p)).unwrap();
        dp.program_ids()
    };
    // The process's handles are gone; pins keep enforcing.
    assert!(node.tcp("a", "b", 80));
    assert!(!node.tcp("a", "b", 81));
    // Two interfaces, two hooks each.
    let links = common::tcx_links(&first_prog);
    assert_eq!(links.len(), 4, "{links:?}");

    let mut dp = EbpfDataplane::open(&node.netns).unwrap();
    assert_eq!(dp.generation(), 1, "the generation in force was read back");
    assert_ne!(dp.program_ids(), first_prog);
    // Enforcement continues before the new process applies anything.
    assert!(!node.tcp("a", "b", 81));
    let r = dp.apply(&finished(&p)).unwrap();
    assert_eq!(
        (r.elements_written, r.elements_removed),
        (0, 0),
        "nothing to rewrite"
    );
    // The very same links (never detached) now run the new process's programs, and
    // the old programs are gone.
    let ids = dp.program_ids();
    let now = common::tcx_links(&ids);
    let link_ids = |l: &[(u64, u32)]| l.iter().map(|x| x.0).collect::<Vec<_>>();
    assert_eq!(link_ids(&now), link_ids(&links));
    assert!(common::tcx_links(&first_prog).is_empty());
    assert!(common::eventually(|| !first_prog
        .iter()
        .any(|&id| common::prog_loaded(id))));
    assert!(!node.tcp("a", "b", 81));
    assert!(node.tcp("a", "b", 80));
}

#[test]
fn privileged_remove_cleans_everything() {
    let node = Node::new(&["a", "b"], &[80]);
    let mut dp = EbpfDataplane::open(&node.netns).unwrap();
    let mut p = base(&node);
    isolate(&mut endpoint(&mut p, "b").ingress, 2);
    dp.apply(&finished(&p)).unwrap();
    assert!(!node.tcp("a", "b", 80));
    let progs = dp.program_ids();
    assert_eq!(common::tcx_links(&progs).len(), 4);
    dp.remove().unwrap();
    dp.remove().unwrap();
    assert!(
        dp.apply(&finished(&p)).is_err(),
        "a removed dataplane does not apply"
    );
    drop(dp);
    assert!(!PinDir::for_netns(&node.netns).path().exists());
    assert!(
        common::eventually(|| common::tcx_links(&progs).is_empty()),
        "no link left"
    );
    assert!(
        common::eventually(|| !progs.iter().any(|&id| common::prog_loaded(id))),
        "programs unloaded"
    );
    assert!(node.tcp("a", "b", 80));
}
