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
