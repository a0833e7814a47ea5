//! Flow events that find the ring buffer full are counted, never silently lost: every
//! event the programs produce is either read from the ring or in the loss count.

mod common;

use bulkhead_bpf::{EbpfDataplane, EbpfFlows, Hook, sys};
use bulkhead_dataplane::{Dataplane, FlowSource};
use bulkhead_ebpf_common::{EVENT_VERDICT, OUTCOME_DENIED, RawEvent, capacity};
use common::Node;
use common::programs::{base, endpoint, finished, isolate};
use std::os::fd::AsFd;

/// An Ethernet + IPv4 + TCP SYN (the program reads no checksum).
fn tcp_syn(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut p = vec![0u8; 14 + 20 + 20];
    p[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    p[14] = 0x45;
    p[16..18].copy_from_slice(&40u16.to_be_bytes());
    p[22] = 64;
    p[23] = 6;
    p[26..30].copy_from_slice(&src);
    p[30..34].copy_from_slice(&dst);
    p[34..36].copy_from_slice(&sport.to_be_bytes());
    p[36..38].copy_from_slice(&dport.to_be_bytes());
    p[46] = 5 << 4;
    p[47] = 0x02;
    p
}

#[test]
fn privileged_events_that_find_the_ring_full_are_counted() {
    let node = Node::new(&["a", "b"], &[80]);
    let mut dp = EbpfDataplane::open(&node.netns).unwrap();
    let mut p = base(&node);
    // a's egress is isolated: every SYN a sends is dropped with an event naming rule 9.
    isolate(&mut endpoint(&mut p, "a").egress, 9);
    let generation = dp.apply(&finished(&p)).unwrap().generation;
    let mut flows = EbpfFlows::open(&node.netns).unwrap();
    while flows.drain_raw(|_| {}) > 0 {}
    let lost_before = flows.lost();

    // More denied packets than the ring holds (a record is the event plus an 8-byte
    // header), sent through the attached program while nobody reads.
    let record = (size_of::<RawEvent>() + 8) as u64;
    let fits = u64::from(capacity::EVENT_BYTES) / record;
    let runs = (fits + fits / 2) as u32;
    let (a, b) = (node.w("a"), node.w("b"));
    let packet = tcp_syn(a.ip.octets(), b.ip.octets(), 40_000, 80);
    let fd = dp
        .program(Hook::FromWorkload)
        .unwrap()
        .fd()
        .unwrap()
        .as_fd()
        .try_clone_to_owned()
        .unwrap();
    let interface = a.interface.clone();
    let run = bulkhead_dataplane::netns::run_in(&node.netns_path(), move || {
        let ifindex = nix::net::if_::if_nametoindex(interface.as_str()).unwrap();
        sys::test_run(&fd, &packet, ifindex, runs).unwrap()
    })
    .unwrap();
    assert_eq!(
        run.retval, 2,
        "the program dropped the packet (TC_ACT_SHOT)"
    );

    // The workloads' own kernels may send a packet or two meanwhile (a's egress denies
    // everything, so those are events too): tell ours apart by their ports.
    let (mut ours, mut strays, mut wrong) = (0u64, 0u64, 0u64);
    while flows.drain_raw(|e| {
        if (e.protocol, e.sport, e.dport) != (6, 40_000, 80) {
            strays += 1;
        } else if (e.kind, e.outcome, e.rule, e.generation)
            != (EVENT_VERDICT, OUTCOME_DENIED, 9, generation)
        {
            wrong += 1;
        } else {
            ours += 1;
        }
    }) > 0
    {}
    let lost = flows.lost() - lost_before;
    eprintln!("{runs} events produced: {ours} read, {lost} counted as lost ({strays} others read)");
    assert_eq!(wrong, 0, "every event is the denied SYN with its rule");
    assert!(lost > 0, "the ring overflowed, so some events were lost");
    assert!(ours > 0 && ours <= fits);
    // Every event was read or counted: the lost ones are ours, plus at most a few
    // strays (a handful is read; as many may have been lost).
    let runs = u64::from(runs);
    assert!(
        ours + lost >= runs && ours + lost <= runs + 16,
        "{ours} read + {lost} lost ≠ {runs} produced"
    );

    // Once the ring has room again, events flow and the count stays where it was.
    assert!(!node.tcp_once("a", "b", 80, std::time::Duration::from_millis(300)));
    let mut more = 0;
    while flows.drain_raw(|_| more += 1) > 0 {}
    assert!(more >= 1, "the denied connect attempt was reported");
    assert_eq!(flows.lost() - lost_before, lost);
}
