//! One endpoint's elements: per direction its check-map elements and default, and its
//! addresses in `@enforced` if any of its checks can drop.
//!
//! Per direction, [`DirectionProgram::lookup`] is three levels, and each level writes
//! only where it decides differently from the levels after it (a miss falls through
//! to them, which then gives the same answer):
//!
//! - default: `d0` = deny by `default_rule` if isolated, else allow (one element
//!   in `<dir>_default` when it is not allow);
//! - any: `any`'s entries over `d0`;
//! - peer `id`: `peers[id]`'s entries over the any level.
//!
//! Each level's port ranges become aligned blocks ([`super::ports`]).

use super::decision::Decision;
use super::ir::{Dir, Element, ElementKey, Kind, Level, MapId, Part, Value};
use super::ports::{self, Block, Scratch, Steps};
use crate::program::{DirectionProgram, Endpoint, PortEntry};
use bulkhead_policy::{Action, Mode};
use std::net::Ipv4Addr;

/// The protocols that have ports; anything else is protocol 0 in the program.
const PORTED: [u8; 3] = [6, 17, 132];

/// Buffers reused from one endpoint to the next.
#[derive(Default)]
pub struct Work {
    scratch: Scratch,
    blocks: Vec<Block>,
    want: Steps,
    entries: Vec<(u16, u16, Decision)>,
    /// The any level per protocol, and the default under it.
    any: [Steps; 3],
    default: Steps,
    others: Vec<(MapId, ElementKey, Decision)>,
    /// The part's elements before they are sorted and copied out at their exact size.
    elements: Vec<(MapId, Element)>,
}

/// The elements of `ep`, given the kernel number of each program identity.
pub fn part(ep: &Endpoint, kernel: &[u32], w: &mut Work) -> Part {
    let mut elements = std::mem::take(&mut w.elements);
    elements.clear();
    for dir in Dir::BOTH {
        let d = match dir {
            Dir::Egress => &ep.egress,
            Dir::Ingress => &ep.ingress,
        };
        direction(dir, d, ep, kernel, w, &mut elements);
    }
    let mut decisions: Vec<Decision> = elements
        .iter()
        .filter_map(|(_, e)| match e.value {
            Value::Mark(code) => Decision::from_code(code),
            _ => None,
        })
        .collect();
    decisions.sort_unstable();
    decisions.dedup();
    // Checks need a conntrack entry (the peer identity lives in its mark): packets of
    // an endpoint that can drop, but that conntrack could not track, are dropped.
    if decisions.iter().any(|d| matches!(d, Decision::Deny(_))) {
        for ip in &ep.ips {
            let e = element(ElementKey::Addr(*ip), Value::None);
            elements.push((MapId::Enforced, e));
        }
    }
    elements.sort_unstable_by_key(|(m, e)| (*m, e.key));
    let part = Part {
        elements: elements.clone(),
        decisions,
    };
    w.elements = elements;
    part
}

fn element(key: ElementKey, value: Value) -> Element {
    Element { key, value }
}

