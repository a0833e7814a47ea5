//! Numbered schema migrations, run in order at start. `PRAGMA user_version` holds how
//! many have run, so a database is upgraded exactly once per step; a database from a
//! newer server is refused rather than misread.

use crate::error::ServerError;
use rusqlite::Connection;

/// Never edit a released migration: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: everything the first release stores.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta (key, value) VALUES ('revision', 0);

    CREATE TABLE policies (
        name TEXT PRIMARY KEY, kind TEXT NOT NULL, version INTEGER NOT NULL,
        source TEXT NOT NULL, file TEXT NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, author TEXT NOT NULL);
    -- Every version of every policy, deletions included, for replay and history.
    CREATE TABLE policy_versions (
        name TEXT NOT NULL, version INTEGER NOT NULL, kind TEXT NOT NULL,
        source TEXT, file TEXT NOT NULL, at INTEGER NOT NULL, author TEXT NOT NULL,
        revision INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (name, version, deleted));

    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL, revision INTEGER);

    CREATE TABLE tokens (
        name TEXT PRIMARY KEY, role TEXT NOT NULL, hash BLOB NOT NULL UNIQUE,
        created_at INTEGER NOT NULL, created_by TEXT NOT NULL);

    CREATE TABLE modes (
        workload TEXT PRIMARY KEY, mode TEXT NOT NULL, updated_at INTEGER NOT NULL,
        author TEXT NOT NULL);

    -- body: the JSON of bulkhead_policy::Workload as its agent reported it.
    CREATE TABLE workloads (
        id TEXT PRIMARY KEY, node TEXT NOT NULL, body TEXT NOT NULL, last_seen INTEGER NOT NULL);
    CREATE INDEX workloads_node ON workloads (node);

    CREATE TABLE agents (
        node TEXT PRIMARY KEY, status TEXT NOT NULL, cluster_cidrs TEXT NOT NULL,
        host_ips TEXT NOT NULL, last_seen INTEGER NOT NULL,
        instance TEXT, last_sequence INTEGER,
        dropped_records INTEGER NOT NULL DEFAULT 0, lost_events INTEGER NOT NULL DEFAULT 0);

    -- One row per edge (source, destination, protocol, port, verdict, rule) with totals.
    -- The key is unique by construction (the server is the only writer and keeps an
    -- index in memory); rule NULL means "no rule".
    CREATE TABLE edges (
        id INTEGER PRIMARY KEY, source TEXT NOT NULL, destination TEXT NOT NULL,
        src_ns TEXT, dst_ns TEXT, protocol INTEGER NOT NULL, port INTEGER NOT NULL,
        verdict TEXT NOT NULL, rule TEXT, node TEXT,
        packets INTEGER NOT NULL, bytes INTEGER NOT NULL, connections INTEGER NOT NULL,
        first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);
    -- No secondary indexes: each would cost a random B-tree insert per new edge on the
    -- ingest path, while the queries either read the graph in memory, scan in rowid
    -- order with a LIMIT (flow pages), or start from edge_buckets' primary key (windows).

    -- The same counters per minute (bucket = unix minute of last_seen), to answer
    -- "what did W talk to in the last N minutes" for baselines and replay.
    CREATE TABLE edge_buckets (
        edge INTEGER NOT NULL, bucket INTEGER NOT NULL,
        packets INTEGER NOT NULL, bytes INTEGER NOT NULL, connections INTEGER NOT NULL,
        first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
        PRIMARY KEY (bucket, edge)) WITHOUT ROWID;
    "#,
    // 2: edges as rows of integers (names interned in `names`), and one edge per
    // (source, destination, protocol, port, verdict) with the latest deciding rule as an
    // attribute: rows of one connection pattern that only differed by rule are merged
    // (counters summed, the rule and node of the most recent one kept, buckets summed).
    r#"
    ALTER TABLE edges RENAME TO edges_v1;
    ALTER TABLE edge_buckets RENAME TO edge_buckets_v1;

    -- ns: the namespace of a workload id (`ns/name`), for the namespace filter.
    CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, ns TEXT);
    INSERT INTO names (name, ns)
      SELECT n, CASE WHEN instr(n, '/') > 0 THEN substr(n, 1, instr(n, '/') - 1) END
      FROM (SELECT source AS n FROM edges_v1 UNION SELECT destination FROM edges_v1
            UNION SELECT rule FROM edges_v1 WHERE rule IS NOT NULL
            UNION SELECT node FROM edges_v1 WHERE node IS NOT NULL)
      ORDER BY n;

    -- verdict: 0 allowed, 1 denied, 2 would-deny; rule and node: a name id, 0 for none.
    -- The counters are the sums of the edge's buckets up to minute `folded` (meta): a
    -- batch writes only buckets, and the minutes are folded into the edges once they
    -- are past (store/fold.rs). first_seen and last_seen are NULL while nothing is.
    -- No secondary indexes: each would cost a random B-tree insert per new edge on the
    -- ingest path, while the queries either read the graph in memory or start from
    -- edge_buckets' primary key (windows).
    CREATE TABLE edges (
        id INTEGER PRIMARY KEY, src INTEGER NOT NULL, dst INTEGER NOT NULL,
        protocol INTEGER NOT NULL, port INTEGER NOT NULL, verdict INTEGER NOT NULL,
        rule INTEGER NOT NULL, node INTEGER NOT NULL,
        packets INTEGER NOT NULL, bytes INTEGER NOT NULL, connections INTEGER NOT NULL,
        first_seen INTEGER, last_seen INTEGER);

    CREATE TEMP TABLE edge_map AS
      SELECT id AS old, MIN(id) OVER same AS new,
             FIRST_VALUE(rule) OVER latest AS rule, FIRST_VALUE(node) OVER latest AS node
      FROM edges_v1
      WINDOW same AS (PARTITION BY source, destination, protocol, port, verdict),
             latest AS (PARTITION BY source, destination, protocol, port, verdict
                        ORDER BY last_seen DESC, id DESC
                        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING);
    INSERT INTO edges (id, src, dst, protocol, port, verdict, rule, node,
                       packets, bytes, connections, first_seen, last_seen)
      SELECT m.new, s.id, d.id, e.protocol, e.port,
             CASE e.verdict WHEN 'allowed' THEN 0 WHEN 'denied' THEN 1 ELSE 2 END,
             COALESCE(r.id, 0), COALESCE(n.id, 0),
             SUM(e.packets), SUM(e.bytes), SUM(e.connections), MIN(e.first_seen), MAX(e.last_seen)
      FROM edges_v1 e JOIN edge_map m ON m.old = e.id
        JOIN names s ON s.name = e.source JOIN names d ON d.name = e.destination
        LEFT JOIN names r ON r.name = m.rule LEFT JOIN names n ON n.name = m.node
      GROUP BY m.new;

    CREATE TABLE edge_buckets (
        edge INTEGER NOT NULL, bucket INTEGER NOT NULL,
        packets INTEGER NOT NULL, bytes INTEGER NOT NULL, connections INTEGER NOT NULL,
        first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
        PRIMARY KEY (bucket, edge)) WITHOUT ROWID;
    INSERT INTO edge_buckets (edge, bucket, packets, bytes, connections, first_seen, last_seen)
      SELECT m.new, b.bucket, SUM(b.packets), SUM(b.bytes), SUM(b.connections),
             MIN(b.first_seen), MAX(b.last_seen)
      FROM edge_buckets_v1 b JOIN edge_map m ON m.old = b.edge
      GROUP BY b.bucket, m.new;

    -- Every migrated bucket is already in its edge's totals.
    INSERT INTO meta (key, value) SELECT 'folded', COALESCE(MAX(bucket), 0) FROM edge_buckets;

    DROP TABLE edge_map;
    DROP TABLE edge_buckets_v1;
    DROP TABLE edges_v1;
    "#,
    // 3: per-hour and per-day sums of the folded minutes (hour = minute / 60, day =
    // minute / 1440), for windows older than the memory holds (store/rollup.rs).
    r#"
    CREATE TABLE edge_hours (
        edge INTEGER NOT NULL, hour INTEGER NOT NULL,
        packets INTEGER NOT NULL, bytes INTEGER NOT NULL, connections INTEGER NOT NULL,
        first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
        PRIMARY KEY (hour, edge)) WITHOUT ROWID;
    CREATE TABLE edge_days (
        edge INTEGER NOT NULL, day INTEGER NOT NULL,
        packets INTEGER NOT NULL, bytes INTEGER NOT NULL, connections INTEGER NOT NULL,
        first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
        PRIMARY KEY (day, edge)) WITHOUT ROWID;
    INSERT INTO edge_hours (edge, hour, packets, bytes, connections, first_seen, last_seen)
      SELECT edge, bucket / 60, SUM(packets), SUM(bytes), SUM(connections),
             MIN(first_seen), MAX(last_seen)
      FROM edge_buckets WHERE bucket <= (SELECT value FROM meta WHERE key = 'folded')
      GROUP BY bucket / 60, edge;
    INSERT INTO edge_days (edge, day, packets, bytes, connections, first_seen, last_seen)
      SELECT edge, hour / 24, SUM(packets), SUM(bytes), SUM(connections),
             MIN(first_seen), MAX(last_seen)
      FROM edge_hours GROUP BY hour / 24, edge;
    "#,
];

