//! Port tables as sorted, disjoint segments, and the two operations the compiler needs:
//! resolving overlapping rules into one table, and overlaying a peer's table on `any`.
//!
//! Every rule carries a *priority*: denies before allows, then the rule's global number
//! (policy name, rule index). "A matching deny beats any allow; report the first deny,
//! else the first allow" is then simply "the smallest priority covering the point", and
//! combining two tables is a pointwise minimum.

use crate::program::{PortEntry, RuleId};
use bulkhead_policy::Action;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Rules are numbered below this bit; it marks allows so that denies sort first.
pub(crate) const ALLOW_BIT: u32 = 1 << 31;

/// `(protocol, first, last)` of a rule with no ports: every port of TCP, UDP and SCTP,
/// and protocol 0, which stands for every other protocol (ICMP, ...), on port 0.
pub(crate) const EVERYTHING: [(u8, u16, u16); 4] = [
    (0, 0, 0),
    (6, 0, u16::MAX),
    (17, 0, u16::MAX),
    (132, 0, u16::MAX),
];

pub(crate) fn priority(action: Action, global: u32) -> u32 {
    match action {
        Action::Deny => global,
        Action::Allow => global | ALLOW_BIT,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seg {
    pub protocol: u8,
    pub first: u16,
    pub last: u16,
    pub prio: u32,
}

impl Seg {
    pub fn new((protocol, first, last): (u8, u16, u16), prio: u32) -> Self {
        Seg {
            protocol,
            first,
            last,
            prio,
        }
    }
}

/// Appends, merging with the previous segment when it is adjacent and decides alike.
fn push(out: &mut Vec<Seg>, s: Seg) {
    if let Some(prev) = out.last_mut()
        && prev.protocol == s.protocol
        && prev.prio == s.prio
        && u32::from(prev.last) + 1 == u32::from(s.first)
    {
        prev.last = s.last;
        return;
    }
    out.push(s);
}

/// The pointwise minimum priority of possibly overlapping segments, as a sorted,
/// disjoint, merged table. A sweep over the boundaries with a heap of the open
/// segments: O(n log n) for n segments.
pub(crate) fn resolve(items: &mut [Seg]) -> Vec<Seg> {
    let mut out = Vec::new();
    resolve_into(items, &mut out);
    out
}

/// [`resolve`] into a reused buffer (cleared first).
pub(crate) fn resolve_into(items: &mut [Seg], out: &mut Vec<Seg>) {
    out.clear();
    // Most per-peer tables are one rule on one port: nothing to sweep.
    if let [one] = items {
        out.push(*one);
        return;
    }
    items.sort_unstable_by_key(|s| (s.protocol, s.first));
    let mut points: Vec<u32> = Vec::new();
    let mut open: BinaryHeap<Reverse<(u32, u32)>> = BinaryHeap::new();
    for group in items.chunk_by(|a, b| a.protocol == b.protocol) {
        let protocol = group[0].protocol;
        points.clear();
        points.extend(
            group
                .iter()
                .flat_map(|s| [u32::from(s.first), u32::from(s.last) + 1]),
        );
        points.sort_unstable();
        points.dedup();
        open.clear();
        let mut next = 0;
        for w in points.windows(2) {
            let (from, to) = (w[0], w[1]);
            while next < group.len() && u32::from(group[next].first) <= from {
                open.push(Reverse((group[next].prio, u32::from(group[next].last) + 1)));
                next += 1;
            }
            // Ended segments are dropped lazily: only the minimum has to be live.
            while open.peek().is_some_and(|Reverse((_, end))| *end <= from) {
                open.pop();
            }
            if let Some(Reverse((prio, _))) = open.peek() {
                // Points are boundaries of u16 ranges, so both fit (`to` ≤ 65536).
                let seg = Seg {
                    protocol,
                    first: from as u16,
                    last: (to - 1) as u16,
                    prio: *prio,
                };
                push(out, seg);
            }
        }
    }
}

/// The parts of `over` that change what `base` decides: where `base` has nothing or
/// `over` wins the minimum, written to `out` (cleared first). Both inputs are sorted
/// and disjoint; so is the output.
pub(crate) fn overlay_diff_into(base: &[Seg], over: &[Seg], out: &mut Vec<Seg>) {
    out.clear();
    for s in over {
        let (first, last) = (u32::from(s.first), u32::from(s.last));
        let piece = |from: u32, to: u32| Seg {
            first: from as u16,
            last: to as u16,
            ..*s
        };
        let mut at = first;
        let start = base.partition_point(|b| (b.protocol, b.last) < (s.protocol, s.first));
        for b in &base[start..] {
            if b.protocol != s.protocol || u32::from(b.first) > last {
                break;
            }
            let (bf, bl) = (u32::from(b.first), u32::from(b.last));
            if at < bf {
                push(out, piece(at, bf - 1));
            }
            if s.prio < b.prio {
                push(out, piece(at.max(bf), last.min(bl)));
            }
            at = bl + 1;
        }
        if at <= last {
            push(out, piece(at, last));
        }
    }
}

/// The table's entries, with each rule's global number replaced by its id.
pub(crate) fn entries(segs: &[Seg], rule_ids: &[RuleId]) -> Vec<PortEntry> {
    segs.iter()
        .map(|s| PortEntry {
            protocol: s.protocol,
            first: s.first,
            last: s.last,
            action: if s.prio & ALLOW_BIT == 0 {
                Action::Deny
            } else {
                Action::Allow
            },
            rule: rule_ids[(s.prio & !ALLOW_BIT) as usize],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlay_diff_alloc(base: &[Seg], over: &[Seg]) -> Vec<Seg> {
        let mut out = Vec::new();
        overlay_diff_into(base, over, &mut out);
        out
    }

    fn seg(protocol: u8, first: u16, last: u16, prio: u32) -> Seg {
        Seg::new((protocol, first, last), prio)
    }

    #[test]
    fn resolve_takes_the_minimum_and_merges() {
        let mut items = vec![
            seg(6, 0, 100, 5),
            seg(6, 50, 60, 2),
            seg(6, 101, 200, 5),
            seg(17, 53, 53, 1),
            seg(6, 150, u16::MAX, 9),
        ];
        assert_eq!(
            resolve(&mut items),
            [
                seg(6, 0, 49, 5),
                seg(6, 50, 60, 2),
                seg(6, 61, 200, 5),
                seg(6, 201, u16::MAX, 9),
                seg(17, 53, 53, 1),
            ]
        );
    }

    #[test]
    fn deny_priority_beats_every_allow() {
        assert!(priority(Action::Deny, 1000) < priority(Action::Allow, 0));
        assert!(priority(Action::Allow, 1) < priority(Action::Allow, 2));
    }

    #[test]
    fn overlay_keeps_only_what_changes_the_base() {
        let base = [seg(6, 10, 20, 5), seg(6, 30, 40, 1)];
        let over = [seg(6, 0, 50, 3), seg(17, 7, 7, 8)];
        assert_eq!(
            overlay_diff_alloc(&base, &over),
            [
                seg(6, 0, 20, 3),
                seg(6, 21, 29, 3),
                seg(6, 41, 50, 3),
                seg(17, 7, 7, 8),
            ]
            .iter()
            .fold(Vec::new(), |mut v, s| {
                push(&mut v, *s);
                v
            })
        );
        assert!(overlay_diff_alloc(&base, &[seg(6, 12, 15, 6)]).is_empty());
    }
}
