//! Flow aggregates: per-edge totals, and the same counters per minute. Edges are rows of
//! integers; the names they mention (endpoints, rules, nodes) are numbered in `names`.
//!
//! A batch writes its per-minute buckets only; an edge row is written when the edge is
//! new or its attributes change. The edges' totals catch up with the buckets when their
//! minutes are past (`fold`), once a minute instead of once per batch: an edge row is
//! rewritten about once a minute however many batches touch it (docs/bench/server.md).

use crate::error::ServerError;
use bulkhead_api::{IpProtocol, Timestamp, Verdict};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, params, params_from_iter};

/// Counters of traffic on one edge over some time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
    pub connections: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

impl Counters {
    /// No traffic: adding it changes nothing (first and last seen are at the far ends).
    pub const EMPTY: Counters = Counters {
        packets: 0,
        bytes: 0,
        connections: 0,
        first_seen: Timestamp(i64::MAX),
        last_seen: Timestamp(i64::MIN),
    };

    pub fn add(&mut self, o: &Counters) {
        self.packets = self.packets.saturating_add(o.packets);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.connections = self.connections.saturating_add(o.connections);
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
    }

    pub fn is_empty(&self) -> bool {
        self.last_seen < self.first_seen
    }
}

/// An edge's attributes and totals (its endpoints are the graph's business).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeData {
    pub id: u64,
    pub protocol: IpProtocol,
    pub port: u16,
    pub verdict: Verdict,
    /// Name numbers (0: none): the rule that decided the latest traffic, the node that
    /// reported it last.
    pub rule: u32,
    pub node: u32,
    pub counters: Counters,
}

impl EdgeData {
    /// Adds a batch's counters; its rule becomes the edge's unless the batch's traffic is
    /// older than what the edge has already seen (a late batch must not win).
    pub fn absorb(&mut self, total: &Counters, rule: u32, node: u32) {
        if total.last_seen >= self.counters.last_seen {
            self.rule = rule;
        }
        self.counters.add(total);
        self.node = node;
    }
}

/// An edge as stored: endpoints by name number; `data.counters` holds what is folded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredEdge {
    pub src: u32,
    pub dst: u32,
    pub data: EdgeData,
}

/// A change to an existing edge row: its attributes, and counters of minutes already
/// folded (a late batch) to add to its totals (`Counters::EMPTY` for none).
#[derive(Clone, Copy, Debug)]
pub struct EdgeUpdate {
    pub id: u64,
    pub rule: u32,
    pub node: u32,
    pub folded: Counters,
}

/// Everything one flow batch writes, chosen by the caller.
#[derive(Default)]
pub struct FlowWrite {
    pub names: Vec<(u32, String)>,
    /// New edges, their counters being the part in folded minutes (usually empty).
    pub new_edges: Vec<StoredEdge>,
    pub updates: Vec<EdgeUpdate>,
    /// (edge id, unix minute, counters to add).
    pub buckets: Vec<(u64, i64, Counters)>,
    /// (edge id, unix minute, the bucket's new counters): for minutes whose buckets the
    /// caller knows whole, a plain overwrite is cheaper than an add.
    pub bucket_sets: Vec<(u64, i64, Counters)>,
    /// (edge id, unix minute, counters) of minutes already folded (a late batch): added
    /// to the hour and day rollups too.
    pub late: Vec<(u64, i64, Counters)>,
}

/// Rows per INSERT: each statement execution has a fixed cost in SQLite's VM, so
/// inserting 256 rows at once is much cheaper than 256 executions (and stays far below
/// SQLite's limit of 32766 bound parameters). Only two statement shapes are cached per
/// table: full chunks and the batch's remainder.
const CHUNK: usize = 256;

pub(super) fn int(v: u64) -> ToSqlOutput<'static> {
    ToSqlOutput::Borrowed(ValueRef::Integer(super::to_i64(v)))
}

fn ms(t: Timestamp) -> ToSqlOutput<'static> {
    ToSqlOutput::Borrowed(ValueRef::Integer(t.millis()))
}

/// First and last seen of counters that may be empty (NULL then).
fn seen(c: &Counters) -> [Option<i64>; 2] {
    if c.is_empty() {
        [None, None]
    } else {
        [Some(c.first_seen.millis()), Some(c.last_seen.millis())]
    }
}

fn text(s: &str) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
}

pub(super) fn verdict_code(v: Verdict) -> u64 {
    Verdict::ALL.iter().position(|x| *x == v).unwrap_or(0) as u64
}

/// The namespace of a name that is a workload id, for the namespace filter.
fn namespace(name: &str) -> Option<&str> {
    name.split_once('/').map(|(ns, _)| ns)
}

