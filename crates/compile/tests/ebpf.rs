//! `Program` → eBPF map entries ([`bulkhead_compile::ebpf`]).
//!
//! - Golden files under `tests/golden/ebpf/` (the rendered maps of a hand-built program
//!   and of every compiler golden case); `BULKHEAD_BLESS=1` rewrites them.
//! - The maps interpreted the way the TC program reads them (ipcache longest prefix,
//!   policy for the peer's identity at the endpoint's prefix lengths, longest first,
//!   then the wildcard, then the endpoint default)
//!   agree with `DirectionProgram::lookup` on random programs from fixed seeds, at every
//!   interesting address, protocol and port.

mod common;

use bulkhead_compile::ebpf::{self, EndpointMaps, NodeMaps, PolicyEntry};
use bulkhead_compile::program::{
    Check, DirectionProgram, Endpoint, Identity, PortEntry, PortTable,
};
use bulkhead_compile::{Input, Program, compile};
use bulkhead_ebpf_common::{ACTION_DENY, ANY_IDENTITY, DIR_EGRESS, DIR_INGRESS, PolicyValue};
use bulkhead_policy::ir::Reason;
use bulkhead_policy::lab::LabFile;
use bulkhead_policy::{Action, Mode, PolicySet, WorkloadId, parse_documents};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn golden(name: &str, text: &str) {
    let path = golden_dir().join(format!("ebpf/{name}.txt"));
    if std::env::var_os("BULKHEAD_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with BULKHEAD_BLESS=1", path.display()));
    assert_eq!(
        text,
        want,
        "{name}: rendered maps differ from {}",
        path.display()
    );
}

fn entry(protocol: u8, first: u16, last: u16, action: Action, rule: u32) -> PortEntry {
    PortEntry {
        protocol,
        first,
        last,
        action,
        rule,
    }
}

/// Three endpoints; ranges, a protocol-0 entry, peer and wildcard tables, both
/// directions isolated on one endpoint, and one endpoint in `mode`.
fn small(mode: Mode) -> Program {
    let ep = |i: u32| Endpoint {
        workload: WorkloadId::new("x", format!("w{i}")),
        index: i,
        ips: vec![Ipv4Addr::new(10, 0, 0, 10 + i as u8)],
        interface: Some(format!("vw{i}")),
        identity: 2 + i,
        mode: if i == 1 { mode } else { Mode::Enforce },
        ingress: DirectionProgram::default(),
        egress: DirectionProgram::default(),
        fingerprint: 0,
    };
    let mut endpoints = vec![ep(0), ep(1), ep(2)];
    let i0 = &mut endpoints[0].ingress;
    i0.isolated = true;
    i0.default_rule = 7;
    i0.peers.insert(
        3,
        PortTable {
            entries: vec![
                entry(6, 23, 23, Action::Deny, 4),
                entry(6, 80, 88, Action::Allow, 2),
            ],
        },
    );
    i0.any.entries = vec![
        entry(6, 23, 23, Action::Deny, 4),
        entry(17, 53, 53, Action::Allow, 3),
    ];
    i0.peers.insert(
        5,
        PortTable {
            entries: vec![entry(0, 0, 0, Action::Allow, 5)],
        },
    );
    let e0 = &mut endpoints[0].egress;
    e0.isolated = true;
    e0.default_rule = 8;
    e0.any.entries = vec![entry(17, 0, 65535, Action::Allow, 6)];
    let e1 = &mut endpoints[1].ingress;
    e1.isolated = true;
    e1.default_rule = 7;
    e1.any.entries = vec![entry(6, 1024, 65535, Action::Allow, 1)];
    let net = |s: &str| s.parse().unwrap();
    Program {
        rules: (0..9).map(|_| Reason::NotIsolated).collect(),
        identities: (0..6)
            .map(|i| Identity {
                description: format!("id{i}"),
                workloads: vec![],
            })
            .collect(),
        ipcache: vec![
            (net("10.0.0.10/32"), 2),
            (net("10.0.0.11/32"), 3),
            (net("10.0.0.12/32"), 4),
            (net("10.0.0.0/24"), 5),
            (net("0.0.0.0/0"), 1),
        ],
        endpoints,
    }
}

