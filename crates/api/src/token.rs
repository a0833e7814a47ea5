//! API tokens. The server keeps only their SHA-256 hashes; a token's text is shown once,
//! when it is created.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// May read and change everything, and use the agent channel.
    Admin,
    /// May read everything except tokens; every change is refused with 403.
    ReadOnly,
    /// May use the agent channel (`/api/v1/agents/{node}/...`) and nothing else.
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::ReadOnly => "read-only",
            Role::Agent => "agent",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Role::Admin, Role::ReadOnly, Role::Agent]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`, expected admin, read-only or agent"))
    }
}

/// Body of `POST /api/v1/tokens`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// 1 to 63 lower-case alphanumerics or '-'; `admin` is taken by the token file.
    pub name: String,
    pub role: Role,
}

/// Answer of `POST /api/v1/tokens`: the only time the token's text is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub name: String,
    pub role: Role,
    pub token: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
    pub created_by: String,
}
