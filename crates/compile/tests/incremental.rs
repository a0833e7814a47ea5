//! `Compiler::update` against a whole compile: after every random change, on random
//! small inputs and on the synthetic scale input (fixed seeds), the updated program must
//! equal `compile` of the changed input exactly, fingerprints included. Changes that
//! keep every policy's shape (actions, port numbers) must take the incremental path;
//! the others (peers, subjects, named ports, added or removed policies) may fall back.

mod common;

use bulkhead_compile::{Compiler, Input, Program, compile, synthetic};
use bulkhead_policy::ir::{Peer, PolicyName, PolicySet, PortMatch, PortSpec, Rule};
use bulkhead_policy::{Action, Direction, Inventory, Protocol};
use common::random;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

fn input<'a>(
    policies: &'a PolicySet,
    inventory: &'a Inventory,
    node: Option<&'a str>,
) -> Input<'a> {
    static EMPTY_MODES: BTreeMap<bulkhead_policy::WorkloadId, bulkhead_policy::Mode> =
        BTreeMap::new();
    static EMPTY_IFS: BTreeMap<bulkhead_policy::WorkloadId, String> = BTreeMap::new();
    Input {
        policies,
        inventory,
        node,
        modes: &EMPTY_MODES,
        interfaces: &EMPTY_IFS,
    }
}

/// A random rule of a random policy, if the set has any.
fn some_rule<'s>(
    rng: &mut ChaCha8Rng,
    set: &'s mut PolicySet,
) -> Option<(PolicyName, &'s mut Rule)> {
    let n = set.policies.len();
    let policy = &mut set.policies[rng.random_range(0..n)];
    let name = policy.name.clone();
    let direction = if rng.random_bool(0.5) {
        Direction::Ingress
    } else {
        Direction::Egress
    };
    let rules = match direction {
        Direction::Ingress => policy.ingress.as_mut(),
        Direction::Egress => policy.egress.as_mut(),
    }?;
    if rules.is_empty() {
        return None;
    }
    let i = rng.random_range(0..rules.len());
    Some((name, &mut rules[i]))
}

/// One random change; returns the policies it touched and whether it kept their shape.
fn change(rng: &mut ChaCha8Rng, set: &mut PolicySet, donor: &PolicySet) -> (Vec<PolicyName>, bool) {
    match rng.random_range(0..10) {
        // Shape-keeping: an action or the port numbers of one rule.
        0..=2 => match some_rule(rng, set) {
            Some((name, rule)) => {
                rule.action = match rule.action {
                    Action::Allow => Action::Deny,
                    Action::Deny => Action::Allow,
                };
                (vec![name], true)
            }
            None => (Vec::new(), true),
        },
        3..=6 => match some_rule(rng, set) {
            // Named ports are part of the shape: leave rules that have them alone.
            Some((name, rule))
                if !rule
                    .ports
                    .iter()
                    .flatten()
                    .any(|s| matches!(s.port, PortMatch::Named(_))) =>
            {
                let first = rng.random_range(0..9000u16);
                let last = first + rng.random_range(0..3u16);
                let spec = |protocol| PortSpec {
                    protocol,
                    port: PortMatch::Range(first, last),
                };
                rule.ports = match rng.random_range(0..4) {
                    0 => None,
                    1 => Some(vec![spec(Protocol::Tcp), spec(Protocol::Udp)]),
                    2 => Some(Vec::new()),
                    _ => Some(vec![spec(Protocol::Tcp)]),
                };
                (vec![name], true)
            }
            _ => (Vec::new(), true),
        },
        // Shape-changing: a rule's peers, a policy replaced, removed or added.
        7 => match some_rule(rng, set) {
            Some((name, rule)) => {
                rule.peers = match rule.peers {
                    Some(_) => None,
                    None => Some(vec![Peer::Cidr {
                        net: "10.0.0.0/28".parse().unwrap(),
                        except: vec![],
                    }]),
                };
                (vec![name], false)
            }
            None => (Vec::new(), true),
        },
        8 if set.policies.len() > 1 => {
            let i = rng.random_range(0..set.policies.len());
            let removed = set.policies.remove(i);
            (vec![removed.name], false)
        }
        _ => {
            let mut p = donor.policies[rng.random_range(0..donor.policies.len())].clone();
            p.name.name = format!("added-{}", rng.random_range(0..1_000_000u32));
            let name = p.name.clone();
            set.policies.push(p);
            (vec![name], false)
        }
    }
}

