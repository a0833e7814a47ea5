//! Enforcement never wavers: probes run without pause while the policy changes many
//! times, and while the enforcing process is replaced again and again.
//!
//! The programs are chosen so that a torn view would show: the two alternate programs
//! *swap the identities* of a and c, so a packet that saw one program's ipcache and the
//! other's policy entries would let c in or keep a out. Only whole programs agree on
//! both constant verdicts: a → b:80 always passes, c → b:80 never does.

mod common;

use bulkhead_bpf::EbpfDataplane;
use bulkhead_compile::Program;
use bulkhead_dataplane::Dataplane;
use bulkhead_policy::Action;
use common::Node;
use common::programs::{TCP, UDP, add, base, endpoint, isolate};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// b admits only a on 80 (TCP and UDP); `swap` renumbers a and c.
fn program(node: &Node, swap: bool) -> Program {
    let mut p = base(node);
    let (a, c) = (2u32, 4u32);
    let (a, c) = if swap { (c, a) } else { (a, c) };
    for (net, id) in p.ipcache.iter_mut() {
        if net.addr() == node.w("a").ip {
            *id = a;
        } else if net.addr() == node.w("c").ip {
            *id = c;
        }
    }
    endpoint(&mut p, "a").identity = a;
    endpoint(&mut p, "c").identity = c;
    let b = endpoint(&mut p, "b");
    isolate(&mut b.ingress, 3);
    add(&mut b.ingress, Some(a), TCP, (80, 80), Action::Allow, 1);
    add(&mut b.ingress, Some(a), UDP, (80, 80), Action::Allow, 2);
    p.refresh_fingerprints();
    p
}

#[derive(Default)]
struct Tally {
    allowed_ok: AtomicU64,
    denied_ok: AtomicU64,
    wrong: AtomicU64,
}

/// Probes a → b:80 (must pass) and c → b:80 (must not) until `stop`.
fn probers(
    node: &Arc<Node>,
    stop: &Arc<AtomicBool>,
    tally: &Arc<Tally>,
) -> Vec<std::thread::JoinHandle<()>> {
    let mut out = Vec::new();
    for (from, want) in [("a", true), ("c", false), ("c", false)] {
        let (node, stop, tally) = (node.clone(), stop.clone(), tally.clone());
        out.push(std::thread::spawn(move || {
            let mut udp = false;
            while !stop.load(Ordering::Relaxed) {
                udp = !udp;
                // A denied probe waits its whole timeout; an allowed one returns at once.
                let got = if udp {
                    node.udp_once(
                        from,
                        "b",
                        80,
                        Duration::from_millis(if want { 1000 } else { 150 }),
                    )
                } else {
                    node.tcp_once(
                        from,
                        "b",
                        80,
                        Duration::from_millis(if want { 1000 } else { 150 }),
                    )
                };
                let counter = match (got == want, want) {
                    (false, _) => &tally.wrong,
                    (true, true) => &tally.allowed_ok,
                    (true, false) => &tally.denied_ok,
                };
                if got != want {
                    eprintln!(
                        "wrong verdict: {from} → b:80 {} got {got}",
                        if udp { "UDP" } else { "TCP" }
                    );
                }
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    out
}

fn run_with_probes(node: &Arc<Node>, work: impl FnOnce()) -> (u64, u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let threads = probers(node, &stop, &tally);
    work();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    (
        tally.allowed_ok.load(Ordering::Relaxed),
        tally.denied_ok.load(Ordering::Relaxed),
        tally.wrong.load(Ordering::Relaxed),
    )
}

#[test]
fn privileged_many_updates_never_give_a_wrong_verdict() {
    let node = Arc::new(Node::new(&["a", "b", "c"], &[80]));
    let mut dp = EbpfDataplane::open(&node.netns).unwrap();
    let programs = [program(&node, false), program(&node, true)];
    dp.apply(&programs[0]).unwrap();
    assert!(node.tcp("a", "b", 80) && !node.tcp_once("c", "b", 80, Duration::from_millis(300)));
    let updates = 300;
    let (allowed, denied, wrong) = run_with_probes(&node, || {
        for i in 0..updates {
            let r = dp.apply(&programs[(i + 1) % 2]).unwrap();
            // ipcache (a, c) and b's peer entries change every time.
            assert!(r.elements_written >= 3, "{r:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    eprintln!("{updates} updates; probes: {allowed} allowed, {denied} denied, {wrong} wrong");
    assert_eq!(wrong, 0);
    assert!(
        allowed >= 100 && denied >= 20,
        "too few probes to mean anything"
    );
}

#[test]
fn privileged_restarts_leave_no_gap() {
    let node = Arc::new(Node::new(&["a", "b", "c"], &[80]));
    let p = program(&node, false);
    EbpfDataplane::open(&node.netns).unwrap().apply(&p).unwrap();
    let restarts = 25;
    let (allowed, denied, wrong) = run_with_probes(&node, || {
        for i in 0..restarts {
            // A new process image each time: new programs, taken over by the links.
            let mut dp = EbpfDataplane::open(&node.netns).unwrap();
            let r = dp.apply(&p).unwrap();
            assert_eq!(
                (r.elements_written, r.elements_removed),
                (0, 0),
                "restart {i}"
            );
            drop(dp);
        }
    });
    eprintln!("{restarts} restarts; probes: {allowed} allowed, {denied} denied, {wrong} wrong");
    assert_eq!(wrong, 0);
    assert!(
        allowed >= 50 && denied >= 10,
        "too few probes to mean anything"
    );
}
