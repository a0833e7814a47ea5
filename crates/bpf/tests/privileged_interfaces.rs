//! Interfaces that change under a running dataplane: a workload's veth replaced by a
//! new one of the same name (a restarted container) must get the programs again on the
//! next apply, although the program applied is the very same.

mod common;

use bulkhead_bpf::EbpfDataplane;
use bulkhead_dataplane::Dataplane;
use common::programs::{base, endpoint, finished, isolate};
use common::{Node, sh};

#[test]
fn privileged_recreated_interface_is_enforced_again() {
    let node = Node::new(&["a", "b"], &[80]);
    let mut dp = EbpfDataplane::open(&node.netns).unwrap();
    let mut p = base(&node);
    isolate(&mut endpoint(&mut p, "b").ingress, 2);
    dp.apply(&finished(&p)).unwrap();
    assert!(!node.tcp("a", "b", 80));
    // Unchanged interfaces: the apply is served from the known indexes.
    dp.apply(&finished(&p)).unwrap();
    assert!(!node.tcp("a", "b", 80));

    // b's veth goes away and comes back with the same name and address: a new ifindex
    // without programs, and nothing in the program says so.
    let b = node.w("b");
    let (ns, wns, ifc) = (&node.netns, &b.netns, &b.interface);
    let ip = format!("{}/24", b.ip);
    sh(&["ip", "-n", ns, "link", "del", ifc]);
    sh(&[
        "ip", "-n", ns, "link", "add", ifc, "type", "veth", "peer", "name", "eth0", "netns", wns,
    ]);
    sh(&["ip", "-n", ns, "link", "set", ifc, "master", "br0", "up"]);
    sh(&["ip", "-n", wns, "addr", "add", &ip, "dev", "eth0"]);
    sh(&["ip", "-n", wns, "link", "set", "eth0", "up"]);
    // a still knows b's old MAC address.
    sh(&["ip", "-n", &node.w("a").netns, "neigh", "flush", "all"]);
    assert!(node.tcp("a", "b", 80), "the new veth has no programs yet");

    dp.apply(&finished(&p)).unwrap();
    assert!(
        !node.tcp("a", "b", 80),
        "the same program, enforced on the new veth"
    );
}
