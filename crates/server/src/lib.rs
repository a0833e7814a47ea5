//! Bulkhead's control plane.
//!
//! ```text
//! HTTP (axum) ──parse──▶ core::Command ──execute──▶ core::Core ──▶ store (SQLite, WAL)
//!      ▲                                               │     └──▶ graph (petgraph, in memory)
//!      └──────────────render── core::Outcome ◀─────────┘
//! ```
//!
//! - [`http`]: routes, extractors that turn every bad input into a JSON error, auth,
//!   Server-Sent Events, the OpenAPI document. No decisions are made there.
//! - [`core`]: executes commands; unit-tested without sockets.
//! - [`store`]: numbered migrations and the tables; the truth, on disk.
//! - [`graph`]: the flow graph kept in memory for fast graph queries.
//! - [`serve`]: the process: token file, loopback check, listening, shutdown.
//!
//! The server never imports the dataplane: agents reach it only through
//! [`bulkhead_api`] types over HTTP.

pub mod core;
pub mod error;
pub mod graph;
pub mod http;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod serve;
pub mod store;

pub use error::ServerError;
pub use serve::{Config, Server};
