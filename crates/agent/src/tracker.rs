//! Kernel flow events → per-edge aggregates.
//!
//! A connection can produce several events on one node: with eBPF one per check point
//! (the source's egress and the destination's ingress) plus counter sweeps; with nft a
//! conntrack NEW, NFLOG drops and a DESTROY. Events of one connection (same protocol,
//! addresses and ports) are gathered for [`SETTLE`] before the connection is judged
//! once: dropped if any check dropped it, else admitted. Judged connections stay known
//! ("open") so later counter totals add only their increase to the right edge.
//!
//! Every buffer is bounded: events for new connections beyond [`Limits::pending`],
//! connections beyond [`Limits::open`] and edges beyond [`Limits::edges`] are dropped
//! and counted in [`Tracker::dropped`].

use crate::context::Context;
use bulkhead_api::{FlowRecord, IpProtocol, Timestamp, Verdict};
use bulkhead_compile::Outcome;
use bulkhead_dataplane::{FlowEvent, FlowKind};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How long events of one connection are gathered before it is judged: the checks at
/// both ends of a node run within microseconds of each other.
pub const SETTLE: Duration = Duration::from_millis(250);
/// A connection without events for this long is forgotten (longer than conntrack's
/// TIME_WAIT, after which nft's DESTROY with the final counters arrives).
pub const IDLE: Duration = Duration::from_secs(180);

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub pending: usize,
    pub open: usize,
    pub edges: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            pending: 1 << 16,
            open: 1 << 20,
            edges: 1 << 16,
        }
    }
}

/// (protocol, source, source port, destination, destination port).
type ConnKey = (u8, Ipv4Addr, u16, Ipv4Addr, u16);

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EdgeKey {
    pub source: String,
    pub destination: String,
    pub protocol: u8,
    pub port: u16,
    pub verdict: Verdict,
    pub rule: Option<String>,
}

#[derive(Clone, Copy, Debug)]
struct EdgeAgg {
    packets: u64,
    bytes: u64,
    connections: u64,
    first: SystemTime,
    last: SystemTime,
}

struct Pending {
    since: Instant,
    first: SystemTime,
    last: SystemTime,
    /// (generation, rule) of the first drop.
    denied: Option<(u32, u32)>,
    would_deny: bool,
    drops: (u64, u64),
    /// The largest counter totals seen (packets, bytes).
    totals: (u64, u64),
}

struct Open {
    /// None: another node reports this connection.
    edge: Option<Arc<EdgeKey>>,
    /// Whether counter totals belong to the edge (not for drops: they count themselves).
    counts: bool,
    totals: (u64, u64),
    seen: Instant,
}

#[derive(Default)]
pub struct Tracker {
    limits: Limits,
    pending: HashMap<ConnKey, Pending>,
    open: HashMap<ConnKey, Open>,
    edges: HashMap<Arc<EdgeKey>, EdgeAgg>,
    /// Records (connections or edges) dropped because a buffer was full, in total.
    pub dropped: u64,
    /// Events fed, in total.
    pub events: u64,
    /// Connections with no workload at either end, ignored.
    pub unattributed: u64,
}

fn port_of(protocol: u8, port: u16) -> u16 {
    match protocol {
        6 | 17 | 132 => port,
        _ => 0,
    }
}

impl Tracker {
    pub fn new(limits: Limits) -> Tracker {
        Tracker {
            limits,
            ..Tracker::default()
        }
    }

    pub fn feed(&mut self, e: &FlowEvent, now: Instant) {
        self.events += 1;
        let key = (e.protocol, e.src, e.src_port, e.dst, e.dst_port);
        if e.kind == FlowKind::End
            && let Some(open) = self.open.get_mut(&key)
        {
            open.seen = now;
            let (p, b) = (e.packets.max(open.totals.0), e.bytes.max(open.totals.1));
            let delta = (p - open.totals.0, b - open.totals.1);
            open.totals = (p, b);
            if open.counts
                && let Some(edge) = open.edge.clone()
                && delta != (0, 0)
            {
                self.add(edge, delta, 0, e.time, e.time);
            }
            return;
        }
        if !self.pending.contains_key(&key) && self.pending.len() >= self.limits.pending {
            self.dropped += 1;
            return;
        }
        let p = self.pending.entry(key).or_insert(Pending {
            since: now,
            first: e.time,
            last: e.time,
            denied: None,
            would_deny: false,
            drops: (0, 0),
            totals: (0, 0),
        });
        p.first = p.first.min(e.time);
        p.last = p.last.max(e.time);
        match (e.kind, e.outcome) {
            (FlowKind::Verdict, Outcome::Denied) => {
                p.denied.get_or_insert((e.generation, e.rule));
                p.drops.0 += e.packets;
                p.drops.1 += e.bytes;
            }
            (_, Outcome::WouldDeny) => p.would_deny = true,
            _ => {}
        }
        if e.kind != FlowKind::Verdict {
            p.totals = (p.totals.0.max(e.packets), p.totals.1.max(e.bytes));
        }
    }

