//! Flow aggregates: per-edge totals, and the same counters per minute.

use crate::error::ServerError;
use bulkhead_api::{IpProtocol, Timestamp, Verdict};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, Row, params, params_from_iter};

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
    pub fn add(&mut self, o: &Counters) {
        self.packets = self.packets.saturating_add(o.packets);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.connections = self.connections.saturating_add(o.connections);
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
    }
}

/// An edge with its counters, as stored or as summed over a window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeRow {
    pub id: u64,
    pub source: String,
    pub destination: String,
    pub protocol: IpProtocol,
    pub port: u16,
    pub verdict: Verdict,
    pub rule: Option<String>,
    /// The node that reported it last.
    pub node: Option<String>,
    pub counters: Counters,
}

/// Everything one flow batch writes; ids of new edges are chosen by the caller.
#[derive(Default)]
pub struct FlowWrite {
    pub new_edges: Vec<EdgeRow>,
    /// (edge id, counters to add, reporting node).
    pub updates: Vec<(u64, Counters)>,
    /// (edge id, unix minute, counters to add).
    pub buckets: Vec<(u64, i64, Counters)>,
    pub node: String,
}

/// Rows per INSERT: each statement execution has a fixed cost in SQLite's VM, so
/// inserting 64 rows at once is much cheaper than 64 executions (and stays far below
/// SQLite's limit of 32766 bound parameters). Only two statement shapes are cached per
/// table: full chunks and the batch's remainder.
const CHUNK: usize = 64;

fn placeholders(cols: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; cols].join(", "));
    vec![row; rows].join(", ")
}

fn int(v: u64) -> ToSqlOutput<'static> {
    ToSqlOutput::Borrowed(ValueRef::Integer(super::to_i64(v)))
}

fn text(s: &str) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
}

fn opt_text(s: Option<&str>) -> ToSqlOutput<'_> {
    s.map_or(ToSqlOutput::Borrowed(ValueRef::Null), text)
}

/// The namespace of an endpoint that is a workload id, for the namespace filter.
fn namespace(endpoint: &str) -> Option<&str> {
    endpoint.split_once('/').map(|(ns, _)| ns)
}

/// Writes a batch. Rows go in key order (new edges by id, updates by id, buckets by
/// (minute, edge)), so SQLite walks each B-tree forward instead of jumping around it.
pub fn write_flows(conn: &Connection, w: &mut FlowWrite) -> Result<(), ServerError> {
    w.new_edges.sort_unstable_by_key(|e| e.id);
    w.updates.sort_unstable_by_key(|u| u.0);
    w.buckets.sort_unstable_by_key(|b| (b.1, b.0));
    let i = super::to_i64;
    let mut vals: Vec<ToSqlOutput<'_>> = Vec::with_capacity(CHUNK * 15);
    for rows in w.new_edges.chunks(CHUNK) {
        vals.clear();
        for e in rows {
            let c = &e.counters;
            vals.extend([
                int(e.id),
                text(&e.source),
                text(&e.destination),
                opt_text(namespace(&e.source)),
                opt_text(namespace(&e.destination)),
                int(u64::from(e.protocol.0)),
                int(u64::from(e.port)),
                text(e.verdict.as_str()),
                opt_text(e.rule.as_deref()),
                text(&w.node),
                int(c.packets),
                int(c.bytes),
                int(c.connections),
                ToSqlOutput::Borrowed(ValueRef::Integer(c.first_seen.millis())),
                ToSqlOutput::Borrowed(ValueRef::Integer(c.last_seen.millis())),
            ]);
        }
        let sql = format!(
            "INSERT INTO edges (id, source, destination, src_ns, dst_ns, protocol, port, verdict,
                                rule, node, packets, bytes, connections, first_seen, last_seen)
             VALUES {}",
            placeholders(15, rows.len())
        );
        conn.prepare_cached(&sql)?
            .execute(params_from_iter(vals.iter()))?;
    }
    let mut update = conn.prepare_cached(
        "UPDATE edges SET packets = packets + ?2, bytes = bytes + ?3,
           connections = connections + ?4, first_seen = MIN(first_seen, ?5),
           last_seen = MAX(last_seen, ?6), node = ?7 WHERE id = ?1",
    )?;
    for (id, c) in &w.updates {
        update.execute(params![
            i(*id),
            i(c.packets),
            i(c.bytes),
            i(c.connections),
            c.first_seen.millis(),
            c.last_seen.millis(),
            w.node
        ])?;
    }
    for rows in w.buckets.chunks(CHUNK) {
        vals.clear();
        for (id, minute, c) in rows {
            vals.extend([
                int(*id),
                ToSqlOutput::Borrowed(ValueRef::Integer(*minute)),
                int(c.packets),
                int(c.bytes),
                int(c.connections),
                ToSqlOutput::Borrowed(ValueRef::Integer(c.first_seen.millis())),
                ToSqlOutput::Borrowed(ValueRef::Integer(c.last_seen.millis())),
            ]);
        }
        let sql = format!(
            "INSERT INTO edge_buckets (edge, bucket, packets, bytes, connections, first_seen, last_seen)
             VALUES {}
             ON CONFLICT (bucket, edge) DO UPDATE SET packets = packets + excluded.packets,
               bytes = bytes + excluded.bytes, connections = connections + excluded.connections,
               first_seen = MIN(first_seen, excluded.first_seen),
               last_seen = MAX(last_seen, excluded.last_seen)",
            placeholders(7, rows.len())
        );
        conn.prepare_cached(&sql)?
            .execute(params_from_iter(vals.iter()))?;
    }
    Ok(())
}

