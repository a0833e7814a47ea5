//! The incremental compiler beside the whole compile, on the same input in the same run:
//! one policy's ingress port alternates 8080 → 8081 and back (the nft bench's update),
//! and [`Compiler::update`] is told its name. Also the cost of keeping the state
//! ([`Compiler::compile`] against [`compile`]).

use bulkhead_compile::synthetic::{self, Synthetic};
use bulkhead_compile::{Compiler, Input, compile};
use bulkhead_policy::ir::{PolicySet, PortMatch};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

pub struct Row {
    workloads: usize,
    whole: Duration,
    keeping: Duration,
    update: Duration,
    updates: usize,
    load: String,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The set with policy `w{i}`'s first ingress rule's first port moved to 8081.
fn edited(set: &PolicySet, i: usize) -> Result<PolicySet, String> {
    let mut out = set.clone();
    let name = format!("w{i}");
    let p = out
        .policies
        .iter_mut()
        .find(|p| p.name.name == name)
        .ok_or("no such policy")?;
    let port = p
        .ingress
        .as_mut()
        .and_then(|r| r.first_mut())
        .and_then(|r| r.ports.as_mut())
        .and_then(|p| p.first_mut())
        .ok_or("the policy has no ingress port")?;
    port.port = PortMatch::Range(8081, 8081);
    Ok(out)
}

pub fn measure(workloads: usize, peers: usize) -> Result<Row, String> {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let Synthetic {
        policies,
        inventory,
    } = synthetic::scale(workloads, peers);
    let target = 42.min(workloads - 1);
    let changed_set = edited(&policies, target)?;
    let (modes, interfaces) = (BTreeMap::new(), BTreeMap::new());
    let input = |policies| Input {
        policies,
        inventory: &inventory,
        node: None,
        modes: &modes,
        interfaces: &interfaces,
    };
    let sets = [&changed_set, &policies];
    let name = [changed_set
        .policies
        .iter()
        .find(|p| p.name.name == format!("w{target}"))
        .map(|p| p.name.clone())
        .ok_or("no such policy")?];
    let (mut whole, mut keeping, mut update) = (Vec::new(), Vec::new(), Vec::new());
    let mut compiler = Compiler::new();
    for i in 0..5 {
        let t = Instant::now();
        std::hint::black_box(compile(&input(&policies)).map_err(|e| e.to_string())?);
        whole.push(t.elapsed());
        let t = Instant::now();
        compiler
            .compile(&input(&policies))
            .map_err(|e| e.to_string())?;
        keeping.push(t.elapsed());
        // Alternately to the edited set and back, starting from the kept `policies`.
        for j in 0..20 {
            let set = sets[(i * 20 + j) % 2];
            let t = Instant::now();
            compiler
                .update(&input(set), &name)
                .map_err(|e| e.to_string())?;
            update.push(t.elapsed());
            if !compiler.was_incremental() {
                return Err("the update fell back to a whole compile".into());
            }
        }
    }
    // The last update went back to `policies`: it must be what a whole compile gives.
    if compiler.program() != Some(&compile(&input(&policies)).map_err(|e| e.to_string())?) {
        return Err("the updated program differs from a whole compile".into());
    }
    Ok(Row {
        workloads,
        updates: update.len(),
        whole: median(whole),
        keeping: median(keeping),
        update: median(update),
        load: load
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    })
}

pub fn report(rows: &[Row], out: &mut String) {
    let _ = writeln!(
        out,
        "\n## Incremental update (one policy's ingress port changed; medians)\n"
    );
    let _ = writeln!(
        out,
        "| workloads | whole compile ms | `Compiler::compile` ms | update ms (runs) | whole ÷ update | keeping ÷ whole | load average |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---|");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {:.3} | {:.3} | {:.3} ({}) | {:.0} | {:.2} | {} |",
            r.workloads,
            ms(r.whole),
            ms(r.keeping),
            ms(r.update),
            r.updates,
            r.whole.as_secs_f64() / r.update.as_secs_f64(),
            r.keeping.as_secs_f64() / r.whole.as_secs_f64(),
            r.load
        );
    }
}
