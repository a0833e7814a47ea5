//! The body of every error answer, whatever the status.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}")]
pub struct ErrorBody {
    /// One line saying what went wrong, naming the field or parameter at fault.
    pub error: String,
    /// For invalid policies: one `file:line:col: message` line per problem.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl ErrorBody {
    pub fn new(error: impl Into<String>) -> Self {
        ErrorBody {
            error: error.into(),
            details: Vec::new(),
        }
    }
}

/// Body of `GET /api/v1/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: String,
    pub version: String,
    /// The current desired-state revision.
    pub revision: u64,
}