pub fn migrate(conn: &mut Connection) -> Result<(), ServerError> {
    let done: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if done > MIGRATIONS.len() {
        return Err(ServerError::Corrupt(format!(
            "the database has schema version {done}, newer than this server's {}",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        // user_version takes no parameters; `i + 1` is our own number.
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
        tracing::info!(version = i + 1, "database migrated");
    }
    Ok(())
}

pub fn latest() -> usize {
    MIGRATIONS.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// id, "source>destination", verdict code, rule, node, packets, first and last seen.
    type MergedEdge = (i64, String, i64, String, String, i64, i64, i64);

    /// A version-1 database with one connection pattern stored under two rules (the
    /// duplicate-edge bug) becomes one edge with summed counters and the latest rule.
    #[test]
    fn version_2_merges_edges_that_only_differed_by_rule() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch("PRAGMA user_version = 1").unwrap();
        conn.execute_batch(
            "INSERT INTO edges VALUES
               (1, 'x/a', 'x/b', 'x', 'x', 6, 80, 'allowed', NULL, 'n1', 3, 300, 1, 1000, 2000),
               (2, 'x/a', 'x/b', 'x', 'x', 6, 80, 'allowed', 'x/base ingress[0] (allow)', 'n2', 4, 400, 2, 70000, 130000),
               (3, 'x/a', 'x/b', 'x', 'x', 6, 80, 'denied', 'x/lock ingress[0] (deny)', 'n2', 1, 60, 1, 140000, 140000);
             INSERT INTO edge_buckets VALUES
               (1, 0, 3, 300, 1, 1000, 2000), (2, 1, 1, 100, 1, 70000, 70000),
               (2, 2, 3, 300, 1, 125000, 130000), (1, 2, 1, 1, 0, 121000, 121000),
               (3, 2, 1, 60, 1, 140000, 140000);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let edges: Vec<MergedEdge> = conn
            .prepare(
                "SELECT e.id, s.name || '>' || d.name, e.verdict, COALESCE(r.name, '-'), n.name,
                        e.packets, e.first_seen, e.last_seen
                 FROM edges e JOIN names s ON s.id = e.src JOIN names d ON d.id = e.dst
                   LEFT JOIN names r ON r.id = e.rule JOIN names n ON n.id = e.node ORDER BY e.id",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let base = "x/base ingress[0] (allow)".to_string();
        let lock = "x/lock ingress[0] (deny)".to_string();
        assert_eq!(
            edges,
            [
                (1, "x/a>x/b".into(), 0, base, "n2".into(), 7, 1000, 130000),
                (3, "x/a>x/b".into(), 1, lock, "n2".into(), 1, 140000, 140000),
            ]
        );
        let buckets: Vec<(i64, i64, i64)> = conn
            .prepare("SELECT edge, bucket, packets FROM edge_buckets ORDER BY bucket, edge")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(buckets, [(1, 0, 3), (1, 1, 1), (1, 2, 4), (3, 2, 1)]);
        let folded: i64 = conn
            .query_row("SELECT value FROM meta WHERE key = 'folded'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(folded, 2, "migrated totals already hold every bucket");
    }
}
