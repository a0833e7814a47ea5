//! The append-only audit log.

use crate::error::ServerError;
use bulkhead_api::{AuditEntry, AuditPage, Timestamp};
use rusqlite::{Connection, params};

pub fn insert_audit(conn: &Connection, e: &AuditEntry) -> Result<u64, ServerError> {
    conn.execute(
        "INSERT INTO audit (at, actor, action, target, detail, revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            e.at.millis(),
            e.actor,
            e.action,
            e.target,
            e.detail,
            e.revision.map(super::to_i64)
        ],
    )?;
    Ok(conn.last_insert_rowid() as u64)
}

/// Newest first. `since` is absolute here: the core resolves relative bounds.
pub fn query_audit(
    conn: &Connection,
    action: Option<&str>,
    target: Option<&str>,
    since: Option<Timestamp>,
    limit: u32,
    cursor: Option<u64>,
) -> Result<AuditPage, ServerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, action, target, detail, revision FROM audit
         WHERE (?1 IS NULL OR action = ?1) AND (?2 IS NULL OR target = ?2)
           AND (?3 IS NULL OR at >= ?3) AND (?4 IS NULL OR id < ?4)
         ORDER BY id DESC LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![
            action,
            target,
            since.map(Timestamp::millis),
            cursor.map(super::to_i64),
            i64::from(limit) + 1
        ],
        |r| {
            Ok(AuditEntry {
                id: r.get::<_, i64>(0)? as u64,
                at: Timestamp(r.get(1)?),
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                detail: r.get(5)?,
                revision: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
            })
        },
    )?;
    let mut entries = rows.collect::<Result<Vec<_>, _>>()?;
    // One extra row was asked for only to learn whether another page exists.
    let next_cursor = if entries.len() > limit as usize {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(AuditPage {
        entries,
        next_cursor,
    })
}