    /// Judges the connections whose events have settled.
    pub fn settle(&mut self, ctx: &Context, now: Instant) {
        let ready: Vec<ConnKey> = self
            .pending
            .iter()
            .filter(|(_, p)| now.duration_since(p.since) >= SETTLE)
            .map(|(k, _)| *k)
            .collect();
        for key in ready {
            if let Some(p) = self.pending.remove(&key) {
                self.judge(ctx, key, p, now);
            }
        }
        if self.open.len() > self.limits.open / 2 {
            self.open.retain(|_, o| now.duration_since(o.seen) < IDLE);
        }
    }

    fn judge(&mut self, ctx: &Context, key: ConnKey, p: Pending, now: Instant) {
        let (protocol, src, _, dst, dport) = key;
        // Traffic with no workload at either end (the node's own IGMP reports, say) is
        // not a workload flow: nothing to attribute, nothing to report.
        if ctx.workload(src).is_none() && ctx.workload(dst).is_none() {
            self.unattributed += 1;
            return;
        }
        let port = port_of(protocol, dport);
        let edge = |verdict, rule| EdgeKey {
            source: ctx.endpoint(src),
            destination: ctx.endpoint(dst),
            protocol,
            port,
            verdict,
            rule,
        };
        let known = self.open.get(&key).and_then(|o| o.edge.clone());
        let (edge, counts, add) = match p.denied {
            Some((generation, rule)) => {
                let e = edge(Verdict::Denied, ctx.denied_rule(generation, rule));
                (Some(e), false, p.drops)
            }
            None if ctx.reports_admitted(src, dst) => {
                let (verdict, rule) = ctx.admitted(src, dst, protocol, port, p.would_deny);
                (Some(edge(verdict, rule)), true, p.totals)
            }
            None => (None, false, (0, 0)),
        };
        let edge = edge.map(|e| match known {
            Some(k) if *k == e => k,
            _ => Arc::new(e),
        });
        // A connection judged before (a retried SYN, counters of an open one) is not a
        // new connection of its edge.
        let new_connection = match (&edge, self.open.get(&key)) {
            (Some(e), Some(o)) => o.edge.as_ref() != Some(e),
            _ => true,
        };
        if let Some(e) = &edge {
            self.add(e.clone(), add, u64::from(new_connection), p.first, p.last);
        }
        if !self.open.contains_key(&key) && self.open.len() >= self.limits.open {
            self.dropped += 1;
            return;
        }
        let totals = match self.open.get(&key) {
            Some(o) => (o.totals.0.max(p.totals.0), o.totals.1.max(p.totals.1)),
            None => p.totals,
        };
        self.open.insert(
            key,
            Open {
                edge,
                counts,
                totals,
                seen: now,
            },
        );
    }

    fn add(
        &mut self,
        edge: Arc<EdgeKey>,
        (packets, bytes): (u64, u64),
        conns: u64,
        first: SystemTime,
        last: SystemTime,
    ) {
        if !self.edges.contains_key(&edge) && self.edges.len() >= self.limits.edges {
            self.dropped += 1;
            return;
        }
        let a = self.edges.entry(edge).or_insert(EdgeAgg {
            packets: 0,
            bytes: 0,
            connections: 0,
            first,
            last,
        });
        a.packets += packets;
        a.bytes += bytes;
        a.connections += conns;
        a.first = a.first.min(first);
        a.last = a.last.max(last);
    }

    /// The aggregates since the last call, as flow records, sorted by edge.
    pub fn take(&mut self) -> Vec<FlowRecord> {
        let mut out: Vec<FlowRecord> = self
            .edges
            .drain()
            .map(|(k, a)| FlowRecord {
                source: k.source.clone(),
                destination: k.destination.clone(),
                protocol: IpProtocol(k.protocol),
                port: k.port,
                verdict: k.verdict,
                rule: k.rule.clone(),
                packets: a.packets,
                bytes: a.bytes,
                connections: a.connections,
                first_seen: Timestamp::from(a.first),
                last_seen: Timestamp::from(a.last),
                node: None,
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.source, &a.destination, a.port).cmp(&(&b.source, &b.destination, b.port))
        });
        out
    }

    /// Connections waiting to be judged, and connections known.
    pub fn sizes(&self) -> (usize, usize) {
        (self.pending.len(), self.open.len())
    }
}

#[cfg(test)]
mod tests;
