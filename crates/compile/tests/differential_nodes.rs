//! The compiler against the reference evaluator when workloads are spread over two
//! nodes and run in every mode: each node's program must decide exactly the checks of
//! its own workloads (the source's egress if the source is local, the destination's
//! ingress if the destination is), name the evaluator's reason for each, carry the
//! workload's mode, and combine them into the outcome the modes imply.
//!
//! `BULKHEAD_DIFF_SEEDS=N` runs N seeds; the failure message names the seed.

mod common;

use bulkhead_compile::program::{Check, NO_RULE};
use bulkhead_compile::{Input, Outcome, Program, compile};
use bulkhead_policy::eval::{Flow, evaluate};
use bulkhead_policy::ir::Reason;
use bulkhead_policy::{Action, Inventory, Mode, WorkloadId};
use common::random;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

const NODES: [&str; 2] = ["n1", "n2"];

fn seeds() -> u64 {
    std::env::var("BULKHEAD_DIFF_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150)
}

/// The check a node must make for one side: the evaluator's reason, in the workload's
/// mode, or nothing when the workload lives elsewhere (or there is no workload).
fn expected(
    local: Option<&WorkloadId>,
    reason: &Reason,
    modes: &BTreeMap<WorkloadId, Mode>,
) -> Option<(Reason, Mode)> {
    let w = local?;
    match reason {
        Reason::NotAWorkload | Reason::SelfTraffic => None,
        r => Some((r.clone(), modes.get(w).copied().unwrap_or_default())),
    }
}

fn actual(p: &Program, side: Option<(Check, Mode)>) -> Option<(Reason, Mode)> {
    side.map(|(c, mode)| {
        let reason = p.rule(c.rule).cloned().unwrap_or(Reason::NotAWorkload);
        // Rule 0 is "not isolated"; an allow that names it is exactly that.
        assert!(c.rule != NO_RULE || c.action == Action::Allow);
        (reason, mode)
    })
}

fn outcome(sides: &[Option<(Reason, Mode)>]) -> Outcome {
    let mut out = Outcome::Allowed;
    for (reason, mode) in sides.iter().flatten() {
        if !reason.allows() {
            out = out.max(match mode {
                Mode::Enforce => Outcome::Denied,
                Mode::Monitor => Outcome::WouldDeny,
                Mode::Learn => Outcome::Allowed,
            });
        }
    }
    out
}

fn local<'a>(inv: &'a Inventory, ip: Ipv4Addr, node: &str) -> Option<&'a WorkloadId> {
    inv.workload_by_ip(ip)
        .filter(|w| w.node.as_deref() == Some(node))
        .map(|w| &w.id)
}

#[test]
fn each_node_decides_its_own_checks_in_each_mode() {
    for seed in 0..seeds() {
        let mut case = random::case(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6e6f_6465);
        let mut modes = BTreeMap::new();
        for w in &mut case.inventory.workloads {
            w.node = Some(NODES.choose(&mut rng).unwrap().to_string());
            if rng.random_bool(0.5) {
                let mode = *[Mode::Enforce, Mode::Monitor, Mode::Learn]
                    .choose(&mut rng)
                    .unwrap();
                modes.insert(w.id.clone(), mode);
            }
        }
        let inv = &case.inventory;
        let interfaces = BTreeMap::new();
        let addresses = random::addresses(inv);
        let ports = random::ports(&case);
        for node in NODES {
            let program = compile(&Input {
                policies: &case.policies,
                inventory: inv,
                node: Some(node),
                modes: &modes,
                interfaces: &interfaces,
            })
            .unwrap();
            common::invariants::assert_well_formed(&program);
            for &src in &addresses {
                for &dst in &addresses {
                    for (protocol, port) in [6u8, 17, 132]
                        .iter()
                        .flat_map(|&p| ports.iter().map(move |&port| (p, port)))
                        .chain([(1, 0)])
                    {
                        let v = evaluate(
                            &case.policies,
                            inv,
                            &Flow {
                                src,
                                dst,
                                protocol,
                                port,
                            },
                        );
                        let (lp, lport) = if protocol == 1 {
                            (0, 0)
                        } else {
                            (protocol, port)
                        };
                        let got = program.check(src, dst, lp, lport);
                        let want_egress = expected(local(inv, src, node), &v.egress, &modes);
                        let want_ingress = expected(local(inv, dst, node), &v.ingress, &modes);
                        let got_egress = actual(&program, got.egress);
                        let got_ingress = actual(&program, got.ingress);
                        let context = || {
                            format!(
                                "seed {seed} node {node}: {src} -> {dst} {protocol}/{port}\n{}",
                                bulkhead_compile::dump::dump(&program)
                            )
                        };
                        assert_eq!(got_egress, want_egress, "egress, {}", context());
                        assert_eq!(got_ingress, want_ingress, "ingress, {}", context());
                        assert_eq!(
                            got.outcome(),
                            outcome(&[want_egress, want_ingress]),
                            "outcome, {}",
                            context()
                        );
                    }
                }
            }
        }
    }
}
