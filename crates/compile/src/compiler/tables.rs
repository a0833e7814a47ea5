//! Every local endpoint's two direction tables, and the endpoints assembled from them.
//!
//! Endpoints isolated by the same policies (and, when an ingress rule names a port, with
//! the same ports to resolve it) get the same table, computed once. Large nodes split
//! their endpoints into contiguous chunks computed on scoped threads: each table depends
//! only on shared read-only inputs, and chunks are joined in order, so the result is the
//! same however many threads ran.

use super::assemble::{self, Shared};
use super::endpoint::{Context, Scratch};
use super::hash::FastMap;
use super::numbering::Book;
use super::rules::Rules;
use crate::program::{DirectionProgram, Endpoint, RuleId, direction_fingerprint_in};
use bulkhead_policy::{Direction, NamedPort};

/// Below this many endpoints a thread costs more than it saves.
const PER_THREAD: usize = 512;
/// A fixed cap rather than the machine's core count: asking the OS for it reads cgroup
/// files, and the compiler does no I/O. This stage is about a third of the work, so
/// more threads would gain little, and on a single core two cost no more CPU than one.
const MAX_THREADS: usize = 2;

/// The key under which endpoints share a direction's table: the default deny's id
/// (which names the direction and the isolating policies) and, when an ingress rule
/// names a port, the endpoint's own ports.
type ShareKey<'s> = (RuleId, &'s [NamedPort]);

pub(crate) struct Inputs<'s, 'a> {
    pub ctx: &'s Context<'s, Rules<'a>>,
    pub book: &'s Book,
    pub rules: &'s Rules<'a>,
    /// Selector positions of the local endpoints, in endpoint order.
    pub local: &'s [u32],
    /// `selecting[slot][endpoint]`: the isolating policies.
    pub selecting: &'s [Vec<Vec<u32>>; 2],
    pub shared: &'s Shared<'s, 'a>,
}

/// Every local endpoint, in endpoint order.
pub(crate) fn build(inputs: &Inputs<'_, '_>) -> Vec<Endpoint> {
    let n = inputs.local.len();
    let threads = (n / PER_THREAD).clamp(1, MAX_THREADS);
    if threads == 1 {
        return chunk(inputs, 0, n);
    }
    let size = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(size)
            .map(|start| s.spawn(move || chunk(inputs, start, (start + size).min(n))))
            .collect();
        let mut out = Vec::with_capacity(n);
        for h in handles {
            // A panic in a chunk is a bug; carry it to the caller unchanged.
            out.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        out
    })
}

/// Endpoints `start..end`, each distinct table among them computed once.
fn chunk(inputs: &Inputs<'_, '_>, start: usize, end: usize) -> Vec<Endpoint> {
    let mut scratch = Scratch::default();
    let mut tables: Vec<DirectionProgram> = Vec::new();
    let mut shared: FastMap<ShareKey<'_>, usize> = FastMap::default();
    let mut uses = Vec::with_capacity(end - start);
    for l in start..end {
        let w = inputs.shared.selector.workloads[inputs.local[l] as usize];
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
    let fingerprints: Vec<u64> = tables
        .iter()
        .map(|t| direction_fingerprint_in(t, &mut buf))
        .collect();
    assemble::endpoints(inputs.shared, start, tables, &fingerprints, &uses)
}
