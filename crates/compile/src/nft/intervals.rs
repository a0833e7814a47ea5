//! Flattening the longest-prefix-match ipcache into disjoint address ranges: the
//! kernel's interval sets hold only disjoint elements.

use crate::program::IdentityId;
use ipnet::Ipv4Net;

/// The ipcache flattened: disjoint ranges covering every address, each with the identity
/// the longest-prefix match gives it, plus each identity's own ranges.
pub struct Flat {
    /// Sorted, adjacent ranges with the identity of each.
    pub ranges: Vec<(u32, u32, IdentityId)>,
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

    // Both bounds lie within the u32 address space by construction.
    let ranges = out
        .into_iter()
        .map(|(lo, hi, id)| (lo as u32, hi as u32, id))
        .collect();
    Flat { ranges }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// An inclusive address range, as `u32`s.
    type Range = (u32, u32);

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    /// Each identity's ranges.
    fn by_identity(flat: &Flat) -> BTreeMap<IdentityId, Vec<Range>> {
        let mut m: BTreeMap<IdentityId, Vec<Range>> = BTreeMap::new();
        for &(lo, hi, id) in &flat.ranges {
            m.entry(id).or_default().push((lo, hi));
        }
        m
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
        let flat = by_identity(&flat);
        assert_eq!(flat[&3], vec![(ip("10.0.0.10"), ip("10.0.0.10"))]);
        assert_eq!(
            flat[&2],
            vec![
                (ip("10.0.0.0"), ip("10.0.0.9")),
                (ip("10.0.0.11"), ip("10.0.0.255"))
            ]
        );
        assert_eq!(flat[&1], vec![(ip("10.0.1.0"), ip("10.0.255.255"))]);
        assert_eq!(
            flat[&9],
            vec![(0, ip("9.255.255.255")), (ip("10.1.0.0"), u32::MAX)]
        );
        assert!(!flat.contains_key(&0));
    }

    #[test]
    fn uncovered_addresses_get_the_fallback_and_ranges_cover_everything() {
        let flat = by_identity(&flatten(
            &[(net("10.0.0.0/8"), 1), (net("10.0.0.0/9"), 2)],
            0,
        ));
        let mut all: Vec<Range> = flat.values().flatten().copied().collect();
        all.sort();
        assert_eq!(all.first().map(|r| r.0), Some(0));
        assert_eq!(all.last().map(|r| r.1), Some(u32::MAX));
        for w in all.windows(2) {
            assert_eq!(w[0].1 + 1, w[1].0);
        }
        assert_eq!(flat[&2], vec![(ip("10.0.0.0"), ip("10.127.255.255"))]);
    }
}
