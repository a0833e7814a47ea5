//! Measurements made with `BPF_PROG_TEST_RUN` on the real, attached programs: the cost
//! of one packet through a check point, and the flow-event path from the kernel's ring
//! buffer to aggregated records in user space.

use super::topo::Topo;
use bulkhead_bpf::{EbpfDataplane, EbpfFlows, Hook, sys};
use bulkhead_dataplane::{FlowEvent, FlowSource};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// (source, destination, source port, destination port, protocol, rule) of an event.
type FlowKey = (u32, u32, u16, u16, u8, u32);

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;

/// An Ethernet + IPv4 + TCP packet (checksums are not looked at by the program).
pub fn tcp_packet(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut p = vec![0u8; 14 + 20 + 20];
    p[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    p[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    p[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut p[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&40u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let tcp = &mut p[34..54];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&dport.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    p
}

/// Average ns per run of the from-workload program on `packet`, arriving on `ifindex`
/// (the kernel's own measurement over `repeat` runs), and the program's return value.
pub fn cost(
    dp: &mut EbpfDataplane,
    topo: &Topo,
    packet: &[u8],
    ifindex: u32,
    repeat: u32,
) -> (f64, i32) {
    let prog = dp.program(Hook::FromWorkload).expect("program");
    let fd = prog
        .fd()
        .expect("program fd")
        .as_fd()
        .try_clone_to_owned()
        .expect("dup");
    let packet = packet.to_vec();
    let r = topo
        .node
        .run(move || sys::test_run(&fd, &packet, ifindex, repeat).expect("BPF_PROG_TEST_RUN"));
    (f64::from(r.duration_ns), r.retval)
}

/// Empties the event ring (so cost runs are not skewed by a full ring).
pub fn drain(flows: &mut EbpfFlows) {
    while flows.drain_raw(|_| {}) > 0 {}
}

pub struct EventRun {
    pub produced_runs: u64,
    pub consumed: u64,
    pub lost: u64,
    pub records: usize,
    pub seconds: f64,
}

/// Per-flow records, as an agent keeps them: packets and bytes per
/// (source, destination, ports, protocol, rule).
#[derive(Default)]
pub struct Aggregate {
    map: HashMap<FlowKey, (u64, u64)>,
}

impl Aggregate {
    fn raw(&mut self, e: &bulkhead_ebpf_common::RawEvent) {
        let slot = self
            .map
            .entry((
                u32::from_be_bytes(e.saddr),
                u32::from_be_bytes(e.daddr),
                e.sport,
                e.dport,
                e.protocol,
                e.rule,
            ))
            .or_default();
        slot.0 += 1;
        slot.1 += u64::from(e.bytes);
    }

    fn event(&mut self, e: &FlowEvent) {
        let slot = self
            .map
            .entry((
                u32::from(e.src),
                u32::from(e.dst),
                e.src_port,
                e.dst_port,
                e.protocol,
                e.rule,
            ))
            .or_default();
        slot.0 += e.packets;
        slot.1 += e.bytes;
    }

    /// Reads what the ring holds now into the records; returns how many events.
    fn read(&mut self, flows: &mut EbpfFlows, out: &mut Vec<FlowEvent>, events: bool) -> usize {
        if events {
            out.clear();
            flows.poll(out, Duration::from_millis(1)).expect("poll");
            for e in out.iter() {
                self.event(e);
            }
            out.len()
        } else {
            flows.drain_raw(|e| self.raw(e))
        }
    }
}

fn program_fd(dp: &mut EbpfDataplane) -> std::os::fd::OwnedFd {
    dp.program(Hook::FromWorkload)
        .expect("program")
        .fd()
        .expect("program fd")
        .as_fd()
        .try_clone_to_owned()
        .expect("dup")
}

fn denied_packets(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<Vec<u8>> {
    (0..64)
        .map(|i| tcp_packet(src, dst, 40_000 + i, 9999, SYN))
        .collect()
}

/// The reader alone: `fills` times, the program fills the ring with `per_fill` events
/// while nobody reads, then the ring is drained into per-flow records, timed. Returns
/// the events read, the seconds spent reading them, and the events lost meanwhile.
pub fn reader_rate(
    dp: &mut EbpfDataplane,
    topo: &Topo,
    (src, dst): (Ipv4Addr, Ipv4Addr),
    ifindex: u32,
    fills: usize,
    per_fill: u32,
    events: bool,
) -> EventRun {
    let mut flows = EbpfFlows::open(&topo.node.name).expect("open flows");
    drain(&mut flows);
    let lost_before = flows.lost();
    let fd = program_fd(dp);
    let packets = denied_packets(src, dst);
    let mut agg = Aggregate::default();
    let mut out: Vec<FlowEvent> = Vec::with_capacity(1 << 16);
    let (mut consumed, mut seconds) = (0u64, 0.0);
    for _ in 0..fills {
        // 64 flows, a batch each; together `per_fill` events.
        for (j, p) in packets.iter().enumerate() {
            let n = per_fill / 64 + u32::from((j as u32) < per_fill % 64);
            let (fd, p) = (&fd, p.clone());
            topo.node
                .run(move || sys::test_run(fd, &p, ifindex, n).expect("BPF_PROG_TEST_RUN"));
        }
        let start = Instant::now();
        loop {
            let n = agg.read(&mut flows, &mut out, events);
            if n == 0 {
                break;
            }
            consumed += n as u64;
        }
        seconds += start.elapsed().as_secs_f64();
    }
    EventRun {
        produced_runs: u64::from(per_fill) * fills as u64,
        consumed,
        lost: flows.lost() - lost_before,
        records: agg.map.len(),
        seconds,
    }
}
/// Denied packets (64 different source ports) run through the program `total` times
/// on one thread while this thread drains the ring and aggregates per flow; with
/// `events` the records go through [`FlowSource::poll`] as [`FlowEvent`]s.
pub fn event_path(
    dp: &mut EbpfDataplane,
    topo: &Topo,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ifindex: u32,
    total: u64,
    events: bool,
) -> EventRun {
    let mut flows = EbpfFlows::open(&topo.node.name).expect("open flows");
    drain(&mut flows);
    let lost_before = flows.lost();
    let fd = program_fd(dp);
    let packets = denied_packets(src, dst);
    let done = Arc::new(AtomicBool::new(false));
    let finished = done.clone();
    let node = topo.node.path();
    let batch = 50_000u32;
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        let mut runs = 0u64;
        bulkhead_dataplane::netns::run_in(&node, || {
            let mut i = 0;
            while runs < total {
                sys::test_run(&fd, &packets[i % packets.len()], ifindex, batch)
                    .expect("BPF_PROG_TEST_RUN");
                runs += u64::from(batch);
                i += 1;
            }
        })
        .expect("netns");
        finished.store(true, Ordering::Release);
        runs
    });
    let mut agg = Aggregate::default();
    let mut consumed = 0u64;
    let mut out: Vec<FlowEvent> = Vec::with_capacity(1 << 16);
    loop {
        let last = done.load(Ordering::Acquire);
        let n = agg.read(&mut flows, &mut out, events);
        consumed += n as u64;
        if last && n == 0 {
            break;
        }
        if n == 0 && !events {
            // Sleep until the ring has data, as a reader must on 2 shared cores
            // (`FlowSource::poll` does this itself).
            flows.wait(Duration::from_millis(1)).expect("wait");
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let produced_runs = producer.join().expect("producer");
    EventRun {
        produced_runs,
        consumed,
        lost: flows.lost() - lost_before,
        records: agg.map.len(),
        seconds,
    }
}