fn maps_of(p: &Program) -> NodeMaps {
    let ids = ebpf::assign_ids(&BTreeMap::new(), p);
    ebpf::node_maps(p, &ids).unwrap()
}

#[test]
fn golden_small_programs() {
    golden(
        "small-enforce",
        &ebpf::render::render(&maps_of(&small(Mode::Enforce))),
    );
    golden(
        "small-monitor",
        &ebpf::render::render(&maps_of(&small(Mode::Monitor))),
    );
    golden(
        "small-learn",
        &ebpf::render::render(&maps_of(&small(Mode::Learn))),
    );
}

/// Every compiler golden case (a directory with a lab), rendered per node.
#[test]
fn golden_compiled_cases() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("lab.yaml").is_file())
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    for case in cases {
        let read = |name: &str| std::fs::read_to_string(case.join(name)).unwrap();
        let lab = LabFile::parse("lab.yaml", &read("lab.yaml")).unwrap();
        let policies =
            PolicySet::new(parse_documents("policies.yaml", &read("policies.yaml")).unwrap())
                .unwrap();
        let (inventory, interfaces, modes) =
            (lab.inventory(), lab.host_interfaces(), BTreeMap::new());
        let mut out = String::new();
        for node in &lab.nodes {
            let program = compile(&Input {
                policies: &policies,
                inventory: &inventory,
                node: Some(&node.name),
                modes: &modes,
                interfaces: &interfaces,
            })
            .unwrap();
            let maps = maps_of(&program);
            assert_agrees(
                &program,
                &maps,
                &probe_addresses(&program),
                &[0, 1, 22, 23, 53, 79, 80, 81, 443, 8080, 65535],
            );
            out.push_str(&format!("## node {}\n", node.name));
            out.push_str(&ebpf::render::render(&maps));
        }
        golden(&case.file_name().unwrap().to_string_lossy(), &out);
    }
}

#[test]
fn interface_less_endpoints_and_full_maps_are_rejected_before_the_kernel() {
    let mut p = small(Mode::Enforce);
    p.endpoints[2].interface = None;
    let ids = ebpf::assign_ids(&BTreeMap::new(), &p);
    let err = ebpf::node_maps(&p, &ids).unwrap_err();
    assert!(err.to_string().contains("x/w2"), "{err}");
    let full = ebpf::check_capacity(
        "policy",
        1 << 20,
        bulkhead_ebpf_common::capacity::POLICY_PER_SLOT,
    );
    assert!(full.is_err());
}

#[test]
fn endpoint_ids_survive_additions_and_removals() {
    let p = small(Mode::Enforce);
    let first = ebpf::assign_ids(&BTreeMap::new(), &p);
    assert_eq!(first.values().copied().collect::<Vec<_>>(), vec![0, 1, 2]);
    // w0 leaves, a new w00 (sorting first) arrives: w1 and w2 keep their ids, w00 takes
    // the freed one.
    let mut q = p.clone();
    q.endpoints.remove(0);
    let mut new = small(Mode::Enforce).endpoints.remove(0);
    new.workload = WorkloadId::new("x", "w00");
    q.endpoints.insert(0, new);
    let second = ebpf::assign_ids(&first, &q);
    assert_eq!(second[&WorkloadId::new("x", "w1")], 1);
    assert_eq!(second[&WorkloadId::new("x", "w2")], 2);
    assert_eq!(second[&WorkloadId::new("x", "w00")], 0);
}

