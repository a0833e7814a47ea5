//! Tokens: generation, hashing, authentication and management.
//!
//! Tokens are 256 random bits from the OS, so a single SHA-256 is a safe way to store
//! them (no password stretching is needed for secrets nobody can guess), and a lookup by
//! hash gives an attacker no timing signal about the stored values.

use super::Core;
use crate::error::ServerError;
use crate::store::{self, StoredToken};
use bulkhead_api::{AuditEntry, CreateToken, CreatedToken, Role, Timestamp, TokenInfo};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// Who is calling: the token's name (what the audit log records) and its role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// A fresh token: `bh_` and 64 hex digits (256 bits from the OS).
pub fn generate_token() -> Result<String, ServerError> {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| ServerError::io("reading OS randomness", std::io::Error::other(e)))?;
    Ok(format!("bh_{}", hex(&bytes)))
}

pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Core {
    /// The caller a bearer token stands for.
    pub fn authenticate(&self, token: &str) -> Result<Caller, ServerError> {
        let hash = hash_token(token);
        if hash == self.admin_hash {
            return Ok(Caller {
                name: "admin".into(),
                role: Role::Admin,
            });
        }
        let state = self.lock();
        state
            .tokens
            .get(&hash)
            .map(|t| Caller {
                name: t.name.clone(),
                role: t.role,
            })
            .ok_or_else(|| {
                ServerError::Unauthorized("the token is not known to this server".into())
            })
    }

    pub(super) fn tokens(&self) -> Vec<TokenInfo> {
        let mut out: Vec<TokenInfo> = self.lock().tokens.values().cloned().collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    pub(super) fn create_token(
        &self,
        actor: &str,
        req: CreateToken,
    ) -> Result<CreatedToken, ServerError> {
        if let Some(e) = bulkhead_policy::names::dns_label_error(&req.name) {
            return Err(ServerError::invalid(format!("name: {e}")));
        }
        let mut state = self.lock();
        if req.name == "admin" || state.tokens.values().any(|t| t.name == req.name) {
            return Err(ServerError::Conflict(format!(
                "a token named `{}` exists",
                req.name
            )));
        }
        let token = generate_token()?;
        let info = TokenInfo {
            name: req.name.clone(),
            role: req.role,
            created_at: Timestamp::now(),
            created_by: actor.into(),
        };
        let stored = StoredToken {
            info: info.clone(),
            hash: hash_token(&token),
        };
        let tx = state.store.transaction()?;
        store::insert_token(&tx, &stored)?;
        store::insert_audit(
            &tx,
            &audit(
                actor,
                "token.create",
                &req.name,
                format!("role {}", req.role),
            ),
        )?;
        tx.commit()?;
        state.tokens.insert(stored.hash, info);
        Ok(CreatedToken {
            name: req.name,
            role: req.role,
            token,
        })
    }

    pub(super) fn delete_token(&self, actor: &str, name: &str) -> Result<(), ServerError> {
        let mut state = self.lock();
        let tx = state.store.transaction()?;
        if !store::delete_token(&tx, name)? {
            return Err(ServerError::NotFound(format!("no token named `{name}`")));
        }
        store::insert_audit(&tx, &audit(actor, "token.delete", name, String::new()))?;
        tx.commit()?;
        state.tokens.retain(|_, t| t.name != name);
        Ok(())
    }
}

/// An audit entry made now (its id is given by the store).
pub(super) fn audit(actor: &str, action: &str, target: &str, detail: String) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: Timestamp::now(),
        actor: actor.into(),
        action: action.into(),
        target: target.into(),
        detail,
        revision: None,
    }
}
