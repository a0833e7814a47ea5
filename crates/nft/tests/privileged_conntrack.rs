//! The conntrack sweep after an apply, against the real kernel: connections admitted
//! under the previous program that the new one denies are deleted (so their next packet
//! is checked again), the others stay. Run as root.

mod common;
mod programs;

use bulkhead_compile::Outcome;
use bulkhead_dataplane::Dataplane;
use bulkhead_nft::NftBackend;
use bulkhead_policy::Mode;
use common::{Netns, Topo, probe};
use std::net::Ipv4Addr;

/// Whether the node's conntrack table holds a UDP flow `src → dst:53` (in its original
/// direction: the first tuple of a line; the second is the reply's).
fn tracked(node: &Netns, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
    let want = format!("{src} dst={dst} ");
    node.output(&["conntrack", "-L", "-p", "udp"])
        .lines()
        .filter_map(|l| l.split("src=").nth(1))
        .any(|orig| orig.starts_with(&want) && orig.contains("dport=53 "))
}

/// An incremental apply that changes one endpoint (w2 no longer sends UDP 53) sweeps
/// only that endpoint's connections: its now-denied flow goes, a flow to it that stays
/// allowed and a flow between other endpoints stay.
#[test]
fn privileged_sweep_after_an_update_deletes_the_changed_endpoints_denied_flows() {
    let topo = Topo::new(3);
    let ip = |i: usize| topo.workloads[i].1;
    let sample = programs::sample(&[ip(0), ip(1), ip(2)], topo.host, Mode::Enforce);
    let mut b = NftBackend::new(topo.node.path()).unwrap();
    b.apply(&sample).unwrap();
    let flows = [(2, 1), (1, 2), (0, 1)];
    for (s, d) in flows {
        assert!(
            probe(&topo.workloads[s].0, ip(d), 17, 53),
            "w{s} → w{d} UDP 53"
        );
        assert!(tracked(&topo.node, ip(s), ip(d)), "w{s} → w{d} tracked");
    }
    let mut changed = sample.clone();
    let w2 = &mut changed.endpoints[2].egress;
    w2.any.entries.retain(|e| e.protocol != 17);
    for t in w2.peers.values_mut() {
        t.entries.retain(|e| e.protocol != 17);
    }
    changed.refresh_fingerprints();
    let denied =
        |s: usize, d: usize| changed.check(ip(s), ip(d), 17, 53).outcome() == Outcome::Denied;
    assert_eq!(flows.map(|(s, d)| denied(s, d)), [true, false, false]);
    let report = b.apply(&changed).unwrap();
    let total = b.applied().unwrap().ruleset.element_count();
    assert!(report.elements_written < total, "an incremental apply");
    for (s, d) in flows {
        assert_eq!(
            tracked(&topo.node, ip(s), ip(d)),
            !denied(s, d),
            "w{s} → w{d} after the sweep"
        );
    }
    assert!(
        !probe(&topo.workloads[2].0, ip(1), 17, 53),
        "w2 → w1 is checked again"
    );
}
