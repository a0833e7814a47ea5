//! Compile + full apply, timed end to end in each run (not as a sum of medians): from
//! the policy set and inventory to the kernel's acknowledgement of the commit.
//!
//! Two cases: onto a node that holds no Bulkhead table (a node's first apply), and
//! replacing a table of the same size (what `enforce` and a restarted agent do): that
//! batch also deletes the old table, and the kernel walks every element of its maps
//! to do so.

use super::{Program, median, ms};
use bulkhead_nft::NftBackend;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// The runs of one case, in ms.
#[derive(Default)]
pub struct Runs {
    pub total: Vec<f64>,
    pub compile: Vec<f64>,
    pub plan: Vec<f64>,
    pub apply: Vec<f64>,
}

/// `runs` compile + full applies onto the node at `netns`; before each, the table is
/// removed (`empty`) or left as the last run put it (replaced).
pub fn measure(netns: &Path, runs: usize, empty: bool, compile: impl Fn() -> Program) -> Runs {
    let mut out = Runs::default();
    // The previous run's table is there to replace (the first run's too).
    NftBackend::new(netns)
        .expect("backend")
        .apply_full(&compile())
        .expect("apply");
    for _ in 0..runs {
        // A fresh backend, as a new `enforce` or agent has: no ruleset to diff against.
        let mut b = NftBackend::new(netns).expect("backend");
        if empty {
            b.remove_table().expect("remove");
        }
        let t = Instant::now();
        let program = compile();
        let t1 = t.elapsed();
        let (rs, stamps) = b.plan(&program).expect("plan");
        let t2 = t.elapsed();
        b.apply_ruleset(rs, stamps, true).expect("apply");
        let t3 = t.elapsed();
        out.total.push(ms(t3));
        out.compile.push(ms(t1));
        out.plan.push(ms(t2 - t1));
        out.apply.push(ms(t3 - t2));
        // Dropping the program and the backend's ruleset is not part of the apply.
        drop((program, b));
    }
    out
}

/// The report's rows for one case.
pub fn rows(report: &mut String, case: &str, r: &Runs) {
    let round = |v: &[f64]| v.iter().map(|x| x.round()).collect::<Vec<_>>();
    let _ = writeln!(
        report,
        "| compile + full apply, end to end, {case} (goal ≤ 300) | **{:.1}** | {:?} |",
        median(r.total.clone()),
        round(&r.total)
    );
    for (step, v) in [
        ("· compile (policy set + inventory → program)", &r.compile),
        ("· plan (build the ruleset IR)", &r.plan),
        (
            "· apply (encode + one batch; the kernel's commit)",
            &r.apply,
        ),
    ] {
        let _ = writeln!(
            report,
            "| {step} | {:.1} | {:?} |",
            median(v.clone()),
            round(v)
        );
    }
}