fn edge_row(r: &Row<'_>) -> rusqlite::Result<EdgeRow> {
    let verdict: String = r.get(5)?;
    let verdict = verdict.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, e.into())
    })?;
    Ok(EdgeRow {
        id: r.get::<_, i64>(0)? as u64,
        source: r.get(1)?,
        destination: r.get(2)?,
        protocol: IpProtocol(r.get(3)?),
        port: r.get(4)?,
        verdict,
        rule: r.get(6)?,
        node: r.get(7)?,
        counters: Counters {
            packets: r.get::<_, i64>(8)? as u64,
            bytes: r.get::<_, i64>(9)? as u64,
            connections: r.get::<_, i64>(10)? as u64,
            first_seen: Timestamp(r.get(11)?),
            last_seen: Timestamp(r.get(12)?),
        },
    })
}

const EDGE_COLUMNS: &str = "id, source, destination, protocol, port, verdict, rule, node,
    packets, bytes, connections, first_seen, last_seen";

/// Every edge with its totals, in id order: what the in-memory graph is rebuilt from.
pub fn load_edges(conn: &Connection) -> Result<Vec<EdgeRow>, ServerError> {
    let mut stmt = conn.prepare(&format!("SELECT {EDGE_COLUMNS} FROM edges ORDER BY id"))?;
    let rows = stmt.query_map([], edge_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Which edges to read, and over which time.
#[derive(Clone, Debug, Default)]
pub struct EdgeFilter<'a> {
    pub workload: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub verdict: Option<Verdict>,
    /// With either bound, counters are summed over the minutes in the window.
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Only edges with a greater id (paging).
    pub after: u64,
    pub limit: Option<u32>,
    /// Only edges whose verdict is not `allowed` (denied and would-deny: violations).
    pub violations: bool,
}

const FILTERS: &str = "(?1 IS NULL OR e.source = ?1 OR e.destination = ?1)
    AND (?2 IS NULL OR e.src_ns = ?2 OR e.dst_ns = ?2)
    AND (?3 IS NULL OR e.verdict = ?3) AND e.id > ?4";

/// Edges passing `f`, in id order.
pub fn query_window(conn: &Connection, f: &EdgeFilter<'_>) -> Result<Vec<EdgeRow>, ServerError> {
    let limit = f.limit.map_or(-1, i64::from);
    let verdict = f.verdict.map(Verdict::as_str);
    let after = super::to_i64(f.after);
    // A constant clause, not a parameter: each of the two statement shapes stays cached.
    let violations = if f.violations {
        "AND e.verdict <> 'allowed'"
    } else {
        ""
    };
    if f.since.is_none() && f.until.is_none() {
        let sql = format!(
            "SELECT {EDGE_COLUMNS} FROM edges e WHERE {FILTERS} {violations} ORDER BY e.id LIMIT ?5"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![f.workload, f.namespace, verdict, after, limit],
            edge_row,
        )?;
        return Ok(rows.collect::<Result<Vec<_>, _>>()?);
    }
    let since = f.since.map_or(0, Timestamp::millis);
    let until = f.until.map_or(i64::MAX, Timestamp::millis);
    let sql = format!(
        "SELECT e.id, e.source, e.destination, e.protocol, e.port, e.verdict, e.rule, e.node,
                SUM(b.packets), SUM(b.bytes), SUM(b.connections), MIN(b.first_seen), MAX(b.last_seen)
         FROM edge_buckets b JOIN edges e ON e.id = b.edge
         WHERE b.bucket BETWEEN ?6 AND ?7 AND b.last_seen >= ?8 AND b.first_seen <= ?9
           AND {FILTERS} {violations}
         GROUP BY e.id ORDER BY e.id LIMIT ?5"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            f.workload,
            f.namespace,
            verdict,
            after,
            limit,
            since / 60_000,
            until / 60_000,
            since,
            until
        ],
        edge_row,
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
