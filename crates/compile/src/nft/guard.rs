//! The unknown-address guard: on address ranges where every address in use should
//! belong to a workload or the node (a Docker bridge's subnet, say), a packet from or to
//! an address nobody has told the agent about is dropped, until the agent knows it.
//!
//! Why: a container starts, and sends, before any runtime event can reach the agent.
//! Without the guard its first packets would meet no check of its own (its address is
//! no endpoint's yet) and pass; with it they are dropped, and the apply that makes the
//! container known lifts the guard for its address in the same atomic step that puts
//! its own rules in force. So a new container is governed from its first packet: until
//! known it may talk to nobody, then exactly as its policy says.
//!
//! In the ruleset: one interval set `unknown` (the guarded ranges minus the known
//! addresses, a part of its own so updates touch only its elements), and in each base
//! chain, right after `ct state established,related accept`, `ip saddr @unknown drop`
//! and `ip daddr @unknown drop`. Replies of connections admitted before stay allowed.

use super::ir::{Element, ElementKey, MapId, Part, Value};
use ipnet::Ipv4Net;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// The addresses of `guarded` that are not in `known`, as sorted, disjoint, inclusive
/// ranges.
pub fn unknown_ranges(guarded: &[Ipv4Net], known: &BTreeSet<Ipv4Addr>) -> Vec<(u32, u32)> {
    let mut ranges: Vec<(u32, u32)> = guarded
        .iter()
        .map(|n| (u32::from(n.network()), u32::from(n.broadcast())))
        .collect();
    ranges.sort();
    let mut merged: Vec<(u32, u32)> = Vec::new();
    for (lo, hi) in ranges {
        match merged.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    let mut out = Vec::new();
    for (lo, hi) in merged {
        let mut next = Some(lo);
        for k in known.range(Ipv4Addr::from(lo)..=Ipv4Addr::from(hi)) {
            let k = u32::from(*k);
            if let Some(n) = next
                && n < k
            {
                out.push((n, k - 1));
            }
            next = k.checked_add(1);
        }
        if let Some(n) = next
            && n <= hi
        {
            out.push((n, hi));
        }
    }
    out
}

/// The guard's elements for `ranges` (from [`unknown_ranges`]); `None` if there are none.
pub fn part(ranges: &[(u32, u32)]) -> Option<Part> {
    if ranges.is_empty() {
        return None;
    }
    let elements = ranges
        .iter()
        .map(|&(lo, hi)| {
            let key = ElementKey::Range(Ipv4Addr::from(lo), Ipv4Addr::from(hi));
            let e = Element {
                key,
                value: Value::None,
            };
            (MapId::Unknown, e)
        })
        .collect();
    Some(Part {
        elements,
        decisions: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    #[test]
    fn known_addresses_are_cut_out_of_merged_ranges() {
        let guarded: Vec<Ipv4Net> = ["10.0.0.0/30", "10.0.0.4/30", "10.0.1.0/31"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let known = ["10.0.0.0", "10.0.0.2", "10.0.0.7", "10.0.1.1", "9.9.9.9"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let r = unknown_ranges(&guarded, &known);
        let want = vec![
            (ip("10.0.0.1"), ip("10.0.0.1")),
            (ip("10.0.0.3"), ip("10.0.0.6")),
            (ip("10.0.1.0"), ip("10.0.1.0")),
        ];
        assert_eq!(r, want);
    }

    #[test]
    fn the_top_of_the_address_space_does_not_overflow() {
        let guarded = vec!["255.255.255.252/30".parse().unwrap()];
        let known = ["255.255.255.255".parse().unwrap()].into_iter().collect();
        assert_eq!(
            unknown_ranges(&guarded, &known),
            vec![(ip("255.255.255.252"), ip("255.255.255.254"))]
        );
    }

    #[test]
    fn the_guard_follows_established_and_precedes_the_checks() {
        let program = crate::Program {
            rules: vec![bulkhead_policy::ir::Reason::NotIsolated],
            identities: Vec::new(),
            ipcache: vec![("0.0.0.0/0".parse().unwrap(), 0)],
            endpoints: Vec::new(),
        };
        let mut b = crate::nft::Builder::default();
        b.set_guard(&[]);
        let plain = b.build(&program, &crate::nft::Stamps::default()).unwrap();
        assert!(
            !crate::nft::render(&plain).contains("unknown"),
            "no ranges, no guard"
        );
        b.set_guard(&[
            (ip("10.0.0.1"), ip("10.0.0.9")),
            (ip("10.0.0.11"), ip("10.0.0.11")),
        ]);
        let rs = b.build(&program, &crate::nft::Stamps::default()).unwrap();
        let text = crate::nft::render(&rs);
        let forward: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.contains("chain forward"))
            .skip(2)
            .take(3)
            .map(str::trim)
            .collect();
        assert_eq!(
            forward,
            [
                "ct state established,related accept",
                "ip saddr @unknown drop",
                "ip daddr @unknown drop",
            ],
            "{text}"
        );
        assert!(text.contains("10.0.0.1-10.0.0.9,"), "{text}");
        assert!(text.contains("10.0.0.11\n"), "{text}");
    }
}
