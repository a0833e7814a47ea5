//! Baselines of the shop lab (`policies/labs/shop.yaml`) from a fixed set of recorded
//! flows: golden files for both formats (`BULKHEAD_BLESS=1` rewrites them), read back by
//! the parser, and judged by the reference evaluator: every learned flow passes, nothing
//! else between the lab's workloads does, and both formats agree on every verdict.

use super::*;
use crate::eval::{Flow, evaluate};
use crate::lab::LabFile;
use crate::model::Inventory;
use crate::{PolicySet, parse_documents};
use std::path::PathBuf;

const MINUTE: i64 = 60_000;
const T0: i64 = 1_700_000_000_000;

fn shop() -> Inventory {
    let text = include_str!("../../../../policies/labs/shop.yaml");
    LabFile::parse("shop.yaml", text).unwrap().inventory()
}

fn obs(src: &str, dst: &str, protocol: u8, port: u16, flows: u64, minute: i64) -> Observation {
    Observation {
        source: src.parse().unwrap(),
        destination: dst.parse().unwrap(),
        protocol,
        port,
        flows,
        first_seen: T0 + minute * MINUTE,
        last_seen: T0 + minute * MINUTE + 30_000,
    }
}

/// The shop's traffic as an agent would have recorded it, warts included.
fn recorded() -> Vec<Observation> {
    vec![
        obs("10.20.0.1", "shop/frontend", 6, 80, 40, 0), // the node's health checks
        obs("203.0.113.5", "shop/frontend", 6, 80, 7, 1), // customers
        obs("203.0.113.9", "shop/frontend", 6, 80, 3, 2),
        obs("198.51.100.20", "shop/frontend", 6, 80, 1, 3),
        obs("shop/frontend", "shop/api", 6, 8080, 50, 0),
        obs("shop/frontend", "shop/api", 6, 8080, 25, 9), // a later window, same edge
        obs("jobs/report", "shop/api", 6, 8080, 2, 5),
        obs("10.20.0.1", "shop/api", 6, 9090, 12, 1),
        obs("shop/api", "shop/db", 6, 5432, 60, 0),
        obs("shop/api", "shop/cache", 6, 6379, 30, 0),
        obs("shop/api", "8.8.8.8", 17, 53, 4, 2),
        obs("shop/api", "8.8.4.4", 17, 53, 2, 3),
        obs("shop/api", "shop/api", 6, 8080, 9, 4), // itself: always allowed
        obs("10.20.0.1", "shop/db", 1, 0, 5, 4),    // ping: no ports to allow
        obs("shop/db", "shop/api", 6, 40312, 1, 4), // a reply seen as a flow
        obs("shop/gone", "shop/api", 6, 8080, 1, 6), // a workload that left
        obs("203.0.113.5", "8.8.8.8", 6, 443, 1, 6), // not about the shop at all
    ]
}

fn golden(name: &str, text: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/baseline")
        .join(name);
    if std::env::var_os("BULKHEAD_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with BULKHEAD_BLESS=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        text, want,
        "{name} differs from its golden file (BULKHEAD_BLESS=1 to accept)"
    );
}

fn set(text: &str) -> PolicySet {
    PolicySet::new(parse_documents("baseline.yaml", text).unwrap_or_else(|d| panic!("{d}\n{text}")))
        .unwrap()
}

fn ip(inv: &Inventory, e: &Endpoint) -> std::net::Ipv4Addr {
    match e {
        Endpoint::Workload(id) => inv
            .workload(id)
            .map_or("10.20.0.250".parse().unwrap(), |w| w.ips[0]),
        Endpoint::Address(a) => *a,
    }
}

fn allowed(
    set: &PolicySet,
    inv: &Inventory,
    src: &str,
    dst: &str,
    protocol: u8,
    port: u16,
) -> bool {
    let flow = Flow {
        src: ip(inv, &src.parse().unwrap()),
        dst: ip(inv, &dst.parse().unwrap()),
        protocol,
        port,
    };
    evaluate(set, inv, &flow).allowed
}

