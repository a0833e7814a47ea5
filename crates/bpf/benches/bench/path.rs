//! The eBPF throughput goal, measured so that the machine's noise does not decide it:
//! many short iperf3 runs, client and server pinned to one CPU each, alternating
//! between the real pair (programs on both veths, the largest program applied once)
//! and the control pair on the same bridge (no program), in ABBA order so that a
//! drift in the machine's load falls on both alike. A first phase does the same with
//! nothing applied (A/A): it measures how much the two pairs differ by themselves,
//! which the A/B ratio is then divided by.

use crate::scale::PORT;
use crate::topo::{Pair, Topo};
use crate::{DENIED_PORT, median};
use bulkhead_bpf::EbpfDataplane;
use bulkhead_compile::Program;
use bulkhead_dataplane::Dataplane;
use std::fmt::Write as _;

const AA_ROUNDS: usize = 6;
const AB_ROUNDS: usize = 12;
const SECS: u32 = 5;

/// Median, quartiles and extremes of per-round ratios.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spread {
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    fn of(mut v: Vec<f64>) -> Spread {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Spread {
            median: median(v.clone()),
            q1: at(0.25),
            q3: at(0.75),
            min: v[0],
            max: v[v.len() - 1],
        }
    }
}

/// The firm figure: A/B ratios, the pairs' own difference, and their quotient.
#[derive(Clone, Copy, Debug, Default)]
pub struct Firm {
    pub ab: Spread,
    pub aa: Spread,
    /// Median A/B ratio over median A/A ratio.
    pub corrected: f64,
    /// The A/B lower quartile, corrected alike.
    pub corrected_q1: f64,
}

/// `rounds` paired runs; returns (real, control) Gbit/s per round.
fn rounds(topo: &Topo, rounds: usize) -> Vec<(f64, f64)> {
    (0..rounds)
        .map(|r| {
            // ABBA: the order flips every round.
            let order = if r % 2 == 0 {
                [Pair::Control, Pair::Real]
            } else {
                [Pair::Real, Pair::Control]
            };
            let mut g = [0.0; 2];
            for p in order {
                g[usize::from(p == Pair::Control)] = topo.iperf_on(p, PORT, SECS);
            }
            eprintln!("  real {:.2} Gbit/s, control {:.2} Gbit/s", g[0], g[1]);
            (g[0], g[1])
        })
        .collect()
}

pub fn measure(report: &mut String, topo: &Topo, program: &Program) -> Firm {
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load_start = load();
    assert!(
        topo.wait_unfiltered(DENIED_PORT),
        "the previous section's programs are out of the path"
    );
    eprintln!("throughput A/A (nothing applied)");
    let aa = rounds(topo, AA_ROUNDS);
    let mut dp = EbpfDataplane::open(&topo.node.name).expect("ebpf open");
    dp.apply(program).expect("ebpf apply");
    // The programs must be in the real pair's path and not in the control pair's.
    assert!(!topo.reaches_on(Pair::Real, DENIED_PORT), "eBPF denies");
    assert!(
        topo.reaches_on(Pair::Control, DENIED_PORT),
        "control is free"
    );
    eprintln!("throughput A/B (eBPF applied)");
    let ab = rounds(topo, AB_ROUNDS);
    dp.remove().expect("ebpf remove");
    let load_end = load();
    let ratios = |v: &[(f64, f64)]| v.iter().map(|(r, c)| r / c).collect::<Vec<_>>();
    let (aa_s, ab_s) = (Spread::of(ratios(&aa)), Spread::of(ratios(&ab)));
    let firm = Firm {
        ab: ab_s,
        aa: aa_s,
        corrected: ab_s.median / aa_s.median,
        corrected_q1: ab_s.q1 / aa_s.median,
    };
    let abs = |v: &[(f64, f64)], real: bool| {
        median(v.iter().map(|(r, c)| if real { *r } else { *c }).collect())
    };
    let _ = writeln!(
        report,
        "## eBPF throughput, paired (iperf3 {SECS} s after 1 s left out, client on CPU 0, server on CPU 1)\n\n\
The real pair (client → server, programs on both veths, {} entries applied once) against the control pair on the same bridge (no program on its veths), back to back in ABBA order. First {AA_ROUNDS} rounds with nothing applied (A/A: the pairs' own difference), then {AB_ROUNDS} rounds with eBPF applied (A/B). Ratios are real / control per round.\n\n\
Load average: before {}, after {}.\n\n\
| phase | rounds | real Gbit/s (median) | control Gbit/s (median) | ratio median | lower quartile | upper quartile | min | max |\n|---|---|---|---|---|---|---|---|---|",
        program.entry_count(),
        load_start.trim(),
        load_end.trim()
    );
    for (name, v, s) in [
        ("A/A, nothing applied", &aa, aa_s),
        ("A/B, eBPF applied", &ab, ab_s),
    ] {
        let _ = writeln!(
            report,
            "| {name} | {} | {:.2} | {:.2} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            v.len(),
            abs(v, true),
            abs(v, false),
            s.median,
            s.q1,
            s.q3,
            s.min,
            s.max
        );
    }
    let _ = writeln!(
        report,
        "\neBPF / no firewall, A/B median over A/A median: **{:.3}** (lower quartile: {:.3}).\n\nAll runs (real, control Gbit/s): A/A {aa:.2?}; A/B {ab:.2?}\n",
        firm.corrected, firm.corrected_q1
    );
    firm
}
