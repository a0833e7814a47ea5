//! API tokens: only their SHA-256 hashes are stored.

use crate::error::ServerError;
use bulkhead_api::{Role, Timestamp, TokenInfo};
use rusqlite::{Connection, params};

pub struct StoredToken {
    pub info: TokenInfo,
    pub hash: [u8; 32],
}

pub fn load_tokens(conn: &Connection) -> Result<Vec<StoredToken>, ServerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, role, hash, created_at, created_by FROM tokens ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Vec<u8>>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (name, role, hash, created_at, created_by) = row?;
        let role: Role = role.parse().map_err(ServerError::Corrupt)?;
        let hash: [u8; 32] = hash
            .try_into()
            .map_err(|_| ServerError::Corrupt(format!("token `{name}`: hash is not 32 bytes")))?;
        out.push(StoredToken {
            info: TokenInfo {
                name,
                role,
                created_at: Timestamp(created_at),
                created_by,
            },
            hash,
        });
    }
    Ok(out)
}

pub fn insert_token(conn: &Connection, t: &StoredToken) -> Result<(), ServerError> {
    conn.execute(
        "INSERT INTO tokens (name, role, hash, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            t.info.name,
            t.info.role.as_str(),
            &t.hash[..],
            t.info.created_at.millis(),
            t.info.created_by
        ],
    )?;
    Ok(())
}

/// Whether a token of that name existed.
pub fn delete_token(conn: &Connection, name: &str) -> Result<bool, ServerError> {
    Ok(conn.execute("DELETE FROM tokens WHERE name = ?1", params![name])? > 0)
}
