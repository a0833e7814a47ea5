//! The one error type of the server crate. Each variant knows its HTTP status, so the
//! core can say *what* went wrong without knowing it is behind HTTP.

use bulkhead_api::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or invalid token: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large: {0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The content is well-formed but wrong: an unknown field, an invalid policy...
    #[error("{message}")]
    Invalid {
        message: String,
        /// `file:line:col: message` lines for policies.
        details: Vec<String>,
    },
    #[error("database: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("the server is shutting down")]
    ShuttingDown,
}

impl ServerError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ServerError::Invalid {
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ServerError::Io {
            context: context.into(),
            source,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            ServerError::BadRequest(_) => 400,
            ServerError::Unauthorized(_) => 401,
            ServerError::Forbidden(_) => 403,
            ServerError::NotFound(_) => 404,
            ServerError::Conflict(_) => 409,
            ServerError::TooLarge(_) => 413,
            ServerError::UnsupportedMediaType(_) => 415,
            ServerError::Invalid { .. } => 422,
            ServerError::ShuttingDown => 503,
            ServerError::Store(_) | ServerError::Corrupt(_) | ServerError::Io { .. } => 500,
        }
    }

    pub fn body(&self) -> ErrorBody {
        let details = match self {
            ServerError::Invalid { details, .. } => details.clone(),
            _ => Vec::new(),
        };
        ErrorBody {
            error: self.to_string(),
            details,
        }
    }
}

impl From<serde_json::Error> for ServerError {
    fn from(e: serde_json::Error) -> Self {
        ServerError::Corrupt(format!("stored JSON: {e}"))
    }
}
