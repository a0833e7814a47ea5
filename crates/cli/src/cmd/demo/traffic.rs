//! The demo's traffic: real connections made from inside the workloads' namespaces by
//! the lab's prober, round after round, so the map fills and stays live. The shop's own
//! calls (frontend → api → db and cache, the report job → api) and an intruder sweeping
//! every other workload's ports, as a compromised container would.

use bulkhead_lab::ProbeOptions;
use bulkhead_policy::WorkloadId;
use bulkhead_policy::lab::LabFile;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// (from, to, port): the application's intended calls, as in policies/labs/shop.yaml.
const CALLS: &[(&str, &str, u16)] = &[
    ("shop/frontend", "shop/api", 8080),
    ("shop/api", "shop/db", 5432),
    ("shop/api", "shop/cache", 6379),
    ("jobs/report", "shop/api", 8080),
];
const INTRUDER: &str = "guest/intruder";
/// Short: a denied attempt costs the whole timeout, and a round should stay brisk.
const TIMEOUT: Duration = Duration::from_millis(700);

pub fn spawn(lab: LabFile, stop: Arc<AtomicBool>, interval_secs: f64) -> JoinHandle<()> {
    let interval = Duration::from_secs_f64(interval_secs.max(0.2));
    std::thread::spawn(move || {
        let mut round: u64 = 0;
        while !stop.load(Ordering::SeqCst) {
            let started = Instant::now();
            for (from, to, port) in CALLS {
                attempt(&lab, Some(from), Some(to), Some(*port));
            }
            // The intruder sweeps every other round: lateral movement is bursty.
            if round.is_multiple_of(2) {
                attempt(&lab, Some(INTRUDER), None, None);
            }
            round += 1;
            while started.elapsed() < interval && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    })
}

fn attempt(lab: &LabFile, from: Option<&str>, to: Option<&str>, port: Option<u16>) {
    let id = |s: &str| s.parse::<WorkloadId>().ok();
    let opts = ProbeOptions {
        from: from.and_then(id),
        to: to.and_then(id),
        port,
        protocol: None,
        timeout: TIMEOUT,
    };
    // A failed round (a namespace being torn down at exit) is not worth stopping for.
    if let Err(e) = bulkhead_lab::probe(lab, &opts) {
        tracing::debug!(error = %e, "demo traffic round failed");
    }
}
