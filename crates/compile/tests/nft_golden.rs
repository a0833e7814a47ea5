//! Rendered nft rulesets of small programs, checked in under `tests/golden/nft/`
//! (`BLESS=1 cargo test -p bulkhead-compile --test nft_golden` rewrites them), and the
//! ruleset's semantics, interpreted here, against `Program::check`.

use bulkhead_compile::nft::{self, ElementKey, Rule, Ruleset, Stamps, Verdict};
use bulkhead_compile::program::{DirectionProgram, Endpoint, Identity, PortEntry, PortTable};
use bulkhead_compile::{Input, Outcome, Program, compile, synthetic};
use bulkhead_policy::ir::Reason;
use bulkhead_policy::{Action, Mode, WorkloadId};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::path::PathBuf;

fn entry(protocol: u8, first: u16, last: u16, action: Action, rule: u32) -> PortEntry {
    PortEntry {
        protocol,
        first,
        last,
        action,
        rule,
    }
}

/// Three endpoints .10/.11/.12, identities 2/3/4, world 1 (0/0), a /24 CIDR identity 5.
fn small(mode: Mode) -> Program {
    let ip = |i: u8| Ipv4Addr::new(10, 0, 0, i);
    let ep = |i: u32| Endpoint {
        workload: WorkloadId::new("x", format!("w{i}")),
        index: i,
        ips: vec![ip(10 + i as u8)],
        interface: None,
        identity: 2 + i,
        mode,
        ingress: DirectionProgram::default(),
        egress: DirectionProgram::default(),
    };
    let mut endpoints = vec![ep(0), ep(1), ep(2)];
    let i0 = &mut endpoints[0].ingress;
    i0.isolated = true;
    i0.default_rule = 1;
    i0.peers.insert(
        3,
        PortTable {
            entries: vec![
                entry(6, 23, 23, Action::Deny, 4),
                entry(6, 80, 81, Action::Allow, 2),
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
    let e2 = &mut endpoints[2].egress;
    e2.any.entries = vec![
        entry(0, 0, 0, Action::Deny, 6),
        entry(6, 1, 1023, Action::Deny, 6),
    ];
    let identities = (0..6)
        .map(|i| Identity {
            description: format!("id{i}"),
            workloads: vec![],
        })
        .collect();
    let net = |s: &str| s.parse::<Ipv4Net>().unwrap();
    Program {
        rules: (0..7).map(|_| Reason::NotIsolated).collect(),
        identities,
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

fn golden(name: &str, text: &str) {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/nft/{name}.nft"));
    if std::env::var_os("BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with BLESS=1", path.display()));
    assert_eq!(
        text,
        want,
        "{name}: rendered ruleset differs from {}",
        path.display()
    );
}

fn rendered(p: &Program) -> String {
    nft::render(&nft::build(p, &Stamps::next(None, p, 1)))
}

#[test]
fn golden_enforce_monitor_learn_and_empty() {
    golden("small-enforce", &rendered(&small(Mode::Enforce)));
    golden("small-monitor", &rendered(&small(Mode::Monitor)));
    golden("small-learn", &rendered(&small(Mode::Learn)));
    let empty = Program {
        rules: vec![Reason::NotIsolated],
        identities: vec![],
        ipcache: vec![("0.0.0.0/0".parse().unwrap(), 1)],
        endpoints: vec![],
    };
    golden("empty", &rendered(&empty));
}

#[test]
fn golden_synthetic_through_the_compiler() {
    let s = synthetic::scale(4, 2);
    let (m, i) = (Default::default(), Default::default());
    let input = Input {
        policies: &s.policies,
        inventory: &s.inventory,
        node: None,
        modes: &m,
        interfaces: &i,
    };
    golden("synthetic-4-2", &rendered(&compile(&input).unwrap()));
}

/// Runs one endpoint chain on a packet, as the kernel would: `None` if it returns,
/// `Some(rule)` if it ends in a drop chain, and the would-deny rules it passed through.
fn run_chain(
    rs: &Ruleset,
    chain: &str,
    peer: Ipv4Addr,
    proto: u8,
    port: u16,
) -> (Option<u32>, Vec<u32>) {
    let mut warned = Vec::new();
    let is_l4 = matches!(proto, 6 | 17 | 132);
    let lookup = |map: &str, key: &dyn Fn(&ElementKey) -> bool| {
        rs.maps[map]
            .elements
            .iter()
            .find(|e| key(&e.key))
            .map(|e| e.verdict.clone())
    };
    let within = |a: (Ipv4Addr, Ipv4Addr)| a.0 <= peer && peer <= a.1;
    for rule in &rs.chains[chain].rules {
        let v = match rule {
            Rule::PortVmap { map, .. } => lookup(map, &|k| match *k {
                ElementKey::Concat {
                    addrs,
                    protocol,
                    ports,
                } => within(addrs) && protocol == proto && ports.0 <= port && port <= ports.1,
                _ => false,
            }),
            Rule::OtherVmap { map, .. } if !is_l4 => lookup(map, &|k| match *k {
                ElementKey::AddrRange(a, b) => within((a, b)),
                _ => false,
            }),
            Rule::AnyPortVmap { map } => lookup(map, &|k| match *k {
                ElementKey::ProtoPort { protocol, ports } => {
                    protocol == proto && ports.0 <= port && port <= ports.1
                }
                _ => false,
            }),
            Rule::OtherVerdict(v) if !is_l4 => Some(v.clone()),
            Rule::Verdict(v) => Some(v.clone()),
            _ => None,
        };
        match v {
            None => continue,
            Some(Verdict::Return) => return (None, warned),
            Some(Verdict::Goto(target)) => {
                let rule: u32 = target.rsplit('_').next().unwrap().parse().unwrap();
                match &rs.chains[&target].rules[0] {
                    Rule::Log {
                        verdict: Verdict::Drop,
                        ..
                    } => return (Some(rule), warned),
                    _ => {
                        warned.push(rule);
                        return (None, warned);
                    }
                }
            }
            Some(other) => panic!("unexpected verdict {other:?} in {chain}"),
        }
    }
    (None, warned)
}

/// The ruleset's outcome for a new connection, interpreted from the IR.
fn interpret(rs: &Ruleset, src: Ipv4Addr, dst: Ipv4Addr, proto: u8, port: u16) -> Outcome {
    let dispatch = |map: &str, ip: Ipv4Addr| {
        rs.maps[map]
            .elements
            .iter()
            .find(|e| e.key == ElementKey::Addr(ip))
            .map(|e| match &e.verdict {
                Verdict::Jump(c) => c.clone(),
                v => panic!("dispatch verdict {v:?}"),
            })
    };
    let mut out = Outcome::Allowed;
    for (map, peer) in [(nft::EGRESS_DISPATCH, dst), (nft::INGRESS_DISPATCH, src)] {
        let own = if map == nft::EGRESS_DISPATCH {
            src
        } else {
            dst
        };
        if let Some(chain) = dispatch(map, own) {
            let (dropped, warned) = run_chain(rs, &chain, peer, proto, port);
            if dropped.is_some() {
                return Outcome::Denied;
            }
            if !warned.is_empty() {
                out = Outcome::WouldDeny;
            }
        }
    }
    out
}

#[test]
fn interpreted_ruleset_agrees_with_program_check() {
    let mut programs: Vec<Program> = [Mode::Enforce, Mode::Monitor, Mode::Learn]
        .map(small)
        .into();
    let s = synthetic::scale(30, 4);
    let (m, i) = (Default::default(), Default::default());
    let input = Input {
        policies: &s.policies,
        inventory: &s.inventory,
        node: None,
        modes: &m,
        interfaces: &i,
    };
    programs.push(compile(&input).unwrap());
    for p in &programs {
        let rs = nft::build(p, &Stamps::next(None, p, 1));
        let mut addrs: Vec<Ipv4Addr> = p.endpoints.iter().flat_map(|e| e.ips.clone()).collect();
        addrs.extend(
            ["10.0.0.99", "8.8.8.8", "10.255.255.254"].map(|a| a.parse::<Ipv4Addr>().unwrap()),
        );
        for &src in &addrs {
            for &dst in addrs.iter().filter(|d| **d != src) {
                for (proto, port) in [
                    (6, 1),
                    (6, 23),
                    (6, 80),
                    (6, 81),
                    (6, 443),
                    (6, 8080),
                    (17, 53),
                    (17, 80),
                    (132, 80),
                    (0, 0),
                ] {
                    let want = p.check(src, dst, proto, port).outcome();
                    // Protocol 0 stands for "another protocol": the kernel sees, e.g., ICMP.
                    let kernel_proto = if proto == 0 { 1 } else { proto };
                    let got = interpret(&rs, src, dst, kernel_proto, port);
                    assert_eq!(got, want, "{src} -> {dst} {proto}/{port}");
                }
            }
        }
    }
}

#[test]
fn diff_from_nothing_creates_everything_and_from_itself_nothing() {
    let p = small(Mode::Enforce);
    let rs = nft::build(&p, &Stamps::next(None, &p, 1));
    let empty = Ruleset::default();
    let all = nft::diff(&empty, &rs).unwrap();
    assert_eq!(all.add_maps.len(), rs.maps.len());
    assert_eq!(all.add_chains.len(), rs.chains.len());
    assert_eq!(all.elements_written(), rs.element_count());
    assert!(nft::diff(&rs, &rs).unwrap().is_empty());
    // Unchanged rules keep their stamp; the table's generation moves on.
    let next = Stamps::next(Some((&p.rules, &Stamps::next(None, &p, 1))), &p, 2);
    assert_eq!(next.generation, 2);
    assert!(next.rules.iter().all(|g| *g == 1));
    let rs2 = nft::build(&p, &next);
    assert!(nft::diff(&rs, &rs2).unwrap().is_empty());
}
