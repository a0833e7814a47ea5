//! The shipped examples: every file of `policies/examples/` parses (and all of them
//! together form one valid set), every lab of `policies/labs/` parses, and the shop demo
//! does what its comments promise — with the native and the Kubernetes lockdowns agreeing
//! on every flow the lab can probe.

use bulkhead_policy::eval::{Flow, evaluate};
use bulkhead_policy::lab::LabFile;
use bulkhead_policy::{Inventory, PolicySet, Protocol, WorkloadId, parse_documents};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(yaml_files(&p));
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(file: &str) -> PolicySet {
    let path = policies_dir().join("examples").join(file);
    let ps = parse_documents(file, &read(&path)).unwrap_or_else(|d| panic!("{d}"));
    PolicySet::new(ps).unwrap_or_else(|d| panic!("{d}"))
}

#[test]
fn every_example_parses_and_all_form_one_set() {
    let files = yaml_files(&policies_dir().join("examples"));
    assert!(files.len() >= 4, "{files:?}");
    let mut all = Vec::new();
    for f in &files {
        let name = f.display().to_string();
        let ps = parse_documents(&name, &read(f)).unwrap_or_else(|d| panic!("{d}"));
        assert!(!ps.is_empty(), "{name} holds no policy");
        all.extend(ps);
    }
    let kinds: std::collections::BTreeSet<_> = all.iter().map(|p| p.kind).collect();
    assert_eq!(kinds.len(), 2, "examples of both kinds");
    PolicySet::new(all).unwrap_or_else(|d| panic!("{d}"));
}

#[test]
fn every_lab_parses() {
    let files = yaml_files(&policies_dir().join("labs"));
    assert!(!files.is_empty());
    for f in &files {
        LabFile::parse(&f.display().to_string(), &read(f)).unwrap_or_else(|d| panic!("{d}"));
    }
}

fn shop() -> (LabFile, Inventory) {
    let path = policies_dir().join("labs/shop.yaml");
    let lab = LabFile::parse("shop.yaml", &read(&path)).unwrap_or_else(|d| panic!("{d}"));
    let inv = lab.inventory();
    (lab, inv)
}

fn ip(inv: &Inventory, id: &str) -> Ipv4Addr {
    let id: WorkloadId = id.parse().unwrap();
    inv.workload(&id).unwrap().ips[0]
}

fn allowed(
    set: &PolicySet,
    inv: &Inventory,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: Protocol,
    port: u16,
) -> bool {
    evaluate(
        set,
        inv,
        &Flow {
            src,
            dst,
            protocol: proto.number(),
            port,
        },
    )
    .allowed
}

#[test]
fn the_shop_lockdown_does_what_it_says() {
    let (_, inv) = shop();
    let set = load("native-shop.yaml");
    let host: Ipv4Addr = "10.20.0.1".parse().unwrap();
    let world: Ipv4Addr = "198.51.100.9".parse().unwrap();
    let ok = |from: &str, to: &str, port: u16| {
        allowed(
            &set,
            &inv,
            ip(&inv, from),
            ip(&inv, to),
            Protocol::Tcp,
            port,
        )
    };
    assert!(ok("shop/frontend", "shop/api", 8080));
    assert!(
        !ok("shop/frontend", "shop/api", 9090),
        "metrics are for the node only"
    );
    assert!(!ok("shop/frontend", "shop/db", 5432));
    assert!(ok("shop/api", "shop/db", 5432));
    assert!(ok("shop/api", "shop/cache", 6379));
    assert!(!ok("shop/api", "shop/cache", 5432) && !ok("shop/api", "shop/frontend", 80));
    assert!(ok("jobs/report", "shop/api", 8080));
    assert!(!ok("jobs/report", "shop/db", 5432));
    assert!(
        !ok("shop/db", "shop/api", 8080),
        "the data stores open no connection"
    );
    for victim in [
        "shop/frontend",
        "shop/api",
        "shop/db",
        "shop/cache",
        "jobs/report",
    ] {
        for port in [80, 8080, 9090, 5432, 6379] {
            assert!(
                !ok("guest/intruder", victim, port),
                "intruder → {victim}:{port}"
            );
        }
        assert!(!ok(victim, "guest/intruder", 4444), "{victim} → backdoor");
    }
    assert!(allowed(
        &set,
        &inv,
        world,
        ip(&inv, "shop/frontend"),
        Protocol::Tcp,
        80
    ));
    assert!(allowed(
        &set,
        &inv,
        host,
        ip(&inv, "shop/api"),
        Protocol::Tcp,
        9090
    ));
    assert!(!allowed(
        &set,
        &inv,
        world,
        ip(&inv, "shop/api"),
        Protocol::Tcp,
        8080
    ));
    assert!(!allowed(
        &set,
        &inv,
        ip(&inv, "shop/db"),
        world,
        Protocol::Udp,
        53
    ));
}

#[test]
fn native_and_kubernetes_shop_lockdowns_agree() {
    let (lab, inv) = shop();
    let (native, k8s) = (load("native-shop.yaml"), load("k8s-shop.yaml"));
    let outside = ["10.20.0.1", "198.51.100.9"].map(|a| a.parse::<Ipv4Addr>().unwrap());
    let mut sources: Vec<Ipv4Addr> = lab.workloads.iter().map(|w| w.ip).collect();
    sources.extend(outside);
    let mut checked = 0;
    for src in &sources {
        for dst in &lab.workloads {
            for p in &dst.ports {
                let n = allowed(&native, &inv, *src, dst.ip, p.protocol, p.port);
                let k = allowed(&k8s, &inv, *src, dst.ip, p.protocol, p.port);
                assert_eq!(n, k, "{src} → {} {}/{}", dst.id, p.port, p.protocol);
                checked += 1;
            }
        }
    }
    assert!(checked > 50);
}
