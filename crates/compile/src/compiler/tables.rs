//! Every local endpoint's two direction tables.
//!
//! Endpoints isolated by the same policies (and, when an ingress rule names a port, with
//! the same ports to resolve it) get the same table, computed once. Large nodes split
//! their endpoints into contiguous chunks computed on scoped threads: each table depends
//! only on shared read-only inputs, and chunks are joined in order, so the result is the
//! same however many threads ran.

use super::endpoint::{Context, Scratch};
use super::hash::FastMap;
use super::numbering::Book;
use super::rules::Rules;
use super::select::Selector;
use crate::program::{DirectionProgram, RuleId, direction_fingerprint_in};
use bulkhead_policy::{Direction, NamedPort};

/// Below this many endpoints a thread costs more than it saves.
const PER_THREAD: usize = 512;
/// A fixed cap rather than the machine's core count: asking the OS for it reads cgroup
/// files, and the compiler does no I/O. This stage is about a third of the work, so
/// more threads would gain little, and on a single core two cost no more CPU than one.
const MAX_THREADS: usize = 2;

/// Distinct tables, and for each endpoint which table each direction uses (`None`:
/// not isolated).
pub(crate) struct Tables {
    pub tables: Vec<DirectionProgram>,
    /// `fingerprints[t]` is [`crate::program::direction_fingerprint`] of `tables[t]`, computed on the
    /// chunk's thread, once per shared table.
    pub fingerprints: Vec<u64>,
    pub uses: Vec<[Option<usize>; 2]>,
}

/// The key under which endpoints share a direction's table: the default deny's id
/// (which names the direction and the isolating policies) and, when an ingress rule
/// names a port, the endpoint's own ports.
type ShareKey<'s> = (RuleId, &'s [NamedPort]);

pub(crate) struct Inputs<'s, 'a> {
    pub ctx: &'s Context<'s, Rules<'a>>,
    pub book: &'s Book,
    pub rules: &'s Rules<'a>,
    pub selector: &'s Selector<'a>,
    /// Selector positions of the local endpoints, in endpoint order.
    pub local: &'s [u32],
    /// `selecting[slot][endpoint]`: the isolating policies.
    pub selecting: &'s [Vec<Vec<u32>>; 2],
}

pub(crate) fn build(inputs: &Inputs<'_, '_>) -> Tables {
    let n = inputs.local.len();
    let threads = (n / PER_THREAD).clamp(1, MAX_THREADS);
    if threads == 1 {
        return chunk(inputs, 0, n);
    }
    let size = n.div_ceil(threads);
    let parts: Vec<Tables> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(size)
            .map(|start| s.spawn(move || chunk(inputs, start, (start + size).min(n))))
            .collect();
        handles
            .into_iter()
            // A panic in a chunk is a bug; carry it to the caller unchanged.
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut out = Tables {
        tables: Vec::new(),
        fingerprints: Vec::new(),
        uses: Vec::with_capacity(n),
    };
    for part in parts {
        let offset = out.tables.len();
        out.tables.extend(part.tables);
        out.fingerprints.extend(part.fingerprints);
        out.uses.extend(
            part.uses
                .into_iter()
                .map(|slots| slots.map(|s| s.map(|t| t + offset))),
        );
    }
    out
}

/// The tables of endpoints `start..end`.
fn chunk(inputs: &Inputs<'_, '_>, start: usize, end: usize) -> Tables {
    let mut scratch = Scratch::default();
    let mut tables: Vec<DirectionProgram> = Vec::new();
    let mut shared: FastMap<ShareKey<'_>, usize> = FastMap::default();
    let mut uses = Vec::with_capacity(end - start);
    for l in start..end {
        let w = inputs.selector.workloads[inputs.local[l] as usize];
        let mut slots = [None, None];
        for (slot, direction) in [Direction::Ingress, Direction::Egress]
            .into_iter()
            .enumerate()
        {
            let policies = inputs.selecting[slot][l].as_slice();
            if policies.is_empty() {
                continue;
            }
            let named = slot == 0
                && policies
                    .iter()
                    .any(|&p| inputs.rules.named_ingress[p as usize]);
            let default_rule = inputs.book.default_id(slot, l);
            let key = (default_rule, if named { &w.ports[..] } else { &[] });
            let t = *shared.entry(key).or_insert_with(|| {
                let mut table = inputs.ctx.direction(&mut scratch, w, direction, policies);
                table.default_rule = default_rule;
                tables.push(table);
                tables.len() - 1
            });
            slots[slot] = Some(t);
        }
        uses.push(slots);
    }
    let mut buf = Vec::new();
    let fingerprints = tables
        .iter()
        .map(|t| direction_fingerprint_in(t, &mut buf))
        .collect();
    Tables {
        tables,
        fingerprints,
        uses,
    }
}
