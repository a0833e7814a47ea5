//! The nft backend against the real kernel: probes with real packets in namespaces
//! created (and removed) by each test. Run as root.

mod common;
mod programs;

use bulkhead_compile::nft::{Element, ElementKey, MapId, Part, PartKey, Value, render};
use bulkhead_compile::{Outcome, Program};
use bulkhead_dataplane::Dataplane;
use bulkhead_nft::NftBackend;
use bulkhead_policy::{Action, Mode, WorkloadId};
use common::{Netns, Topo, list_table, probe};
use std::net::Ipv4Addr;
use std::sync::Arc;

const PROBES: [(u8, u16); 3] = [(6, 80), (6, 81), (17, 53)];

fn ips(t: &Topo) -> Vec<Ipv4Addr> {
    t.workloads.iter().map(|w| w.1).collect()
}

/// Probes every ordered pair of participants on every port, in parallel, and returns
/// the disagreements with `program` as readable lines.
fn mismatches(topo: &Topo, program: &Program) -> Vec<String> {
    let parts = topo.participants();
    let mut cases = Vec::new();
    for (from, src) in &parts {
        for (_, dst) in &parts {
            if src != dst {
                for (proto, port) in PROBES {
                    cases.push((*from, *src, *dst, proto, port));
                }
            }
        }
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|&(from, src, dst, proto, port)| {
                s.spawn(move || {
                    let got = probe(from, dst, proto, port);
                    let want = program.check(src, dst, proto, port).outcome() != Outcome::Denied;
                    (got != want)
                        .then(|| format!("{src} -> {dst} {proto}/{port}: got {got}, want {want}"))
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    })
}

fn assert_enforces(topo: &Topo, program: &Program) {
    let m = mismatches(topo, program);
    assert!(
        m.is_empty(),
        "kernel disagrees with Program::check:\n{}",
        m.join("\n")
    );
}

#[test]
fn privileged_probes_obey_the_program_and_replies_pass() {
    let topo = Topo::new(3);
    let program = programs::sample(&ips(&topo), topo.host, Mode::Enforce);
    // The sample denies some probes and allows others, in both directions of a pair.
    let outcomes: Vec<bool> = [(1, 0, 80), (1, 0, 81), (0, 1, 80), (2, 0, 81)]
        .iter()
        .map(|&(s, d, p)| {
            let (src, dst) = (topo.workloads[s].1, topo.workloads[d].1);
            program.check(src, dst, 6, p).outcome() != Outcome::Denied
        })
        .collect();
    assert_eq!(outcomes, [true, false, true, true]);
    let mut b = NftBackend::new(topo.node.path()).unwrap();
    let report = b.apply(&program).unwrap();
    assert!(report.elements_written > 0);
    // An allowed TCP connect needs the SYN-ACK back: replies pass. w0 → w1 on 80 is an
    // unsolicited reverse connection: allowed only because w1 does not isolate ingress.
    assert_enforces(&topo, &program);
}

#[test]
fn privileged_second_apply_replaces_the_first() {
    let topo = Topo::new(3);
    let sample = programs::sample(&ips(&topo), topo.host, Mode::Enforce);
    let open = programs::open(&ips(&topo), topo.host);
    let mut b = NftBackend::new(topo.node.path()).unwrap();
    b.apply(&sample).unwrap();
    assert_enforces(&topo, &sample);
    // Incremental: only the difference goes to the kernel; the open program needs
    // none of the sample's check maps, so they go (and their elements with them).
    let maps_before = b.applied().unwrap().ruleset.maps.len();
    let r = b.apply(&open).unwrap();
    assert!(r.elements_written < b.applied().unwrap().ruleset.element_count() + 1);
    assert!(b.applied().unwrap().ruleset.maps.len() < maps_before);
    assert_enforces(&topo, &open);
    b.apply(&sample).unwrap();
    assert_enforces(&topo, &sample);
    // A fresh backend (a new `bulkhead enforce`) replaces the table whole.
    let mut fresh = NftBackend::new(topo.node.path()).unwrap();
    fresh.apply(&open).unwrap();
    assert_enforces(&topo, &open);
    fresh.remove().unwrap();
    fresh.remove().unwrap();
    assert!(list_table(&topo.node).is_empty());
}

/// `nft list` output as a sorted bag of tokens: element order in hash maps is the
/// kernel's, and stamps differ between an incremental and a full apply.
fn normalized(listing: &str) -> Vec<String> {
    let without_comment: Vec<&str> = listing.lines().filter(|l| !l.contains("comment")).collect();
    let mut toks: Vec<String> = without_comment
        .join("\n")
        .replace(['{', '}', ',', '\n', '\t'], " ")
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let t = t.trim_matches('"');
            match t.strip_prefix("bh:") {
                Some(rest) => format!("bh:*:{}", rest.split_once(':').map_or("", |x| x.1)),
                None => t.to_string(),
            }
        })
        .collect();
    toks.sort();
    toks
}