/// The TC program's lookup, over the rendered entries.
fn map_check(
    maps: &NodeMaps,
    e: &EndpointMaps,
    direction: u8,
    peer: Ipv4Addr,
    protocol: u8,
    port: u16,
) -> Check {
    let identity = maps
        .ipcache
        .iter()
        .filter(|(net, _)| net.contains(&peer))
        .max_by_key(|(net, _)| net.prefix_len())
        .map_or(ANY_IDENTITY, |(_, id)| *id);
    let (protocol, port) = bulkhead_ebpf_common::policy_protocol_port(protocol, port);
    // The program's walk: exact keys at the prefix lengths the endpoint lists, longest
    // first; it must find what a longest-prefix match over all entries finds.
    let lengths = e.value.port_lengths[usize::from(direction)];
    let lpm = |identity: u32| -> Option<PolicyValue> {
        let walk = (0..=16u8)
            .rev()
            .filter(|b| lengths & (1 << b) != 0)
            .find_map(|bits| {
                let key = PolicyEntry {
                    direction,
                    protocol,
                    identity,
                    port: bulkhead_ebpf_common::mask_port(port, bits),
                    port_bits: bits,
                };
                e.policy.get(&key).copied()
            });
        let longest = e
            .policy
            .iter()
            .filter(|(k, _)| {
                k.direction == direction && k.protocol == protocol && k.identity == identity
            })
            .filter(|(k, _)| covers(k, port))
            .max_by_key(|(k, _)| k.port_bits)
            .map(|(_, v)| *v);
        assert_eq!(walk, longest, "the length walk is a longest-prefix match");
        walk
    };
    let hit = if identity != ANY_IDENTITY {
        lpm(identity)
    } else {
        None
    }
    .or_else(|| lpm(ANY_IDENTITY));
    match hit {
        Some(v) => Check {
            action: if v.action == ACTION_DENY {
                Action::Deny
            } else {
                Action::Allow
            },
            rule: v.rule,
        },
        None if e.value.is_isolated(direction) => Check {
            action: Action::Deny,
            rule: e.value.default_rule[usize::from(direction)],
        },
        None => Check {
            action: Action::Allow,
            rule: 0,
        },
    }
}

fn covers(k: &PolicyEntry, port: u16) -> bool {
    let shift = 16 - u32::from(k.port_bits);
    shift == 16 || (u32::from(port) >> shift) == (u32::from(k.port) >> shift)
}

fn probe_addresses(p: &Program) -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = p
        .ipcache
        .iter()
        .flat_map(|(n, _)| [n.network(), n.broadcast()])
        .collect();
    out.extend(["8.8.8.8", "10.0.0.99", "192.168.1.1"].map(|a| a.parse::<Ipv4Addr>().unwrap()));
    out.sort();
    out.dedup();
    out
}

fn assert_agrees(p: &Program, maps: &NodeMaps, addresses: &[Ipv4Addr], ports: &[u16]) {
    for (ep, em) in p.endpoints.iter().zip(&maps.endpoints) {
        assert_eq!(em.value.mode, ebpf::mode(ep.mode));
        for (dir, table) in [(DIR_INGRESS, &ep.ingress), (DIR_EGRESS, &ep.egress)] {
            for &peer in addresses {
                for protocol in [6u8, 17, 132, 1] {
                    for &port in ports {
                        let (lp, lport) =
                            bulkhead_ebpf_common::policy_protocol_port(protocol, port);
                        let want = table.lookup(p.identity_of(peer), lp, lport);
                        let got = map_check(maps, em, dir, peer, protocol, port);
                        assert_eq!(
                            got, want,
                            "{} dir {dir} peer {peer} proto {protocol} port {port}",
                            ep.workload
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn maps_decide_like_the_program_on_random_inputs() {
    for seed in 0..60 {
        let case = common::random::case(seed);
        let mut program = common::compile_all(&case.policies, &case.inventory);
        for e in &mut program.endpoints {
            e.interface = Some(format!("if{}", e.index));
        }
        let maps = maps_of(&program);
        let mut addresses = common::random::addresses(&case.inventory);
        addresses.extend(probe_addresses(&program));
        addresses.sort();
        addresses.dedup();
        let ports = common::random::ports(&case);
        assert_agrees(&program, &maps, &addresses, &ports);
    }
}
