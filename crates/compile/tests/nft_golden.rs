//! Rendered nft rulesets of small programs, checked in under `tests/golden/nft/`
//! (`BLESS=1 cargo test -p bulkhead-compile --test nft_golden` rewrites them), and the
//! ruleset's semantics, interpreted here, against `Program::check`.

use bulkhead_compile::nft::decision::{Decision, KIND_MASK};
use bulkhead_compile::nft::{
    self, AddrField, ChainName, ElementKey, Hook, Kind, Level, MapId, Rule, Ruleset, Stamps, Value,
    Verdict,
};
use bulkhead_compile::program::{DirectionProgram, Endpoint, Identity, PortEntry, PortTable};
use bulkhead_compile::{Outcome, Program, synthetic};
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
        fingerprint: 0,
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
    nft::render(&nft::build(p, &Stamps::next(None, p, 1)).unwrap())
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
    golden("synthetic-4-2", &rendered(&s.compile().unwrap()));
}

/// A new connection's packet.
#[derive(Clone, Copy)]
struct Packet {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    port: u16,
}

/// The value of the element of `map` whose key matches, as the kernel looks it up:
/// the interval map by range, every other map by exact key.
fn lookup(rs: &Ruleset, map: MapId, key: ElementKey) -> Option<Value> {
    rs.elements(map)
        .into_iter()
        .find(|e| match (e.key, key) {
            (ElementKey::Range(a, b), ElementKey::Addr(x)) => a <= x && x <= b,
            (k, want) => k == want,
        })
        .map(|e| e.value.clone())
}

/// Runs one direction's chain on a packet, as the kernel would: `Some(Some(rule))` if
/// it ends in a drop chain, `Some(None)` if it returns, and the would-deny rules.
fn run_chain(rs: &Ruleset, chain: ChainName, p: Packet) -> (Option<u32>, Vec<u32>) {
    let mut warned = Vec::new();
    let mut mark: u32 = 0xdead_beef; // whatever the other direction left
    let addr = |f: AddrField| match f {
        AddrField::Saddr => p.src,
        AddrField::Daddr => p.dst,
    };
    let ported = matches!(p.proto, 6 | 17 | 132);
    for rule in &rs.chains[&chain].rules {
        let set = |v: Option<Value>, mark: &mut u32| {
            if let Some(Value::Mark(m)) = v {
                *mark = m;
            }
        };
        match rule {
            Rule::ResetMark => mark = 0,
            Rule::MarkPeer { field, map } => {
                set(lookup(rs, *map, ElementKey::Addr(addr(*field))), &mut mark)
            }
            Rule::Check(MapId::Default(dir)) => {
                let key = ElementKey::Addr(addr(dir.own()));
                set(lookup(rs, MapId::Default(*dir), key), &mut mark);
            }
            Rule::Check(map @ MapId::Check(dir, level, kind)) => {
                if *kind == Kind::Other && ported {
                    continue;
                }
                let key = ElementKey::Check {
                    own: addr(dir.own()),
                    peer: if *level == Level::Peer { mark } else { 0 },
                    protocol: if *kind == Kind::Other { 0 } else { p.proto },
                    port: match kind {
                        Kind::Port => p.port,
                        Kind::Masked(b) => p.port & Kind::mask(*b),
                        _ => 0,
                    },
                };
                set(lookup(rs, *map, key), &mut mark);
            }
            Rule::Decide => match lookup(rs, MapId::Verdicts, ElementKey::Mark(mark & KIND_MASK)) {
                None => {}
                Some(Value::Verdict(Verdict::Return)) => return (None, warned),
                // The log chains are shared: the rule is the one the mark names.
                Some(Value::Verdict(Verdict::Goto(ChainName::Deny))) => {
                    assert!(matches!(
                        rs.chains[&ChainName::Deny].rules[0],
                        Rule::Log {
                            verdict: Verdict::Drop,
                            ..
                        }
                    ));
                    let Some(Decision::Deny(r)) = Decision::from_code(mark) else {
                        panic!("deny chain reached with mark {mark:#x}");
                    };
                    return (Some(r), warned);
                }
                Some(Value::Verdict(Verdict::Goto(ChainName::Monitor))) => {
                    let Some(Decision::Monitor(r)) = Decision::from_code(mark) else {
                        panic!("monitor chain reached with mark {mark:#x}");
                    };
                    warned.push(r);
                    return (None, warned);
                }
                Some(v) => panic!("unexpected verdict {v:?} in {chain}"),
            },
            r => panic!("unexpected rule {r:?} in {chain}"),
        }
    }
    (None, warned)
}

/// The ruleset's outcome for a new connection, interpreted from the IR, and the rules
/// its log chains would name: the dropping one, else the would-deny ones.
fn interpret_rules(rs: &Ruleset, p: Packet) -> (Outcome, Vec<u32>) {
    let mut out = Outcome::Allowed;
    let mut named = Vec::new();
    for hook in &rs.chains[&ChainName::Base(Hook::Forward)].rules {
        let Rule::JumpIpv4(chain) = hook else {
            continue;
        };
        let (dropped, warned) = run_chain(rs, *chain, p);
        if let Some(r) = dropped {
            return (Outcome::Denied, vec![r]);
        }
        if !warned.is_empty() {
            out = Outcome::WouldDeny;
        }
        named.extend(warned);
    }
    (out, named)
}

