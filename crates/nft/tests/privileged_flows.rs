//! The nft backend's drop and would-deny events against the real kernel: the shared
//! log chains hand the deciding rule to the flow reader through the packet mark. Probes
//! with real packets in namespaces created (and removed) by each test. Run as root.

mod common;
mod programs;

use bulkhead_compile::{Outcome, Program};
use bulkhead_dataplane::{Dataplane, FlowKind, FlowSource};
use bulkhead_nft::{NftBackend, NftFlows};
use bulkhead_policy::{Action, Mode};
use common::{Topo, probe};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const PROBES: [(u8, u16); 3] = [(6, 80), (6, 81), (17, 53)];

fn ips(t: &Topo) -> Vec<Ipv4Addr> {
    t.workloads.iter().map(|w| w.1).collect()
}

/// The rule `Program::check` says a logged packet must name: the enforcing deny that
/// drops it (egress first, as the chains run), else the first monitoring deny.
fn logged_rule(program: &Program, src: Ipv4Addr, dst: Ipv4Addr, proto: u8, port: u16) -> u32 {
    let d = program.check(src, dst, proto, port);
    let denies = |mode: Mode| {
        [d.egress, d.ingress]
            .into_iter()
            .flatten()
            .find(|(c, m)| c.action == Action::Deny && *m == mode)
            .map(|(c, _)| c.rule)
    };
    denies(Mode::Enforce)
        .or_else(|| denies(Mode::Monitor))
        .unwrap_or(0)
}

/// Two log chains serve every rule: the deciding rule travels in the connection's ct
/// mark, which NFLOG hands to the flow reader. Every probe the program denies (or, in
/// monitor mode, would deny) must come back as an event naming the rule
/// `Program::check` names, and different rules must be told apart.
#[test]
fn privileged_logged_packets_name_their_rule_from_the_ct_mark() {
    for (mode, outcome) in [
        (Mode::Enforce, Outcome::Denied),
        (Mode::Monitor, Outcome::WouldDeny),
    ] {
        let topo = Topo::new(3);
        let program = programs::sample(&ips(&topo), topo.host, mode);
        let mut b = NftBackend::new(topo.node.path()).unwrap();
        b.apply(&program).unwrap();
        let mut flows = NftFlows::open(&topo.node.path()).unwrap();
        let mut want = BTreeSet::new();
        for (from, src) in topo.participants() {
            for (_, dst) in topo.participants() {
                for (proto, port) in PROBES {
                    if src != dst && program.check(src, dst, proto, port).outcome() == outcome {
                        probe(from, dst, proto, port);
                        let rule = logged_rule(&program, src, dst, proto, port);
                        want.insert((src, dst, proto, port, rule));
                    }
                }
            }
        }
        let rules: BTreeSet<u32> = want.iter().map(|w| w.4).collect();
        assert!(
            rules.len() >= 2,
            "{mode:?}: the sample must deny by several rules"
        );
        let mut got = BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut events = Vec::new();
        while !want.is_subset(&got) && Instant::now() < deadline {
            flows.poll(&mut events, Duration::from_millis(200)).unwrap();
            for e in events.drain(..) {
                if e.kind == FlowKind::Verdict && e.outcome == outcome {
                    got.insert((e.src, e.dst, e.protocol, e.dst_port, e.rule));
                }
            }
        }
        let missing: Vec<_> = want.difference(&got).collect();
        assert!(
            missing.is_empty(),
            "{mode:?}: no event naming the right rule for {missing:?}; got {got:?}"
        );
    }
}

/// A would-deny packet that carries a mark of its own (set here by another table of the
/// node, before Bulkhead's chains) must leave Bulkhead's chains with that mark, and is
/// logged without a rule rather than with a misread one.
#[test]
fn privileged_monitored_packets_keep_their_own_mark() {
    let topo = Topo::new(3);
    let program = programs::sample(&ips(&topo), topo.host, Mode::Monitor);
    let (proto, port, dst) = PROBES
        .iter()
        .flat_map(|&(proto, port)| topo.workloads.iter().map(move |w| (proto, port, w.1)))
        .find(|&(proto, port, dst)| {
            program.check(topo.host, dst, proto, port).outcome() == Outcome::WouldDeny
        })
        .expect("the sample has a would-deny flow from the host");
    let mut b = NftBackend::new(topo.node.path()).unwrap();
    b.apply(&program).unwrap();
    let mut flows = NftFlows::open(&topo.node.path()).unwrap();
    let marks = format!(
        "table inet nftspmark {{\n\
         chain before {{ type filter hook output priority -100; ip daddr {dst} meta mark set 0x42; }}\n\
         chain after {{ type filter hook output priority 100; ip daddr {dst} meta mark 0x42 counter; }}\n\
         }}\n"
    );
    let path = std::env::temp_dir().join(format!("nftsp-marks-{}.nft", std::process::id()));
    std::fs::write(&path, marks).unwrap();
    topo.node.exec(&["nft", "-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert!(probe(&topo.node, dst, proto, port), "monitor mode passes");
    let counted = topo
        .node
        .output(&["nft", "list", "chain", "inet", "nftspmark", "after"]);
    assert!(
        !counted.contains("counter packets 0 "),
        "the packet lost its mark in Bulkhead's chains:\n{counted}"
    );
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let logged = loop {
        flows.poll(&mut events, Duration::from_millis(200)).unwrap();
        if let Some(e) = events
            .iter()
            .find(|e| e.kind == FlowKind::Verdict && e.src == topo.host && e.dst == dst)
        {
            break Some((e.outcome, e.rule));
        }
        if Instant::now() > deadline {
            break None;
        }
    };
    assert_eq!(logged, Some((Outcome::WouldDeny, 0)));
}