/// Applies `steps` random changes to `set`, checking each update against a whole
/// compile; returns how many took the incremental path.
fn walk(
    seed: u64,
    mut set: PolicySet,
    inventory: &Inventory,
    node: Option<&str>,
    steps: usize,
) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let donor = random::case(seed.wrapping_add(1_000)).policies;
    let mut compiler = Compiler::new();
    let first = compiler
        .compile(&input(&set, inventory, node))
        .unwrap()
        .clone();
    assert_eq!(first, compile(&input(&set, inventory, node)).unwrap());
    let mut fast = 0;
    for step in 0..steps {
        let mut changed = Vec::new();
        let mut keeps = true;
        for _ in 0..rng.random_range(1..=2) {
            let (names, kept) = change(&mut rng, &mut set, &donor);
            changed.extend(names);
            keeps &= kept;
        }
        let updated: Program = compiler
            .update(&input(&set, inventory, node), &changed)
            .unwrap()
            .clone();
        let full = compile(&input(&set, inventory, node)).unwrap();
        assert_eq!(
            updated, full,
            "seed {seed}, step {step}, changed {changed:?}"
        );
        if keeps {
            assert!(
                compiler.was_incremental(),
                "seed {seed}, step {step}: a shape-keeping change fell back"
            );
        }
        fast += usize::from(compiler.was_incremental());
    }
    fast
}

#[test]
fn updates_equal_whole_compiles_on_random_inputs() {
    let mut fast = 0;
    for seed in 0..150 {
        let case = random::case(seed);
        fast += walk(seed, case.policies, &case.inventory, None, 8);
    }
    // The property must not hold only because every update fell back.
    assert!(fast > 150, "only {fast} updates took the incremental path");
}

#[test]
fn updates_equal_whole_compiles_for_one_node() {
    for seed in 0..40 {
        let mut case = random::case(seed);
        // Half the workloads on the compiled node, so some rules go unnumbered there.
        for (i, w) in case.inventory.workloads.iter_mut().enumerate() {
            w.node = Some(if i % 2 == 0 { "n1" } else { "n2" }.into());
        }
        walk(seed, case.policies, &case.inventory, Some("n1"), 6);
    }
}

#[test]
fn updates_equal_whole_compiles_at_scale() {
    let s = synthetic::scale(400, 6);
    let fast = walk(7, s.policies, &s.inventory, None, 30);
    assert!(fast > 10, "only {fast} updates took the incremental path");
}

#[test]
fn update_without_a_change_keeps_the_program() {
    let s = synthetic::scale(50, 4);
    let mut compiler = Compiler::new();
    let before = compiler
        .compile(&input(&s.policies, &s.inventory, None))
        .unwrap()
        .clone();
    let after = compiler
        .update(&input(&s.policies, &s.inventory, None), &[])
        .unwrap();
    assert_eq!(*after, before);
    assert!(compiler.was_incremental());
}

/// Modes, interfaces and duplicate names are outside the fast path: the update must
/// fall back and still equal a whole compile.
#[test]
fn updates_fall_back_on_other_modes_and_duplicate_names() {
    let s = synthetic::scale(60, 4);
    let mut compiler = Compiler::new();
    compiler
        .compile(&input(&s.policies, &s.inventory, None))
        .unwrap();
    let mut modes = BTreeMap::new();
    modes.insert(
        s.inventory.workloads[3].id.clone(),
        bulkhead_policy::Mode::Monitor,
    );
    let interfaces = BTreeMap::new();
    let with_modes = Input {
        policies: &s.policies,
        inventory: &s.inventory,
        node: None,
        modes: &modes,
        interfaces: &interfaces,
    };
    let updated = compiler.update(&with_modes, &[]).unwrap().clone();
    assert!(!compiler.was_incremental());
    assert_eq!(updated, compile(&with_modes).unwrap());

    // Two policies named alike (a set not built by `PolicySet::new`): the port edit of
    // the second must not be applied to the first's tables.
    let mut twice = s.policies.clone();
    let mut copy = twice.policies[5].clone();
    copy.ingress = Some(vec![]);
    twice.policies.push(copy);
    compiler
        .compile(&input(&twice, &s.inventory, None))
        .unwrap();
    let name = twice.policies[5].name.clone();
    if let Some(rule) = twice.policies[5]
        .ingress
        .as_mut()
        .and_then(|r| r.first_mut())
    {
        rule.action = match rule.action {
            Action::Allow => Action::Deny,
            Action::Deny => Action::Allow,
        };
    }
    let updated = compiler
        .update(&input(&twice, &s.inventory, None), &[name])
        .unwrap()
        .clone();
    assert!(!compiler.was_incremental());
    assert_eq!(
        updated,
        compile(&input(&twice, &s.inventory, None)).unwrap()
    );
}
