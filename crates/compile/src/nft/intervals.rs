//! Interval arithmetic the ruleset needs because the kernel's interval sets hold only
//! disjoint elements: flattening the longest-prefix-match ipcache into disjoint address
//! ranges, and laying one port table over another.

use crate::program::{IdentityId, PortEntry};
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

/// `top` laid over `base`: every entry of `top`, plus the parts of `base` entries whose
/// ports `top` does not cover (for the same protocol). This is
/// [`DirectionProgram::lookup`](crate::program::DirectionProgram::lookup)'s "peers, else
/// any" as one disjoint table. Both inputs must be sorted and disjoint; so is the result.
pub fn overlay(top: &[PortEntry], base: &[PortEntry]) -> Vec<PortEntry> {
    let mut out: Vec<PortEntry> = top.to_vec();
    for b in base {
        let mut from = u32::from(b.first);
        let last = u32::from(b.last);
        for t in top.iter().filter(|t| t.protocol == b.protocol) {
            let (tf, tl) = (u32::from(t.first), u32::from(t.last));
            if tl < from || tf > last {
                continue;
            }
            if tf > from {
                out.push(PortEntry {
                    first: from as u16,
                    last: (tf - 1) as u16,
                    ..*b
                });
            }
            from = tl + 1;
        }
        if from <= last {
            out.push(PortEntry {
                first: from as u16,
                ..*b
            });
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_policy::Action;

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
        assert_eq!(flat.by_identity[&3], vec![(ip("10.0.0.10"), ip("10.0.0.10"))]);
        assert_eq!(
            flat.by_identity[&2],
            vec![
                (ip("10.0.0.0"), ip("10.0.0.9")),
                (ip("10.0.0.11"), ip("10.0.0.255"))
            ]
        );
        assert_eq!(flat.by_identity[&1], vec![(ip("10.0.1.0"), ip("10.0.255.255"))]);
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
        assert_eq!(flat.by_identity[&2], vec![(ip("10.0.0.0"), ip("10.127.255.255"))]);
    }

    fn e(protocol: u8, first: u16, last: u16, rule: u32) -> PortEntry {
        PortEntry {
            protocol,
            first,
            last,
            action: Action::Allow,
            rule,
        }
    }

    #[test]
    fn overlay_keeps_top_and_the_uncovered_parts_of_base() {
        let top = [e(6, 80, 80, 1), e(6, 90, 100, 2)];
        let base = [e(6, 1, 65535, 5), e(17, 53, 53, 6)];
        assert_eq!(
            overlay(&top, &base),
            vec![
                e(6, 1, 79, 5),
                e(6, 80, 80, 1),
                e(6, 81, 89, 5),
                e(6, 90, 100, 2),
                e(6, 101, 65535, 5),
                e(17, 53, 53, 6)
            ]
        );
        assert_eq!(overlay(&[e(6, 0, 65535, 1)], &base), vec![e(6, 0, 65535, 1), e(17, 53, 53, 6)]);
    }
}
