//! Port ranges → exact-match keys: the fewest aligned power-of-two blocks of ports that
//! make a lookup level decide what it must.
//!
//! A level's lookup either hits (its element decides) or misses (the next level
//! decides: its *fallback*). For each port the level must hit where what it wants
//! differs from the fallback, may hit where they agree, and must not hit where it wants
//! something else. A block `[first, first + 2^k)` with `first` a multiple of `2^k` is
//! one hash element keyed by `port & mask` (`th dport & 0xfff0`, say), so ranges never
//! need interval sets. The cover is computed on the binary trie of ports: a node with
//! nothing to decide costs nothing, a node where the wanted decision is the same
//! everywhere costs one block, any other node costs its two halves. That is optimal:
//! a node mixing decisions cannot be one block, and one block is the least a node with
//! something to decide costs. Work is O(breakpoints × 16), without walking the trie
//! ([`runs`]).

use super::decision::Decision;

/// A function from port (0..=65535) to decision, as breakpoints: `(first port, value)`,
/// sorted, the first at port 0; each value holds up to the next breakpoint.
pub type Steps = Vec<(u16, Decision)>;

/// An aligned block of ports: `prefix` leading bits fixed (16: one port; 0: all ports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub first: u16,
    pub prefix: u8,
    pub decision: Decision,
}

/// Reusable buffers, so that covering many small tables allocates nothing.
#[derive(Default)]
pub struct Scratch {
    segments: Vec<(u32, Decision, Decision)>,
}

/// The constant function.
pub fn constant(d: Decision) -> Steps {
    vec![(0, d)]
}

/// `entries` (sorted, disjoint, inclusive `(first, last, decision)`) laid over `base`:
/// what a lookup in `entries` decides, falling back to `base` where it misses.
pub fn overlay(entries: &[(u16, u16, Decision)], base: &[(u16, Decision)], out: &mut Steps) {
    out.clear();
    let mut pos: u32 = 0;
    for &(first, last, d) in entries {
        if u32::from(first) > pos {
            copy(base, pos, u32::from(first) - 1, out);
        }
        push(out, first, d);
        pos = u32::from(last) + 1;
    }
    if pos <= u32::from(u16::MAX) {
        copy(base, pos, u32::from(u16::MAX), out);
    }
}

/// The value of `steps` at `port`.
pub fn at(steps: &[(u16, Decision)], port: u16) -> Option<Decision> {
    let i = steps.partition_point(|s| s.0 <= port);
    i.checked_sub(1).map(|i| steps[i].1)
}

/// Copies `base` over `[lo, hi]` (both within u16).
fn copy(base: &[(u16, Decision)], lo: u32, hi: u32, out: &mut Steps) {
    // lo and hi come from u16 values, so they fit.
    let (lo16, hi16) = (lo as u16, hi as u16);
    if let Some(d) = at(base, lo16) {
        push(out, lo16, d);
    }
    let from = base.partition_point(|s| s.0 <= lo16);
    for &(start, d) in base[from..].iter().take_while(|s| s.0 <= hi16) {
        push(out, start, d);
    }
}

fn push(out: &mut Steps, start: u16, d: Decision) {
    match out.last() {
        Some(&(_, last)) if last == d => {}
        _ => out.push((start, d)),
    }
}

/// [`cover`] of one port `port` wanting `d` laid over `fallback` (the most common
/// table: one rule, one port), without building either function: nothing if the
/// fallback decides `d` there already, else the port alone — unless its aligned
/// neighbour falls back to `d` too, where a bigger block could serve both; then `None`
/// and the caller takes the general way.
pub fn cover_port(port: u16, d: Decision, fallback: &[(u16, Decision)]) -> Option<Option<Block>> {
    if at(fallback, port) == Some(d) {
        return Some(None);
    }
    if at(fallback, port ^ 1) == Some(d) {
        return None;
    }
    Some(Some(Block {
        first: port,
        prefix: 16,
        decision: d,
    }))
}

/// Appends to `out` the blocks a level wanting `want` needs over `fallback`.
pub fn cover(
    want: &[(u16, Decision)],
    fallback: &[(u16, Decision)],
    s: &mut Scratch,
    out: &mut Vec<Block>,
) {
    let segs = &mut s.segments;
    segs.clear();
    let (mut i, mut j) = (0, 0);
    // Merge the breakpoints of both functions: (start, wanted, fallback).
    while i < want.len() || j < fallback.len() {
        let a = want.get(i).map_or(u32::MAX, |x| u32::from(x.0));
        let b = fallback.get(j).map_or(u32::MAX, |x| u32::from(x.0));
        let start = a.min(b);
        if a == start {
            i += 1;
        }
        if b == start {
            j += 1;
        }
        let w = want[i.saturating_sub(1)].1;
        let f = fallback[j.saturating_sub(1)].1;
        segs.push((start, w, f));
    }
    if segs.first().is_some_and(|s| s.0 == 0) {
        runs(segs, out);
    }
}

/// The trie's cover without walking the trie: a trie node is one block exactly when it
/// lies inside one run of equal wanted decisions and its parent does not, so the nodes
/// that become blocks are each run's canonical split into aligned blocks, and a block
/// is written when it holds a port whose wanted decision differs from the fallback.
/// (The recursive walk, kept in the tests as the reference, spent half of building a
/// 10,000-endpoint ruleset descending 16 levels for every single-port table.)
fn runs(segs: &[(u32, Decision, Decision)], out: &mut Vec<Block>) {
    const END: u32 = 1 << 16;
    let end_of = |k: usize| segs.get(k + 1).map_or(END, |s| s.0);
    let mut i = 0;
    while i < segs.len() {
        let wanted = segs[i].1;
        let (mut j, mut must) = (i, false);
        while j < segs.len() && segs[j].1 == wanted {
            must |= segs[j].1 != segs[j].2;
            j += 1;
        }
        if must {
            let stop = segs.get(j).map_or(END, |s| s.0);
            let (mut at, mut k) = (segs[i].0, i);
            while at < stop {
                // The largest aligned block starting at `at` that stays inside the run.
                let mut bits = if at == 0 {
                    16
                } else {
                    at.trailing_zeros().min(16)
                };
                while at + (1 << bits) > stop {
                    bits -= 1;
                }
                let next = at + (1 << bits);
                while end_of(k) <= at {
                    k += 1;
                }
                let hit = segs[k..j]
                    .iter()
                    .take_while(|s| s.0 < next)
                    .any(|s| s.1 != s.2);
                if hit {
                    out.push(Block {
                        // `at` is a block start below 65536; bits ≤ 16.
                        first: at as u16,
                        prefix: (16 - bits) as u8,
                        decision: wanted,
                    });
                }
                at = next;
            }
        }
        i = j;
    }
}

#[cfg(test)]
mod tests;
