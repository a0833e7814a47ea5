//! Stored policies and their history.

use crate::error::ServerError;
use bulkhead_api::{PolicyInfo, Timestamp};
use bulkhead_policy::ir::PolicyKind;
use rusqlite::{Connection, params};

/// A policy row, and the revision that last changed it.
pub type StoredPolicy = PolicyInfo;

fn kind_text(k: PolicyKind) -> &'static str {
    match k {
        PolicyKind::Kubernetes => "kubernetes",
        PolicyKind::Native => "native",
    }
}

fn parse_kind(s: &str) -> Result<PolicyKind, ServerError> {
    match s {
        "kubernetes" => Ok(PolicyKind::Kubernetes),
        "native" => Ok(PolicyKind::Native),
        _ => Err(ServerError::Corrupt(format!("unknown policy kind `{s}`"))),
    }
}

/// All stored policies, sorted by name.
pub fn load_policies(conn: &Connection) -> Result<Vec<StoredPolicy>, ServerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, kind, version, source, file, created_at, updated_at, author
         FROM policies ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, i64>(6)?,
            r.get::<_, String>(7)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (name, kind, version, source, file, created, updated, author) = row?;
        out.push(PolicyInfo {
            name,
            kind: parse_kind(&kind)?,
            version: version as u64,
            source,
            file,
            created_at: Timestamp(created),
            updated_at: Timestamp(updated),
            author,
        });
    }
    Ok(out)
}

/// Inserts or replaces a policy, and records the version in its history.
pub fn save_policy(conn: &Connection, p: &StoredPolicy, revision: u64) -> Result<(), ServerError> {
    conn.execute(
        "INSERT INTO policies (name, kind, version, source, file, created_at, updated_at, author)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, version = excluded.version,
           source = excluded.source, file = excluded.file, updated_at = excluded.updated_at,
           author = excluded.author",
        params![
            p.name,
            kind_text(p.kind),
            super::to_i64(p.version),
            p.source,
            p.file,
            p.created_at.millis(),
            p.updated_at.millis(),
            p.author
        ],
    )?;
    conn.execute(
        "INSERT INTO policy_versions (name, version, kind, source, file, at, author, revision)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            p.name,
            super::to_i64(p.version),
            kind_text(p.kind),
            p.source,
            p.file,
            p.updated_at.millis(),
            p.author,
            super::to_i64(revision)
        ],
    )?;
    Ok(())
}

/// Removes a policy, keeping a tombstone in its history.
pub fn delete_policy(
    conn: &Connection,
    p: &StoredPolicy,
    at: Timestamp,
    author: &str,
    revision: u64,
) -> Result<(), ServerError> {
    conn.execute("DELETE FROM policies WHERE name = ?1", params![p.name])?;
    conn.execute(
        "INSERT INTO policy_versions (name, version, kind, source, file, at, author, revision, deleted)
         VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6, ?7, 1)",
        params![
            p.name,
            super::to_i64(p.version),
            kind_text(p.kind),
            p.file,
            at.millis(),
            author,
            super::to_i64(revision)
        ],
    )?;
    Ok(())
}

/// The highest version a policy of this name ever had (0 if none): a policy created
/// again after a delete continues its numbering, so history rows never collide.
pub fn last_version(conn: &Connection, name: &str) -> Result<u64, ServerError> {
    let v: Option<i64> = conn.query_row(
        "SELECT MAX(version) FROM policy_versions WHERE name = ?1",
        params![name],
        |r| r.get(0),
    )?;
    Ok(v.unwrap_or(0) as u64)
}
