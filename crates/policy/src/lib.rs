//! Bulkhead's policy model, with no I/O at all.
//!
//! - [`model`]: workloads, the inventory, protocols, modes.
//! - [`yaml`] and [`diag`]: reading user files with exact source locations.
//! - [`lab`]: the lab file.
//! - [`selector`] and [`ir`]: label selectors and the normalized policy form that both
//!   Kubernetes NetworkPolicy and the native kind lower into.
//!
//! Everything here is a function from values to values, so the verdict logic is tested
//! in milliseconds and shared by the evaluator, the compiler, replay and UI previews.

pub mod diag;
pub mod ir;
pub mod lab;
pub mod model;
pub mod names;
pub mod selector;
pub mod yaml;

pub use diag::{Diagnostic, Diagnostics, Location};
pub use model::{
    Action, Direction, Inventory, Labels, Mode, NamedPort, Protocol, Workload, WorkloadId,
};