/// Runs `sql` (a multi-row statement; `{}` stands for the rows) over `items` in chunks.
/// The statement text of a full chunk is built once per call, not per chunk.
fn chunked<T>(
    conn: &Connection,
    items: &[T],
    cols: usize,
    sql: &str,
    mut row: impl for<'a> FnMut(&'a T, &mut Vec<ToSqlOutput<'a>>),
) -> Result<(), ServerError> {
    let text = |rows: usize| {
        let one = format!("({})", vec!["?"; cols].join(", "));
        sql.replace("{}", &vec![one; rows].join(", "))
    };
    let full = text(CHUNK);
    let mut vals: Vec<ToSqlOutput<'_>> = Vec::with_capacity(CHUNK * cols);
    for rows in items.chunks(CHUNK) {
        vals.clear();
        for r in rows {
            row(r, &mut vals);
        }
        let mut stmt = if rows.len() == CHUNK {
            conn.prepare_cached(&full)?
        } else {
            conn.prepare_cached(&text(rows.len()))?
        };
        stmt.execute(params_from_iter(vals.iter()))?;
    }
    Ok(())
}

/// Writes a batch. Rows go in key order (names and edges by id, buckets by (minute,
/// edge)), so SQLite walks each B-tree forward instead of jumping around it.
pub fn write_flows(conn: &Connection, w: &mut FlowWrite) -> Result<(), ServerError> {
    w.new_edges.sort_unstable_by_key(|e| e.data.id);
    w.buckets.sort_unstable_by_key(|b| (b.1, b.0));
    w.bucket_sets.sort_unstable_by_key(|b| (b.1, b.0));
    chunked(
        conn,
        &w.names,
        3,
        "INSERT INTO names (id, name, ns) VALUES {}",
        |(id, name), out| {
            let ns = namespace(name).map_or(ToSqlOutput::Borrowed(ValueRef::Null), text);
            out.extend([int(u64::from(*id)), text(name), ns]);
        },
    )?;
    chunked(
        conn,
        &w.new_edges,
        13,
        "INSERT INTO edges (id, src, dst, protocol, port, verdict, rule, node,
                            packets, bytes, connections, first_seen, last_seen) VALUES {}",
        |e, out| {
            let (d, c) = (&e.data, &e.data.counters);
            let [first, last] = seen(c).map(|t| {
                t.map_or(ToSqlOutput::Borrowed(ValueRef::Null), |v| {
                    ToSqlOutput::Borrowed(ValueRef::Integer(v))
                })
            });
            out.extend([
                int(d.id),
                int(u64::from(e.src)),
                int(u64::from(e.dst)),
                int(u64::from(d.protocol.0)),
                int(u64::from(d.port)),
                int(verdict_code(d.verdict)),
                int(u64::from(d.rule)),
                int(u64::from(d.node)),
                int(c.packets),
                int(c.bytes),
                int(c.connections),
                first,
                last,
            ]);
        },
    )?;
    // Rare: an attribute changed, or a late batch reached minutes already folded.
    let mut update = conn.prepare_cached(
        "UPDATE edges SET rule = ?2, node = ?3, packets = packets + ?4, bytes = bytes + ?5,
           connections = connections + ?6,
           first_seen = MIN(COALESCE(first_seen, ?7), COALESCE(?7, first_seen)),
           last_seen = MAX(COALESCE(last_seen, ?8), COALESCE(?8, last_seen))
         WHERE id = ?1",
    )?;
    for u in &w.updates {
        let [first, last] = seen(&u.folded);
        let c = &u.folded;
        update.execute(params![
            super::to_i64(u.id),
            u.rule,
            u.node,
            super::to_i64(c.packets),
            super::to_i64(c.bytes),
            super::to_i64(c.connections),
            first,
            last
        ])?;
    }
    let bucket = |(id, minute, c): &(u64, i64, Counters), out: &mut Vec<ToSqlOutput<'_>>| {
        out.extend([
            int(*id),
            ToSqlOutput::Borrowed(ValueRef::Integer(*minute)),
            int(c.packets),
            int(c.bytes),
            int(c.connections),
            ms(c.first_seen),
            ms(c.last_seen),
        ]);
    };
    chunked(
        conn,
        &w.bucket_sets,
        7,
        "INSERT OR REPLACE INTO edge_buckets
           (edge, bucket, packets, bytes, connections, first_seen, last_seen) VALUES {}",
        bucket,
    )?;
    super::rollup::add_late(conn, &w.late)?;
    chunked(
        conn,
        &w.buckets,
        7,
        "INSERT INTO edge_buckets (edge, bucket, packets, bytes, connections, first_seen, last_seen)
         VALUES {}
         ON CONFLICT (bucket, edge) DO UPDATE SET packets = packets + excluded.packets,
           bytes = bytes + excluded.bytes, connections = connections + excluded.connections,
           first_seen = MIN(first_seen, excluded.first_seen),
           last_seen = MAX(last_seen, excluded.last_seen)",
        bucket,
    )
}