fn direction(
    dir: Dir,
    d: &DirectionProgram,
    ep: &Endpoint,
    kernel: &[u32],
    w: &mut Work,
    out: &mut Vec<(MapId, Element)>,
) {
    let mode = ep.mode;
    let d0 = if d.isolated {
        Decision::of(Action::Deny, d.default_rule, mode)
    } else {
        Decision::Allow
    };
    let (mut any, mut default) = (std::mem::take(&mut w.any), std::mem::take(&mut w.default));
    default.clear();
    default.push((0, d0));
    // The any level, as a function of port per protocol: what a miss at the peer level gets.
    for (p, steps) in PORTED.iter().zip(any.iter_mut()) {
        entries_of(&d.any.entries, *p, mode, &mut w.entries);
        ports::overlay(&w.entries, &default, steps);
    }
    let any_other = other(&d.any.entries, mode).unwrap_or(d0);
    let mut emit = |w: &mut Work, level: Level, peer: u32, protocol: u8| {
        for b in w.blocks.drain(..) {
            let kind = match b.prefix {
                0 => Kind::Proto,
                16 => Kind::Port,
                p => Kind::Masked(p),
            };
            let port = if kind == Kind::Proto { 0 } else { b.first };
            for own in &ep.ips {
                let key = check_key(*own, peer, protocol, port);
                let v = Value::Mark(b.decision.code());
                out.push((MapId::Check(dir, level, kind), element(key, v)));
            }
        }
    };
    for (p, steps) in PORTED.iter().zip(any.iter()) {
        ports::cover(steps, &default, &mut w.scratch, &mut w.blocks);
        emit(w, Level::Any, 0, *p);
    }
    let mut others = std::mem::take(&mut w.others);
    others.clear();
    if any_other != d0 {
        for own in &ep.ips {
            let key = check_key(*own, 0, 0, 0);
            others.push((MapId::Check(dir, Level::Any, Kind::Other), key, any_other));
        }
    }
    for (id, table) in &d.peers {
        let peer = kernel.get(*id as usize).copied().unwrap_or(0);
        if peer == 0 {
            continue; // the wildcard is `any`'s business; unknown ids match no address
        }
        for (p, steps) in PORTED.iter().zip(any.iter()) {
            entries_of(&table.entries, *p, mode, &mut w.entries);
            if w.entries.is_empty() {
                continue; // no entries: the level falls through everywhere
            }
            if let [(first, last, d)] = w.entries[..]
                && first == last
                && let Some(block) = ports::cover_port(first, d, steps)
            {
                w.blocks.extend(block);
                emit(w, Level::Peer, peer, *p);
                continue;
            }
            ports::overlay(&w.entries, steps, &mut w.want);
            ports::cover(&w.want, steps, &mut w.scratch, &mut w.blocks);
            emit(w, Level::Peer, peer, *p);
        }
        if let Some(o) = other(&table.entries, mode).filter(|o| *o != any_other) {
            for own in &ep.ips {
                let key = check_key(*own, peer, 0, 0);
                others.push((MapId::Check(dir, Level::Peer, Kind::Other), key, o));
            }
        }
    }
    for &(map, key, d) in &others {
        out.push((map, element(key, Value::Mark(d.code()))));
    }
    (w.any, w.default, w.others) = (any, default, others);
    if d0 != Decision::Allow {
        for own in &ep.ips {
            let v = Value::Mark(d0.code());
            out.push((MapId::Default(dir), element(ElementKey::Addr(*own), v)));
        }
    }
}

fn check_key(own: Ipv4Addr, peer: u32, protocol: u8, port: u16) -> ElementKey {
    ElementKey::Check {
        own,
        peer,
        protocol,
        port,
    }
}

/// The entries of one protocol, as decisions.
fn entries_of(
    entries: &[PortEntry],
    protocol: u8,
    mode: Mode,
    out: &mut Vec<(u16, u16, Decision)>,
) {
    out.clear();
    let lo = entries.partition_point(|e| e.protocol < protocol);
    for e in entries[lo..].iter().take_while(|e| e.protocol == protocol) {
        out.push((e.first, e.last, Decision::of(e.action, e.rule, mode)));
    }
}

/// The decision of a table's protocol-0 entry ("every other protocol"), if it has one.
fn other(entries: &[PortEntry], mode: Mode) -> Option<Decision> {
    entries
        .iter()
        .find(|e| e.protocol == 0)
        .map(|e| Decision::of(e.action, e.rule, mode))
}

/// Whether a part built from an endpoint whose fingerprint was `cached` can serve `ep`
/// (given unchanged kernel numbers). A fingerprint of 0 means "not computed" (a
/// hand-built endpoint): never trusted.
pub fn reusable(cached: u64, ep: &Endpoint) -> bool {
    ep.fingerprint != 0 && cached == ep.fingerprint
}

/// Whether an identity `ep`'s tables name has a different kernel number in `new` than in
/// `old`: its part, keyed by kernel numbers, must then be rebuilt.
pub fn renumbered(ep: &Endpoint, old: &[u32], new: &[u32]) -> bool {
    [&ep.egress, &ep.ingress]
        .iter()
        .flat_map(|d| d.peers.keys())
        .any(|id| old.get(*id as usize) != new.get(*id as usize))
}