#[test]
fn shop_baseline_matches_golden_files() {
    let inv = shop();
    let b = generate(&inv, &recorded(), &Options::default()).unwrap();
    golden("shop.native.yaml", &render(&b, &inv, Format::Native));
    golden(
        "shop.kubernetes.yaml",
        &render(&b, &inv, Format::Kubernetes),
    );
    let reasons: Vec<&str> = b.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(b.skipped.len(), 3, "{reasons:?}");
}

#[test]
fn learned_flows_pass_and_nothing_else_does() {
    let inv = shop();
    let b = generate(&inv, &recorded(), &Options::default()).unwrap();
    let skipped: Vec<(String, String)> = b
        .skipped
        .iter()
        .map(|s| (s.source.clone(), s.destination.clone()))
        .collect();
    for format in [Format::Native, Format::Kubernetes] {
        let s = set(&render(&b, &inv, format));
        for o in recorded() {
            let key = (o.source.to_string(), o.destination.to_string());
            if skipped.contains(&key) || o.source.to_string() == "203.0.113.5" && o.port == 443 {
                continue;
            }
            let f = Flow {
                src: ip(&inv, &o.source),
                dst: ip(&inv, &o.destination),
                protocol: o.protocol,
                port: o.port,
            };
            let v = evaluate(&s, &inv, &f);
            assert!(
                v.allowed,
                "{format}: {} -> {}:{} denied by {}",
                o.source,
                o.destination,
                o.port,
                v.deciding()
            );
        }
        // Least privilege: other ports, other peers, other outside addresses.
        for (src, dst, proto, port) in [
            ("shop/api", "shop/db", 6, 5433),
            ("shop/frontend", "shop/db", 6, 5432),
            ("guest/intruder", "shop/db", 6, 5432),
            ("shop/db", "guest/intruder", 6, 4444),
            ("203.0.113.200", "shop/frontend", 6, 80), // outside 203.0.113.0/28
            ("203.0.113.5", "shop/frontend", 6, 443),
            ("shop/api", "8.8.8.8", 6, 53),
            ("shop/api", "1.1.1.1", 17, 53),
            ("10.20.0.1", "shop/db", 6, 5432),
        ] {
            assert!(
                !allowed(&s, &inv, src, dst, proto, port),
                "{format}: {src} -> {dst}:{port} allowed"
            );
        }
        assert!(
            allowed(&s, &inv, "203.0.113.14", "shop/frontend", 6, 80),
            "{format}: the /28 is learned"
        );
    }
}

