//! What one desired-state revision costs the node agent before it touches the kernel,
//! at `synthetic::scale(10000, 10)` on one node (every workload local), the policies
//! sent as the YAML documents the server stores:
//!
//! - (a) the whole path, [`enforce::plan`]: parse every document, compile everything;
//! - (b) the [`Planner`] after one policy's port changed: parse that document, update
//!   the kept compile incrementally, share the rest with the flow context.
//!
//! Every run of (b) edits the port again (a new value each time), the previous context
//! dropped as the agent drops it when the new one is in force. Medians of `RUNS` runs
//! after one warm-up; nothing is asserted about time (the machine is shared), only that
//! (b) took the incremental path, parsed one document and equals (a).
//!
//! `cargo bench -p bulkhead-agent --bench plan` prints the report and writes it to
//! `docs/bench/agent-plan.md`.

use bulkhead_agent::enforce::{inputs, plan};
use bulkhead_agent::planner::Planner;
use bulkhead_agent::synthetic::{document, on_nodes};
use bulkhead_api::DesiredState;
use bulkhead_compile::synthetic::scale;
use bulkhead_compile::{Input, compile};
use bulkhead_policy::PolicySet;
use bulkhead_policy::Protocol;
use bulkhead_policy::ir::{PortMatch, PortSpec};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The `bulkhead` binary's allocator: the agent runs in it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WORKLOADS: usize = 10_000;
const PEERS: usize = 10;
const RUNS: usize = 15;
const NODE: &str = "n0";
const EDITED: &str = "ns0/w0";

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(|e| e.to_string(), |s| s.trim().into())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Revisions 2, 3, …: the first state with `EDITED`'s ingress port set to 9000 + k.
fn edits(s: &bulkhead_compile::synthetic::Synthetic, d: &DesiredState) -> Vec<DesiredState> {
    let at = d
        .policies
        .iter()
        .position(|p| p.name == EDITED)
        .expect("edited policy");
    let mut policy = s.policies.get(EDITED).expect("edited policy").clone();
    (0..=RUNS as u16)
        .map(|k| {
            let rules = policy.ingress.as_mut().expect("ingress");
            rules[0].ports = Some(vec![PortSpec {
                protocol: Protocol::Tcp,
                port: PortMatch::Range(9000 + k, 9000 + k),
            }]);
            let mut next = d.clone();
            next.revision = 2 + u64::from(k);
            next.policies[at] = document(&policy).expect("document");
            next
        })
        .collect()
}

fn main() {
    let load_before = loadavg();
    let s = scale(WORKLOADS, PEERS);
    let (first, snap) = on_nodes(&s, 1, 1).expect("synthetic documents");
    let snap = std::sync::Arc::new(snap);
    let states = edits(&s, &first);

    // (a): the warm-up is states[0]; the runs are the rest.
    let mut whole = Vec::new();
    let mut reference = None;
    for d in &states {
        let t = Instant::now();
        let (program, _ctx) = plan(NODE, d, &snap).expect("whole plan");
        whole.push(t.elapsed());
        reference = Some(program);
    }
    whole.remove(0);
    // How much of (a) is YAML: parsing every document alone, a few runs.
    let parse_all: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for doc in &first.policies {
                doc.parse().expect("synthetic document");
            }
            t.elapsed()
        })
        .collect();
    // And the whole compile alone, of the same input.
    let parsed: Vec<_> = first
        .policies
        .iter()
        .map(|d| d.parse().expect("document"))
        .collect();
    let set = PolicySet::new(parsed).expect("policy set");
    let (inventory, modes) = inputs(NODE, &first, &snap);
    let input = Input {
        policies: &set,
        inventory: &inventory,
        node: Some(NODE),
        modes: &modes,
        interfaces: &snap.interfaces,
    };
    let compile_all: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            compile(&input).expect("compile");
            t.elapsed()
        })
        .collect();

    // (b)
    let mut planner = Planner::new(NODE);
    let t = Instant::now();
    let mut in_force = Some(planner.plan(&first, &snap).expect("first plan").context);
    let first_plan = t.elapsed();
    let (mut update, mut parses) = (Vec::new(), Vec::new());
    for d in &states {
        let before = planner.parses();
        let t = Instant::now();
        let planned = planner.plan(d, &snap).expect("update");
        update.push(t.elapsed());
        in_force = Some(planned.context);
        assert!(
            planner.was_incremental(),
            "revision {}: whole compile",
            d.revision
        );
        parses.push(planner.parses() - before);
    }
    update.remove(0);
    assert!(
        parses.iter().all(|&n| n == 1),
        "parses per update: {parses:?}"
    );
    let last = planner.plan(&states[RUNS], &snap).expect("again");
    assert!(
        Some(last.program) == reference.as_ref(),
        "planner differs from the whole path"
    );
    drop(in_force);

    let (a, b) = (median(whole.clone()), median(update.clone()));
    let mut r = String::new();
    let _ = writeln!(r, "# Agent plan: whole path vs. incremental planner\n");
    let _ = writeln!(
        r,
        "`cargo bench -p bulkhead-agent --bench plan` (release), `synthetic::scale({WORKLOADS}, {PEERS})` \
         on one node (every workload local), {} policy documents as YAML; medians of {RUNS} runs \
         after one warm-up; allocator: mimalloc, as in the `bulkhead` binary.\n",
        first.policies.len()
    );
    let _ = writeln!(r, "| path | median | min | max |\n|---|---|---|---|");
    for (name, v) in [
        ("(a) whole plan: parse all + compile", &whole),
        ("(b) planner after one port edit", &update),
    ] {
        let (min, max) = (v.iter().min(), v.iter().max());
        let (min, max) = (
            min.copied().unwrap_or_default(),
            max.copied().unwrap_or_default(),
        );
        let _ = writeln!(
            r,
            "| {name} | {} | {} | {} |",
            ms(median(v.clone())),
            ms(min),
            ms(max)
        );
    }
    let _ = writeln!(
        r,
        "\n- **b/a = {:.4}** ({:.0}x faster); (b) parsed 1 document per run, took \
         `Compiler::update`'s incremental path every time, and its last program equals (a)'s.",
        b.as_secs_f64() / a.as_secs_f64(),
        a.as_secs_f64() / b.as_secs_f64()
    );
    let _ = writeln!(
        r,
        "- Of (a), parsing every document alone takes {} and the whole compile alone {} \
         (medians of 5): the YAML, not the compile, is most of the whole path at this size.",
        ms(median(parse_all)),
        ms(median(compile_all))
    );
    let _ = writeln!(
        r,
        "- The planner's first plan (parse all, whole compile, keep): {}.",
        ms(first_plan)
    );
    let _ = writeln!(
        r,
        "- `/proc/loadavg` before: `{load_before}`; after: `{}`.",
        loadavg()
    );
    print!("{r}");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/bench/agent-plan.md"
    );
    if let Err(e) = std::fs::write(path, &r) {
        eprintln!("cannot write {path}: {e}");
        std::process::exit(1);
    }
}
