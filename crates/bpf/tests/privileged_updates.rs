//! Updates of compiled programs, applied one after another by one long-lived process
//! (the agent's way): each writes exactly the entries that differ from the previous
//! program, real packets follow every program, and what the maps hold at the end is
//! what a process starting from scratch would have written.

mod common;

use bulkhead_bpf::EbpfDataplane;
use bulkhead_compile::ebpf::{NodeMaps, PolicyEntry, assign_ids, node_maps};
use bulkhead_compile::{Input, Outcome, Program, compile, synthetic};
use bulkhead_dataplane::{ApplyReport, Dataplane};
use bulkhead_ebpf_common::{EndpointValue, PolicyValue};
use bulkhead_policy::ir::{PolicySet, PortMatch};
use bulkhead_policy::{Inventory, Mode, WorkloadId};
use common::Node;
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const NAMES: [&str; 5] = ["w0", "w1", "w2", "w3", "w4"];

struct Setup {
    policies: PolicySet,
    inventory: Inventory,
    interfaces: BTreeMap<WorkloadId, String>,
}

/// The compiler's synthetic input for five workloads, at the node's addresses.
fn setup(node: &Node) -> Setup {
    let s = synthetic::scale(NAMES.len(), 2);
    let mut inventory = s.inventory;
    let mut interfaces = BTreeMap::new();
    for (w, n) in inventory.workloads.iter_mut().zip(&node.workloads) {
        w.ips = vec![n.ip];
        interfaces.insert(w.id.clone(), n.interface.clone());
    }
    Setup {
        policies: s.policies,
        inventory,
        interfaces,
    }
}

fn build(
    s: &Setup,
    policies: &PolicySet,
    inventory: &Inventory,
    modes: &[(usize, Mode)],
) -> Program {
    let modes = modes
        .iter()
        .map(|(i, m)| (s.inventory.workloads[*i].id.clone(), *m))
        .collect();
    let input = Input {
        policies,
        inventory,
        node: None,
        modes: &modes,
        interfaces: &s.interfaces,
    };
    compile(&input).unwrap()
}

/// Workload `i`'s ingress from its peers moved from 8080 to 8081.
fn moved(s: &Setup, i: usize) -> PolicySet {
    let mut p = s.policies.clone();
    for pol in &mut p.policies {
        if pol.name.name == format!("w{i}")
            && let Some(rules) = pol.ingress.as_mut()
            && let Some(ports) = rules[0].ports.as_mut()
        {
            ports[0].port = PortMatch::Range(8081, 8081);
        }
    }
    p
}

type Flat = (
    BTreeMap<(u32, PolicyEntry), PolicyValue>,
    BTreeMap<String, EndpointValue>,
    BTreeMap<Ipv4Net, u32>,
);

fn flat(m: &NodeMaps) -> Flat {
    let mut policy = BTreeMap::new();
    let mut endpoints = BTreeMap::new();
    for e in &m.endpoints {
        for (k, v) in &e.policy {
            policy.insert((e.value.id, *k), *v);
        }
        endpoints.insert(e.interface.clone(), e.value);
    }
    (policy, endpoints, m.ipcache.clone())
}

/// (written, removed) to turn the entries of `a` into those of `b`.
fn changes(a: &Flat, b: &Flat) -> (usize, usize) {
    fn diff<K: Ord, V: PartialEq>(a: &BTreeMap<K, V>, b: &BTreeMap<K, V>) -> (usize, usize) {
        let written = b.iter().filter(|(k, v)| a.get(k) != Some(v)).count();
        let removed = a.keys().filter(|k| !b.contains_key(k)).count();
        (written, removed)
    }
    let d = [diff(&a.0, &b.0), diff(&a.1, &b.1), diff(&a.2, &b.2)];
    (d.iter().map(|x| x.0).sum(), d.iter().map(|x| x.1).sum())
}

/// Every other workload → `to` on both ports, TCP: as `program` says.
fn verdicts_follow(node: &Node, program: &Program, to: usize) {
    for from in (0..NAMES.len()).filter(|&f| f != to) {
        for port in [8080, 8081] {
            let (src, dst) = (node.workloads[from].ip, node.workloads[to].ip);
            let want = program.check(src, dst, 6, port).outcome() != Outcome::Denied;
            let (f, t) = (NAMES[from], NAMES[to]);
            // A short attempt first; a disagreement is given the patient one.
            let mut got = node.tcp_once(f, t, port, Duration::from_millis(300));
            if got != want {
                got = node.tcp(f, t, port);
            }
            assert_eq!(got, want, "{f} → {t}:{port}");
        }
    }
}

#[test]
fn privileged_compiled_updates_write_exactly_the_changed_entries() {
    let node = Node::new(&NAMES, &[8080, 8081]);
    let s = setup(&node);
    let base = build(&s, &s.policies, &s.inventory, &[]);
    let mut fewer = s.inventory.clone();
    fewer.workloads.pop();
    // (what changes, the program, the workload whose verdicts to probe)
    let steps: Vec<(&str, Program, usize)> = vec![
        ("first", base.clone(), 2),
        (
            "w2's port moves",
            build(&s, &moved(&s, 2), &s.inventory, &[]),
            2,
        ),
        ("w2's port moves back", base.clone(), 2),
        (
            "w1 monitors",
            build(&s, &s.policies, &s.inventory, &[(1, Mode::Monitor)]),
            1,
        ),
        ("w4 leaves", build(&s, &s.policies, &fewer, &[]), 3),
        ("w4 returns", base.clone(), 4),
        ("the same again", base.clone(), 0),
    ];
    let mut dp = EbpfDataplane::open(&node.netns).unwrap();
    let mut ids = BTreeMap::new();
    let mut before: Flat = Default::default();
    for (what, program, probe) in &steps {
        ids = assign_ids(&ids, program);
        let after = flat(&node_maps(program, &ids).unwrap());
        if *what == "w2's port moves" {
            // Only w2's own policy entries differ: nothing of the other endpoints, no
            // endpoint value, no ipcache entry.
            let w2 = ids[&s.inventory.workloads[2].id];
            let changed: BTreeSet<u32> = after
                .0
                .iter()
                .filter(|(k, v)| before.0.get(k) != Some(v))
                .map(|((id, _), _)| *id)
                .chain(
                    before
                        .0
                        .keys()
                        .filter(|k| !after.0.contains_key(k))
                        .map(|k| k.0),
                )
                .collect();
            assert_eq!(changed, BTreeSet::from([w2]));
            assert_eq!((&before.1, &before.2), (&after.1, &after.2));
        }
        let r: ApplyReport = dp.apply(program).unwrap();
        assert_eq!(
            (r.elements_written, r.elements_removed),
            changes(&before, &after),
            "{what}: exactly the entries that differ"
        );
        verdicts_follow(&node, program, *probe);
        before = after;
    }
    // A new process compares whole slots with what the last program asks: nothing.
    drop(dp);
    let mut dp = EbpfDataplane::open(&node.netns).unwrap();
    let last = &steps[steps.len() - 1].1;
    for _ in 0..2 {
        let r = dp.apply(last).unwrap();
        assert_eq!((r.elements_written, r.elements_removed), (0, 0));
    }
    verdicts_follow(&node, last, 2);
}
