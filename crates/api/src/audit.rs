//! The audit log: who changed what, when. Entries are never updated or removed.

use crate::time::{TimeBound, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Grows with every entry; the paging cursor.
    pub id: u64,
    pub at: Timestamp,
    /// The name of the token used (`admin` for the token file's).
    pub actor: String,
    /// `policy.create`, `policy.update`, `policy.delete`, `mode.set`, `token.create`,
    /// `token.delete`.
    pub action: String,
    /// What was changed: a policy name, a workload id, a token name.
    pub target: String,
    /// Human-readable details (versions, old and new mode...).
    pub detail: String,
    /// The desired-state revision the change produced (null for token changes).
    pub revision: Option<u64>,
}

/// Filters of `GET /api/v1/audit`; newest entries first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub target: Option<String>,
    pub since: Option<TimeBound>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page: entries older than it.
    pub cursor: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_cursor: Option<u64>,
}
