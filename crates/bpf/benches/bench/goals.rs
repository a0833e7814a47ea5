//! The goals, each beside what this run measured, as the report's first table.

use std::fmt::Write as _;

#[derive(Default)]
pub struct Goals {
    /// Median per-round throughput ratio to no firewall: (eBPF, nft) at the large size.
    pub throughput: Option<(f64, f64)>,
    /// Max / min of the no-firewall runs: the run-to-run noise of this machine.
    pub baseline_spread: f64,
    pub throughput_entries: usize,
    /// The paired measurement of eBPF against the control pair (see `path`).
    pub firm: Option<crate::path::Firm>,
    /// Per-packet cost at the largest size over the smallest: (denied new connection,
    /// established), and the largest size's entries.
    pub per_packet: Option<(f64, f64, usize)>,
    /// One workload's update at the largest size: until in force, and its write + flip.
    pub update_ms: Option<f64>,
    pub write_ms: Option<f64>,
    pub update_entries: usize,
    /// A full compile of the edited policy at that size (not part of the update).
    pub compile_ms: Option<f64>,
    /// The slowest reader-alone rate (events/s), events lost in all event runs, and
    /// whether every run's produced = read + lost.
    pub reader_rate: Option<f64>,
    pub lost: u64,
    pub accounted: bool,
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**not met**" }
}

impl Goals {
    pub fn new() -> Goals {
        Goals {
            accounted: true,
            ..Goals::default()
        }
    }

    pub fn render(&self, quick: bool) -> String {
        let mut out = String::from(
            "## Against the goals (this run)\n\n| goal | measured | |\n|---|---|---|\n",
        );
        let skipped = if quick { "skipped (quick run)" } else { "—" };
        if let Some(f) = self.firm {
            // A 3% question needs ratios that vary less than 3%: the interquartile
            // range of the per-round ratios, relative to their median, says how much.
            let iqr = |s: &crate::path::Spread| (s.q3 - s.q1) / s.median;
            let (aa_iqr, ab_iqr) = (iqr(&f.aa), iqr(&f.ab));
            let verdict_text = if aa_iqr > 0.03 || ab_iqr > 0.03 {
                format!(
                    "**not resolved**: the paired ratios' interquartile range (A/A {:.0}%, A/B {:.0}%) exceeds the 3% in question",
                    aa_iqr * 100.0,
                    ab_iqr * 100.0
                )
            } else if f.corrected_q1 >= 0.97 {
                "met; the lower quartile clears it too".to_string()
            } else if f.corrected >= 0.97 {
                "met, but the lower quartile does not clear it".to_string()
            } else {
                verdict(false).to_string()
            };
            let _ = writeln!(
                out,
                "| eBPF ≥ 0.97 of no-firewall TCP throughput at {} entries | paired, corrected for the pairs' own difference: {:.3} (A/B median {:.3}, quartiles {:.3}–{:.3}; A/A median {:.3}, quartiles {:.3}–{:.3}) | {verdict_text} |",
                self.throughput_entries,
                f.corrected,
                f.ab.median,
                f.ab.q1,
                f.ab.q3,
                f.aa.median,
                f.aa.q1,
                f.aa.q3,
            );
        }
        match self.throughput {
            Some((ebpf, nft)) => {
                let _ = writeln!(
                    out,
                    "| (the same, per-variant rounds: re-applied each round, against the round's no-firewall run) | eBPF {ebpf:.3}, nft {nft:.3}; the no-firewall runs alone differ by up to {:.0}% | informative |",
                    (self.baseline_spread - 1.0) * 100.0,
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "| eBPF ≥ 0.97 of no-firewall throughput | {skipped} | |"
                );
            }
        }
        match self.per_packet {
            Some((denied, established, entries)) => {
                let _ = writeln!(
                    out,
                    "| per-packet cost flat from 10 to {entries} entries (BPF_PROG_TEST_RUN) | largest / smallest: new connection {denied:.2}, established {established:.2} | {} |",
                    verdict(denied <= 1.10 && established <= 1.10)
                );
            }
            None => {
                let _ = writeln!(out, "| per-packet cost flat | {skipped} | |");
            }
        }
        if let (Some(u), Some(w)) = (self.update_ms, self.write_ms) {
            let _ = writeln!(
                out,
                "| one workload's update ≤ 1 ms (at {} entries) | {u:.3} ms until in force, of which {w:.3} ms writing the changed entries and the flip; recompiling is not included (a full compile of that policy: {:.1} ms) | {} |",
                self.update_entries,
                self.compile_ms.unwrap_or(f64::NAN),
                verdict(u <= 1.0)
            );
        }
        if let Some(r) = self.reader_rate {
            let _ = writeln!(
                out,
                "| ring buffer → aggregated records ≥ 1,000,000 events/s, loss counted | {r:.0}/s (slower reader); {} lost; every event read or counted: {} | {} |",
                self.lost,
                if self.accounted { "yes" } else { "no" },
                verdict(r >= 1e6 && self.accounted)
            );
        }
        out.push_str("\n\"Flat\" is taken as within 10% of the smallest size.\n\n");
        out
    }
}
