//! Interval arithmetic the ruleset needs because the kernel's interval sets hold only
//! disjoint elements: flattening the longest-prefix-match ipcache into disjoint address
//! ranges, and laying one port table over another.

use crate::program::{IdentityId, RuleId};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;

/// An inclusive address range, as `u32`s.
pub type Range = (u32, u32);

/// The ipcache flattened: disjoint ranges covering every address, each with the identity
/// the longest-prefix match gives it, plus each identity's own ranges.
pub struct Flat {
    pub by_identity: BTreeMap<IdentityId, Vec<Range>>,
}

/// Flattens an LPM table. Nested prefixes are handled by a sweep over prefixes sorted by
/// (start, length): a stack holds the prefixes that contain the current position, the
/// innermost on top. Addresses no prefix covers get `fallback`.
pub fn flatten(ipcache: &[(Ipv4Net, IdentityId)], fallback: IdentityId) -> Flat {
    let mut prefixes: Vec<(u64, u64, u8, IdentityId)> = ipcache
        .iter()
        .map(|(net, id)| {
            let net = net.trunc();
            (
                u64::from(u32::from(net.network())),
                u64::from(u32::from(net.broadcast())),
                net.prefix_len(),
                *id,
            )
        })
        .collect();
    prefixes.sort_by_key(|&(start, _, len, _)| (start, len));

    let mut out: Vec<(u64, u64, IdentityId)> = Vec::new();
    let mut push = |lo: u64, hi: u64, id: IdentityId| {
        if lo > hi {
            return;
        }
        match out.last_mut() {
            Some(last) if last.2 == id && last.1 + 1 == lo => last.1 = hi,
            _ => out.push((lo, hi, id)),
        }
    };
    let mut stack: Vec<(u64, IdentityId)> = Vec::new();
    let mut cursor: u64 = 0;
    for (start, end, _, id) in prefixes {
        // Close the prefixes that end before this one starts.
        while let Some(&(top_end, top_id)) = stack.last() {
            if top_end >= start {
                break;
            }
            push(cursor, top_end, top_id);
            cursor = cursor.max(top_end + 1);
            stack.pop();
        }
        if start > cursor {
            let enclosing = stack.last().map_or(fallback, |t| t.1);
            push(cursor, start - 1, enclosing);
            cursor = start;
        }
        stack.push((end, id));
    }
    while let Some((top_end, top_id)) = stack.pop() {
        push(cursor, top_end, top_id);
        cursor = cursor.max(top_end + 1);
    }
    push(cursor, u64::from(u32::MAX), fallback);

    let mut by_identity: BTreeMap<IdentityId, Vec<Range>> = BTreeMap::new();
    for (lo, hi, id) in out {
        // Both bounds lie within the u32 address space by construction.
        let (lo, hi) = (lo as u32, hi as u32);
        by_identity.entry(id).or_default().push((lo, hi));
    }
    Flat { by_identity }
}

/// What one map element decides, before chain names are spelled out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decide {
    Return,
    Deny(RuleId),
}

/// A sorted, disjoint port table: (protocol, first port, last port, decision).
pub type Table = Vec<(u8, u16, u16, Decide)>;

/// Appends a segment, merging it into the previous one when adjacent and alike.
pub fn push(t: &mut Table, seg: (u8, u16, u16, Decide)) {
    if let Some(l) = t.last_mut()
        && l.0 == seg.0
        && l.3 == seg.3
        && u32::from(l.2) + 1 == u32::from(seg.1)
    {
        l.2 = seg.2;
        return;
    }
    t.push(seg);
}

/// The parts of `top` that decide differently from its fallback: `base` where `base`
/// has an entry, else `default`. A lookup that misses `top` and falls back therefore
/// gives the same answer as one that hits it, so only these parts need elements.
/// Both tables must be sorted and disjoint; so is the result.
pub fn minus(
    top: &[(u8, u16, u16, Decide)],
    base: &[(u8, u16, u16, Decide)],
    default: Decide,
) -> Table {
    let mut out = Table::new();
    // Keeps [a, b] of a segment deciding `d` if its fallback there decides otherwise.
    let keep = |out: &mut Table, p: u8, a: u32, b: u32, d: Decide, fallback: Decide| {
        if a <= b && d != fallback {
            // Both bounds lie within a u16 segment, so they fit.
            push(out, (p, a as u16, b as u16, d));
        }
    };
    for &(p, first, last, d) in top {
        let mut from = u32::from(first);
        let last = u32::from(last);
        // The first base entry of this protocol that ends at or after `first`.
        let start = base.partition_point(|b| (b.0, b.2) < (p, first));
        for &(bp, bf, bl, bd) in &base[start..] {
            let (bf, bl) = (u32::from(bf), u32::from(bl));
            if bp != p || bf > last {
                break;
            }
            if bf > from {
                keep(&mut out, p, from, bf - 1, d, default);
            }
            keep(&mut out, p, from.max(bf), bl.min(last), d, bd);
            from = bl + 1;
        }
        keep(&mut out, p, from, last, d, default);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
    }

    #[test]
    fn nested_prefixes_flatten_to_disjoint_ranges() {
        let flat = flatten(
            &[
                (net("10.0.0.10/32"), 3),
                (net("10.0.0.0/24"), 2),
                (net("10.0.0.0/16"), 1),
                (net("0.0.0.0/0"), 9),
            ],
            0,
        );
        assert_eq!(
            flat.by_identity[&3],
            vec![(ip("10.0.0.10"), ip("10.0.0.10"))]
        );
        assert_eq!(
            flat.by_identity[&2],
            vec![
                (ip("10.0.0.0"), ip("10.0.0.9")),
                (ip("10.0.0.11"), ip("10.0.0.255"))
            ]
        );
        assert_eq!(
            flat.by_identity[&1],
            vec![(ip("10.0.1.0"), ip("10.0.255.255"))]
        );
        assert_eq!(
            flat.by_identity[&9],
            vec![(0, ip("9.255.255.255")), (ip("10.1.0.0"), u32::MAX)]
        );
        assert!(!flat.by_identity.contains_key(&0));
    }

    #[test]
    fn uncovered_addresses_get_the_fallback_and_ranges_cover_everything() {
        let flat = flatten(&[(net("10.0.0.0/8"), 1), (net("10.0.0.0/9"), 2)], 0);
        let mut all: Vec<Range> = flat.by_identity.values().flatten().copied().collect();
        all.sort();
        assert_eq!(all.first().map(|r| r.0), Some(0));
        assert_eq!(all.last().map(|r| r.1), Some(u32::MAX));
        for w in all.windows(2) {
            assert_eq!(w[0].1 + 1, w[1].0);
        }
        assert_eq!(
            flat.by_identity[&2],
            vec![(ip("10.0.0.0"), ip("10.127.255.255"))]
        );
    }

    const R: Decide = Decide::Return;

    #[test]
    fn minus_keeps_only_what_differs_from_the_fallback() {
        let d = Decide::Deny(9);
        let top = [(6, 20, 30, d), (6, 80, 80, R), (17, 53, 53, R)];
        let base = [(6, 1, 25, d), (6, 28, 28, R), (6, 80, 90, R)];
        assert_eq!(minus(&top, &base, R), vec![(6, 26, 30, d)]);
        assert_eq!(minus(&top, &base, d), vec![(6, 28, 28, d), (17, 53, 53, R)]);
        assert_eq!(minus(&[(6, 0, 65535, d)], &[], d), Table::new());
        let all = [(6, 0, 65535, d)];
        assert_eq!(minus(&all, &[(6, 0, 65535, R)], R), all.to_vec());
    }
}
