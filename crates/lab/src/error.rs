//! The one error type of this crate: every way bringing a lab up, down or probing it
//! can fail, each with a message that names what was being done.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    // The causes are part of the message (not `#[source]`), so that printing the error
    // chain does not say them twice.
    #[error("{what}: {error}")]
    Io { what: String, error: std::io::Error },
    #[error("netlink: {what}: {error}")]
    Netlink {
        what: String,
        error: rtnetlink::Error,
    },
    #[error("network namespace {name}: {message}")]
    Netns { name: String, message: String },
    #[error("{}: {message}", path.display())]
    State { path: PathBuf, message: String },
    #[error("lab `{lab}` is not up (run `bulkhead lab up` first)")]
    NotUp { lab: String },
    #[error("no workload `{id}` in lab `{lab}`")]
    UnknownWorkload { lab: String, id: String },
    #[error("listener daemon of lab `{lab}`: {message}")]
    Serve { lab: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl LabError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
        let what = what.into();
        move |error| LabError::Io { what, error }
    }

    pub(crate) fn nl(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> LabError {
        let what = what.into();
        move |error| LabError::Netlink { what, error }
    }
}

pub type Result<T, E = LabError> = std::result::Result<T, E>;
