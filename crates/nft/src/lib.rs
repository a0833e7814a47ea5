//! The nftables backend: a compiled [`Program`](bulkhead_compile::Program) is turned
//! into the ruleset of [`bulkhead_compile::nft`] and put in force over netlink, in one
//! batch (one transaction) per apply.
//!
//! # Why a netlink encoder of our own rather than libnftnl
//!
//! The `nftnl` crate's safe API covers tables, chains, simple rules and plain sets, but
//! not what this ruleset is made of: verdict maps, concatenated interval keys
//! (`NFTA_SET_DESC_CONCAT`, `KEY_END`), `log` expressions. Wrapping those through
//! `nftnl-sys` would have meant hundreds of FFI calls, each `unsafe`. The nf_tables
//! netlink ABI is a small, stable set of type-length-value attributes, so [`msg`]
//! writes them straight into one buffer (no per-element allocation in C) and the
//! kernel checks every message: each one asks for an acknowledgement and every answer
//! is read back ([`socket`]). The only `unsafe` left is one `setsockopt`.
//! The whole batch goes out in one `send` on a socket with `SO_SNDBUFFORCE` raised to
//! fit it, which is what makes 100k-element applies take milliseconds, not seconds.
//!
//! # Atomicity
//!
//! One apply is one nfnetlink batch, and the kernel commits a batch all or nothing.
//! The first apply of a backend replaces the table (`add table`, `delete table`,
//! recreate); later ones send only the [`diff`](bulkhead_compile::nft::diff) against
//! the ruleset this backend applied last. If the kernel rejects any message, nothing
//! changes and the backend keeps its previous state.

mod backend;
mod conntrack;
mod encode;
mod expr;
mod flows;
mod msg;
mod socket;
mod sys;

pub use backend::{Applied, NftBackend};
pub use flows::NftFlows;

use std::io;

/// Everything that can go wrong between a ruleset and the kernel.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot enter network namespace {path}: {source}")]
    Netns { path: String, source: io::Error },
    #[error("{0}: {1}")]
    Io(String, #[source] io::Error),
    #[error("the kernel rejected the transaction at `{what}`: {source}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    Rejected {
        what: String,
        source: io::Error,
        /// The kernel's own explanation, when it gives one.
        detail: String,
    },
    #[error("unexpected answer from the kernel: {0}")]
    Protocol(String),
    #[error("cannot build the ruleset: {0}")]
    Build(#[from] bulkhead_compile::nft::BuildError),
}

impl From<Error> for bulkhead_dataplane::Error {
    fn from(e: Error) -> Self {
        use bulkhead_dataplane::Error as D;
        match e {
            Error::Netns { path, source } => D::Netns { path, source },
            Error::Io(what, source) => D::Kernel { what, source },
            e @ Error::Rejected { .. } => D::Backend {
                what: "nft".into(),
                message: e.to_string(),
            },
            Error::Protocol(message) => D::Backend {
                what: "nft".into(),
                message,
            },
            e @ Error::Build(_) => D::Backend {
                what: "nft".into(),
                message: e.to_string(),
            },
        }
    }
}
