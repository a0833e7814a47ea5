//! The shape every compiled [`Program`] must have, whatever the input: what the
//! backends rely on without checking (sorted, disjoint, minimal, ids in range).

use bulkhead_compile::Program;
use bulkhead_compile::program::{DirectionProgram, PortEntry, PortTable};
use bulkhead_policy::Direction;
use bulkhead_policy::ir::Reason;
use ipnet::Ipv4Net;

pub fn assert_well_formed(p: &Program) {
    assert_eq!(p.rules.first(), Some(&Reason::NotIsolated));
    assert!(
        p.rules.windows(2).all(|w| w[0] < w[1]),
        "rules must be sorted and unique: {:?}",
        p.rules
    );
    assert!(!p.identities.is_empty(), "identity 0 is the wildcard");
    let n = p.identities.len() as u32;
    assert!(
        p.ipcache.contains(&(
            Ipv4Net::default(),
            p.identity_of("0.0.0.0".parse().unwrap())
        )),
        "the ipcache holds 0.0.0.0/0"
    );
    let key = |(net, _): &(Ipv4Net, u32)| (std::cmp::Reverse(net.prefix_len()), net.network());
    assert!(
        p.ipcache.windows(2).all(|w| key(&w[0]) < key(&w[1])),
        "ipcache order"
    );
    for id in 1..n {
        assert!(
            p.ipcache.iter().any(|(_, i)| *i == id),
            "identity {id} has no address"
        );
    }
    assert!(
        p.ipcache
            .iter()
            .all(|(net, id)| *id >= 1 && *id < n && *net == net.trunc())
    );
    for (i, e) in p.endpoints.iter().enumerate() {
        assert_eq!(e.index as usize, i, "endpoint indexes are dense");
        assert!(e.identity >= 1 && e.identity < n);
        // The compiler's shortcut (one hash per shared table) gives the content's value.
        assert_eq!(
            e.fingerprint,
            e.content_fingerprint(),
            "fingerprint of {}",
            e.workload
        );
        direction(p, &e.ingress, Direction::Ingress);
        direction(p, &e.egress, Direction::Egress);
    }
    assert!(
        p.endpoints
            .windows(2)
            .all(|w| w[0].workload < w[1].workload)
    );
}

fn direction(p: &Program, d: &DirectionProgram, direction: Direction) {
    if !d.isolated {
        assert_eq!(d.default_rule, 0);
        assert!(d.any.entries.is_empty() && d.peers.is_empty());
        return;
    }
    match p.rule(d.default_rule) {
        Some(Reason::DefaultDeny { direction: dd, .. }) => assert_eq!(*dd, direction),
        other => panic!("default rule {} is {other:?}", d.default_rule),
    }
    table(p, &d.any, direction);
    for (id, t) in &d.peers {
        assert!(*id >= 1 && (*id as usize) < p.identities.len());
        assert!(!t.entries.is_empty(), "empty peer table for {id}");
        table(p, t, direction);
        for e in &t.entries {
            for start in pieces(&d.any, e) {
                let same = d
                    .any
                    .lookup(e.protocol, start)
                    .is_some_and(|a| a.action == e.action && a.rule == e.rule);
                assert!(
                    !same,
                    "peer {id} repeats `any` at {}/{start}: {e:?}",
                    e.protocol
                );
            }
        }
    }
}

fn table(p: &Program, t: &PortTable, direction: Direction) {
    for e in &t.entries {
        assert!(e.first <= e.last);
        assert!(e.protocol != 0 || (e.first == 0 && e.last == 0));
        assert!(matches!(e.protocol, 0 | 6 | 17 | 132));
        match p.rule(e.rule) {
            Some(Reason::Rule {
                direction: rd,
                action,
                ..
            }) => assert!(*rd == direction && *action == e.action),
            other => panic!("entry {e:?} names {other:?}"),
        }
    }
    for w in t.entries.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(
            (a.protocol, a.last) < (b.protocol, b.first),
            "overlap: {a:?} {b:?}"
        );
        let mergeable = a.protocol == b.protocol
            && u32::from(a.last) + 1 == u32::from(b.first)
            && (a.action, a.rule) == (b.action, b.rule);
        assert!(!mergeable, "unmerged neighbours: {a:?} {b:?}");
    }
}

/// The starts of the ranges within `e` on which `any` is constant.
fn pieces(any: &PortTable, e: &PortEntry) -> Vec<u16> {
    let mut out = vec![e.first];
    for a in any.entries.iter().filter(|a| a.protocol == e.protocol) {
        for b in [u32::from(a.first), u32::from(a.last) + 1] {
            if b > u32::from(e.first) && b <= u32::from(e.last) {
                out.push(b as u16);
            }
        }
    }
    out
}
