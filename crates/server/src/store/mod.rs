//! Everything the server keeps, in one SQLite file (WAL mode).
//!
//! The functions of the submodules take a `&Connection` so the core can group several of
//! them in one transaction: a policy change, its audit entries and the revision bump
//! land together or not at all. Commits use `synchronous = FULL`, so a change is on
//! disk before the request that made it is answered, except flow batches
//! ([`Store::relaxed`]): they are in the WAL file (the OS's page cache) when answered,
//! which a killed process cannot lose; the disk gets them at the next checkpoint or
//! FULL commit (docs/server.md says what that means for a power loss).

mod audit;
mod edges;
mod flows;
mod hours;
mod inventory;
mod policies;
mod rollup;
mod schema;
mod tokens;
mod window;

pub use audit::{insert_audit, query_audit};
pub use edges::{
    fold, folded_through, load_buckets, load_edges, load_names, newest_minute, recent_minutes,
};
pub use flows::{Counters, EdgeData, EdgeUpdate, FlowWrite, StoredEdge, write_flows};
pub use hours::{load_hours, recent_hours};
pub use inventory::{
    AgentRow, delete_workloads_except, load_agents, load_modes, load_workloads, save_agent,
    set_mode, upsert_workload,
};
pub use policies::{StoredPolicy, delete_policy, last_version, load_policies, save_policy};
pub use rollup::prune;
pub use tokens::{StoredToken, delete_token, insert_token, load_tokens};
pub use window::{EdgeFilter, EdgeRow, Span, stored_window};

use crate::error::ServerError;
use rusqlite::{Connection, Transaction};
use std::path::Path;

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating it if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, ServerError> {
        let conn = Connection::open(path)?;
        Store::setup(conn)
    }

    /// A private database that lives as long as the store: for tests and benchmarks.
    pub fn in_memory() -> Result<Store, ServerError> {
        Store::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Store, ServerError> {
        // WAL lets readers of the file (backups, sqlite3) not block the server's writes.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // The default 2 MiB page cache makes every ingest batch re-read B-tree pages from
        // the OS (a syscall each); 64 MiB holds the edge tables of ~10^5 edges.
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&mut conn)?;
        Ok(Store { conn })
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn transaction(&mut self) -> Result<Transaction<'_>, ServerError> {
        Ok(self.conn.transaction()?)
    }

    /// Runs `f` in a transaction committed with `synchronous = NORMAL` (no fsync of its
    /// own): for flow batches, where an fsync per batch costs more than the batch.
    /// FULL is restored whatever happens, so policies and audit entries stay fsynced.
    pub fn relaxed<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, ServerError>,
    ) -> Result<T, ServerError> {
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let run = || -> Result<T, ServerError> {
            let tx = self.conn.transaction()?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        let out = run();
        let reset = self.conn.pragma_update(None, "synchronous", "FULL");
        let out = out?;
        reset?;
        Ok(out)
    }

    pub fn schema_version() -> usize {
        schema::latest()
    }
}

/// The desired-state revision.
pub fn revision(conn: &Connection) -> Result<u64, ServerError> {
    let v: i64 = conn.query_row("SELECT value FROM meta WHERE key = 'revision'", [], |r| {
        r.get(0)
    })?;
    Ok(v as u64)
}

/// Moves the revision forward by one and returns the new one.
pub fn bump_revision(conn: &Connection) -> Result<u64, ServerError> {
    conn.execute(
        "UPDATE meta SET value = value + 1 WHERE key = 'revision'",
        [],
    )?;
    revision(conn)
}

/// SQLite integers are signed; counters and ids never get near 2^63.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
