//! The compiler against the reference evaluator, on random inputs from fixed seeds.
//!
//! For every flow between the interesting addresses of a case (workloads, hosts, an
//! unused lab address, inside and outside every listed prefix), on TCP, UDP and SCTP at
//! every port boundary and on ICMP, `Program::check` must give the evaluator's verdict,
//! and each direction must name the evaluator's reason: the same rule, the same default
//! deny, "not isolated" as rule 0, and no check at all where the evaluator has nothing to
//! check (not a workload, self traffic).
//!
//! `BULKHEAD_DIFF_SEEDS=N` runs N seeds instead of the default; `BULKHEAD_DIFF_SEED=S`
//! runs only seed S (to reproduce a failure, whose message names the seed).

mod common;

use bulkhead_compile::program::{Check, NO_RULE};
use bulkhead_compile::{Outcome, Program};
use bulkhead_policy::eval::{Flow, evaluate};
use bulkhead_policy::ir::Reason;
use bulkhead_policy::{Action, Mode};
use common::random::{self, Case};
use std::net::Ipv4Addr;

const DEFAULT_SEEDS: u64 = 300;

/// The protocols probed; ICMP stands for "every other protocol".
const PROTOCOLS: [u8; 4] = [6, 17, 132, 1];

fn seeds() -> Vec<u64> {
    if let Ok(s) = std::env::var("BULKHEAD_DIFF_SEED") {
        return vec![s.parse().expect("BULKHEAD_DIFF_SEED is a number")];
    }
    let n = std::env::var("BULKHEAD_DIFF_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEEDS);
    (0..n).collect()
}

/// One direction of the program's decision against the evaluator's reason for it.
fn same_reason(p: &Program, side: Option<(Check, Mode)>, reason: &Reason) -> bool {
    match (side, reason) {
        (None, Reason::NotAWorkload | Reason::SelfTraffic) => true,
        (Some((c, _)), Reason::NotIsolated) => c.action == Action::Allow && c.rule == NO_RULE,
        (Some((c, _)), Reason::Rule { .. } | Reason::DefaultDeny { .. }) => {
            p.rule(c.rule) == Some(reason) && (c.action == Action::Allow) == reason.allows()
        }
        _ => false,
    }
}

/// Every disagreement of one case, as readable lines (empty: they agree).
fn disagreements(case: &Case, program: &Program) -> Vec<String> {
    let addresses: Vec<Ipv4Addr> = random::addresses(&case.inventory);
    let ports = random::ports(case);
    let mut out = Vec::new();
    for &src in &addresses {
        for &dst in &addresses {
            for protocol in PROTOCOLS {
                // The backends look every portless protocol up as (0, 0).
                let (lookup_protocol, probe_ports) = if protocol == 1 {
                    (0, &[0u16][..])
                } else {
                    (protocol, &ports[..])
                };
                for &port in probe_ports {
                    let flow = Flow {
                        src,
                        dst,
                        protocol,
                        port,
                    };
                    let want = evaluate(&case.policies, &case.inventory, &flow);
                    let got = program.check(src, dst, lookup_protocol, port);
                    let allowed = got.outcome() == Outcome::Allowed;
                    if allowed != want.allowed
                        || !same_reason(program, got.egress, &want.egress)
                        || !same_reason(program, got.ingress, &want.ingress)
                    {
                        let name = |s: Option<(Check, Mode)>| {
                            s.map(|(c, _)| format!("{:?} {:?}", c.action, program.rule(c.rule)))
                        };
                        out.push(format!(
                            "{src} -> {dst} proto {protocol} port {port}: evaluator allowed={} \
                             egress={} ingress={}; program allowed={allowed} egress={:?} ingress={:?}",
                            want.allowed,
                            want.egress,
                            want.ingress,
                            name(got.egress),
                            name(got.ingress),
                        ));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn compiled_programs_agree_with_the_evaluator() {
    let mut checked = 0usize;
    for seed in seeds() {
        let case = random::case(seed);
        let program = common::compile_all(&case.policies, &case.inventory);
        let bad = disagreements(&case, &program);
        assert!(
            bad.is_empty(),
            "seed {seed}: {} disagreements, first: {}\npolicies: {:#?}\ninventory: {:#?}\nprogram:\n{}",
            bad.len(),
            bad[0],
            case.policies,
            case.inventory,
            bulkhead_compile::dump::dump(&program),
        );
        checked += 1;
    }
    assert!(checked > 0);
}

/// The generator must actually reach the corners the comparison is meant to cover;
/// otherwise agreement would prove little.
#[test]
fn random_cases_cover_the_semantics() {
    let (mut deny, mut named, mut except, mut entity, mut peers_denied) = (0, 0, 0, 0, 0);
    for seed in 0..100 {
        let case = random::case(seed);
        let program = common::compile_all(&case.policies, &case.inventory);
        for p in &case.policies.policies {
            for r in p.ingress.iter().chain(p.egress.iter()).flatten() {
                deny += usize::from(r.action == Action::Deny);
                for s in r.ports.iter().flatten() {
                    named +=
                        usize::from(matches!(s.port, bulkhead_policy::ir::PortMatch::Named(_)));
                }
                for peer in r.peers.iter().flatten() {
                    match peer {
                        bulkhead_policy::ir::Peer::Cidr { except: e, .. } => {
                            except += usize::from(!e.is_empty())
                        }
                        bulkhead_policy::ir::Peer::Entity(_) => entity += 1,
                        bulkhead_policy::ir::Peer::Workloads { .. } => {}
                    }
                }
            }
        }
        peers_denied += program
            .endpoints
            .iter()
            .flat_map(|e| [&e.ingress, &e.egress])
            .flat_map(|d| d.peers.values())
            .flat_map(|t| &t.entries)
            .filter(|e| e.action == Action::Deny)
            .count();
    }
    for (what, n) in [
        ("deny rules", deny),
        ("named ports", named),
        ("excepts", except),
        ("entities", entity),
        ("per-peer denies", peers_denied),
    ] {
        assert!(n >= 20, "only {n} {what} in 100 cases");
    }
}