fn interpret(rs: &Ruleset, p: Packet) -> Outcome {
    interpret_rules(rs, p).0
}

/// The rules `Program::check` says the log chains must name, in chain order (egress
/// first): the enforcing deny that drops, else every monitoring deny.
fn named_rules(d: &bulkhead_compile::Decision) -> Vec<u32> {
    let sides = [d.egress, d.ingress];
    let denies = |mode: Mode| {
        sides
            .iter()
            .flatten()
            .filter(move |(c, m)| c.action == Action::Deny && *m == mode)
            .map(|(c, _)| c.rule)
    };
    match denies(Mode::Enforce).next() {
        Some(r) => vec![r],
        None => denies(Mode::Monitor).collect(),
    }
}

#[test]
fn interpreted_ruleset_agrees_with_program_check() {
    let mut programs: Vec<Program> = [Mode::Enforce, Mode::Monitor, Mode::Learn]
        .map(small)
        .into();
    let s = synthetic::scale(30, 4);
    programs.push(s.compile().unwrap());
    for p in &programs {
        let rs = nft::build(p, &Stamps::next(None, p, 1)).unwrap();
        let mut addrs: Vec<Ipv4Addr> = p.endpoints.iter().flat_map(|e| e.ips.clone()).collect();
        addrs.extend(
            ["10.0.0.99", "8.8.8.8", "10.255.255.254"].map(|a| a.parse::<Ipv4Addr>().unwrap()),
        );
        for &src in &addrs {
            for &dst in addrs.iter().filter(|d| **d != src) {
                for (proto, port) in [
                    (6, 0),
                    (6, 1),
                    (6, 23),
                    (6, 1000),
                    (6, 1023),
                    (6, 1024),
                    (6, 65535),
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
                    let packet = Packet {
                        src,
                        dst,
                        proto: kernel_proto,
                        port,
                    };
                    let got = interpret_rules(&rs, packet);
                    let want_rules = named_rules(&p.check(src, dst, proto, port));
                    assert_eq!(got, (want, want_rules), "{src} -> {dst} {proto}/{port}");
                }
            }
        }
    }
}

#[test]
fn diff_from_nothing_creates_everything_and_from_itself_nothing() {
    let p = small(Mode::Enforce);
    let rs = nft::build(&p, &Stamps::next(None, &p, 1)).unwrap();
    let empty = Ruleset::default();
    let all = nft::diff(&empty, &rs).unwrap();
    assert_eq!(all.add_maps.len(), rs.maps.len());
    assert_eq!(all.add_chains.len(), rs.chains.len());
    assert_eq!(all.elements_written(), rs.element_count());
    assert!(nft::diff(&rs, &rs).unwrap().is_empty());
    // Unchanged rules keep their stamp; the table's generation moves on.
    let next = Stamps::next(Some(&Stamps::next(None, &p, 1)), &p, 2);
    assert_eq!(next.generation, 2);
    assert_eq!(next.rules, 1);
    // A changed rule table moves the stamp to the new generation.
    let mut renamed = p.clone();
    renamed.rules.push(Reason::NotAWorkload);
    assert_eq!(Stamps::next(Some(&next), &renamed, 3).rules, 3);
    let rs2 = nft::build(&p, &next).unwrap();
    assert!(nft::diff(&rs, &rs2).unwrap().is_empty());
}

#[test]
fn changing_one_endpoint_rewrites_only_its_elements() {
    let s = synthetic::scale(30, 4);
    let p = s.compile().unwrap();
    let mut builder = nft::Builder::default();
    let stamps = Stamps::next(None, &p, 1);
    let before = builder.build(&p, &stamps).unwrap();
    // One endpoint now allows TCP 9000-9100 from everyone on ingress.
    let mut changed = p.clone();
    let ep = &mut changed.endpoints[7];
    ep.ingress.isolated = true;
    ep.ingress.default_rule = 1;
    ep.ingress
        .any
        .entries
        .retain(|e| (e.protocol, e.first) < (6, 9000) || (e.protocol, e.first) > (6, 9100));
    ep.ingress
        .any
        .entries
        .push(entry(6, 9000, 9100, Action::Allow, 1));
    ep.ingress.any.entries.sort();
    ep.ingress
        .any
        .entries
        .dedup_by_key(|e| (e.protocol, e.first));
    changed.refresh_fingerprints();
    let after = builder.build(&changed, &stamps).unwrap();
    let d = nft::diff(&before, &after).unwrap();
    assert!(!d.is_empty());
    let touched = d.elements_written() + d.elements_removed();
    assert!(
        touched < 40 && touched * 20 < before.element_count(),
        "{touched} of {} elements touched",
        before.element_count()
    );
    // What the incremental build holds is what a fresh one holds.
    let fresh = nft::build(&changed, &stamps).unwrap();
    assert_eq!(nft::render(&after), nft::render(&fresh));
    for src in changed.endpoints.iter().flat_map(|e| e.ips.clone()) {
        let dst = changed.endpoints[7].ips[0];
        for port in [80, 8999, 9000, 9050, 9100, 9101] {
            let packet = Packet {
                src,
                dst,
                proto: 6,
                port,
            };
            if src != dst {
                let want = changed.check(src, dst, 6, port).outcome();
                assert_eq!(interpret(&after, packet), want, "{src} -> {dst}:{port}");
            }
        }
    }
}