#[test]
fn privileged_incremental_update_equals_a_full_replace() {
    let topo = Topo::new(3);
    let sample = programs::sample(&ips(&topo), topo.host, Mode::Enforce);
    let mut changed = sample.clone();
    // w0 now also lets w1 in on TCP 81, and w1 no longer denies TCP 81.
    changed.endpoints[0]
        .ingress
        .peers
        .get_mut(&3)
        .unwrap()
        .entries = vec![programs::entry(6, 80, 81, Action::Allow, 2)];
    changed.endpoints[1].egress.any.entries.clear();
    changed.refresh_fingerprints();
    let mut b = NftBackend::new(topo.node.path()).unwrap();
    b.apply(&sample).unwrap();
    let r = b.apply(&changed).unwrap();
    let total = b.applied().unwrap().ruleset.element_count();
    assert!(
        r.elements_written < total,
        "{r:?} wrote everything ({total})"
    );
    let incremental = list_table(&topo.node);
    assert_enforces(&topo, &changed);
    let mut fresh = NftBackend::new(topo.node.path()).unwrap();
    fresh.apply(&changed).unwrap();
    let full = list_table(&topo.node);
    assert_eq!(normalized(&incremental), normalized(&full));
}

#[test]
fn privileged_rejected_batch_leaves_the_previous_ruleset_in_force() {
    let topo = Topo::new(3);
    let sample = programs::sample(&ips(&topo), topo.host, Mode::Enforce);
    let open = programs::open(&ips(&topo), topo.host);
    let mut b = NftBackend::new(topo.node.path()).unwrap();
    b.apply(&sample).unwrap();
    let before = list_table(&topo.node);
    // The open program plus an element that gives an address the ipcache already maps
    // a second identity: the kernel accepts every message up to it, then rejects it,
    // so the whole batch is aborted.
    let (_, stamps) = b.plan(&sample).unwrap();
    let (mut attempt, _) = b.plan(&open).unwrap();
    let bad = Part {
        elements: vec![(
            MapId::IpcacheExact,
            Element {
                key: ElementKey::Addr(topo.workloads[0].1),
                value: Value::Mark(999),
            },
        )],
        decisions: vec![],
    };
    attempt.parts.insert(
        PartKey::Endpoint(WorkloadId::new("x", "bad")),
        Arc::new(bad),
    );
    for full in [true, false] {
        let err = b
            .apply_ruleset(attempt.clone(), stamps.clone(), full)
            .unwrap_err();
        assert!(err.to_string().contains("ipcache_exact"), "{err}");
        assert_eq!(list_table(&topo.node), before, "full={full}");
    }
    assert_enforces(&topo, &sample);
    // The backend still knows what is in force: the next apply works incrementally.
    b.apply(&open).unwrap();
    assert_enforces(&topo, &open);
}

#[test]
fn privileged_monitor_mode_passes_and_logs_would_deny() {
    let topo = Topo::new(3);
    let program = programs::sample(&ips(&topo), topo.host, Mode::Monitor);
    let mut b = NftBackend::new(topo.node.path()).unwrap();
    b.apply(&program).unwrap();
    assert_enforces(&topo, &program);
    let listing = list_table(&topo.node);
    assert!(
        listing.contains("log prefix \"bh:1:w\" group 32"),
        "{listing}"
    );
    assert!(!listing.contains(" drop"), "{listing}");
}

#[test]
fn privileged_learn_mode_passes_everything() {
    let topo = Topo::new(3);
    let program = programs::sample(&ips(&topo), topo.host, Mode::Learn);
    for e in &program.endpoints {
        assert_eq!(e.mode, Mode::Learn);
    }
    let mut b = NftBackend::new(topo.node.path()).unwrap();
    b.apply(&program).unwrap();
    let m = mismatches(&topo, &programs::open(&ips(&topo), topo.host));
    assert!(m.is_empty(), "{}", m.join("\n"));
}

#[test]
fn privileged_rendered_text_is_what_nft_accepts() {
    let topo = Topo::new(3);
    let program = programs::sample(&ips(&topo), topo.host, Mode::Enforce);
    let mut b = NftBackend::new(topo.node.path()).unwrap();
    let (rs, _) = b.plan(&program).unwrap();
    let text = render(&rs);
    let scratch = Netns::new(format!("nftsp-{}-render", std::process::id()));
    let path = std::env::temp_dir().join(format!("bh-render-{}.nft", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &scratch.name, "nft", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}