#[test]
fn kubernetes_export_gives_the_native_verdicts_everywhere() {
    let inv = shop();
    let b = generate(&inv, &recorded(), &Options::default()).unwrap();
    let (native, k8s) = (
        set(&render(&b, &inv, Format::Native)),
        set(&render(&b, &inv, Format::Kubernetes)),
    );
    let mut addrs: Vec<std::net::Ipv4Addr> = inv.workloads.iter().map(|w| w.ips[0]).collect();
    addrs.extend(
        [
            "10.20.0.1",
            "10.20.0.99",
            "203.0.113.5",
            "203.0.113.77",
            "8.8.8.8",
        ]
        .map(|a| a.parse::<std::net::Ipv4Addr>().unwrap()),
    );
    let mut checked = 0;
    for &src in &addrs {
        for &dst in &addrs {
            for (protocol, port) in [
                (6, 80),
                (6, 8080),
                (6, 9090),
                (6, 5432),
                (6, 6379),
                (6, 4444),
                (17, 53),
                (1, 0),
            ] {
                let f = Flow {
                    src,
                    dst,
                    protocol,
                    port,
                };
                let (a, k) = (evaluate(&native, &inv, &f), evaluate(&k8s, &inv, &f));
                assert_eq!(
                    a.allowed,
                    k.allowed,
                    "{f:?}: native {} vs kubernetes {}",
                    a.deciding(),
                    k.deciding()
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 11 * 11 * 8);
}

#[test]
fn output_is_deterministic() {
    let inv = shop();
    let mut flows = recorded();
    let first = render(
        &generate(&inv, &flows, &Options::default()).unwrap(),
        &inv,
        Format::Native,
    );
    flows.reverse();
    flows.rotate_left(5);
    let again = render(
        &generate(&inv, &flows, &Options::default()).unwrap(),
        &inv,
        Format::Native,
    );
    assert_eq!(first, again);
}

#[test]
fn replicas_share_one_policy_by_their_stable_labels() {
    let mut inv = shop();
    let api = inv
        .workloads
        .iter()
        .position(|w| w.id.name == "api")
        .unwrap();
    let mut replica = inv.workloads[api].clone();
    replica.id = crate::WorkloadId::new("shop", "api-2");
    replica.ips = vec!["10.20.0.21".parse().unwrap()];
    replica
        .labels
        .insert("pod-template-hash".into(), "7f9c".into());
    inv.workloads.push(replica);
    let flows = vec![
        obs("shop/api-2", "shop/db", 6, 5432, 3, 0),
        obs("shop/frontend", "shop/api-2", 6, 8080, 3, 0),
    ];
    let opts = Options {
        workloads: vec!["shop/api".parse().unwrap()],
        ..Options::default()
    };
    let b = generate(&inv, &flows, &opts).unwrap();
    assert_eq!(b.policies.len(), 1);
    let p = &b.policies[0];
    assert_eq!(p.name, "baseline-api-backend");
    assert_eq!(
        p.members
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["shop/api", "shop/api-2"]
    );
    let text = render(&b, &inv, Format::Native);
    assert!(
        !text.contains("pod-template-hash") && !text.contains("10.20.0.21"),
        "{text}"
    );
    let s = set(&text);
    assert!(
        allowed(&s, &inv, "shop/api", "shop/db", 6, 5432),
        "the replica's flow covers the original"
    );
}

#[test]
fn unlabeled_peers_are_named_by_address_and_unknown_subjects_refused() {
    let mut inv = shop();
    let intruder = inv
        .workloads
        .iter_mut()
        .find(|w| w.id.name == "intruder")
        .unwrap();
    intruder.labels.clear();
    let flows = vec![
        obs("guest/intruder", "shop/db", 6, 5432, 1, 0),
        obs("shop/db", "guest/intruder", 6, 53, 1, 0),
    ];
    let opts = Options {
        workloads: vec![
            "shop/db".parse().unwrap(),
            "guest/intruder".parse().unwrap(),
        ],
        ..Options::default()
    };
    let b = generate(&inv, &flows, &opts).unwrap();
    assert_eq!(b.policies.len(), 1, "the intruder cannot be selected");
    assert_eq!(
        b.policies[0].ingress[0].peer,
        LearnedPeer::Cidr {
            cidr: "10.20.0.66/32".parse().unwrap()
        }
    );
    assert!(
        b.skipped.iter().all(|s| s.reason.contains("no labels")),
        "{:?}",
        b.skipped
    );
    let opts = Options {
        workloads: vec!["shop/nope".parse().unwrap()],
        ..Options::default()
    };
    assert!(matches!(
        generate(&inv, &flows, &opts),
        Err(BaselineError::UnknownWorkload(_))
    ));
}

#[test]
fn evidence_sums_every_record_of_a_rule() {
    let inv = shop();
    let b = generate(&inv, &recorded(), &Options::default()).unwrap();
    let api = b
        .policies
        .iter()
        .find(|p| p.name == "baseline-api-backend")
        .unwrap();
    let from_frontend = api
        .ingress
        .iter()
        .find(|r| matches!(&r.peer, LearnedPeer::Workloads { labels, .. } if labels["app"] == "frontend"))
        .unwrap();
    assert_eq!(from_frontend.evidence.flows, 75);
    assert_eq!(from_frontend.evidence.first_seen, T0);
    assert_eq!(from_frontend.evidence.last_seen, T0 + 9 * MINUTE + 30_000);
    let text = render(&b, &inv, Format::Native);
    assert!(
        text.contains(
            "# 75 flows, first seen 2023-11-14T22:13:20.000Z, last seen 2023-11-14T22:22:50.000Z"
        ),
        "{text}"
    );
    assert!(
        text.contains("bulkhead.dev/evidence-ingress-1: \"75 flows"),
        "{text}"
    );
}
