//! Bulkhead's policy model, with no I/O at all.
//!
//! - [`model`]: workloads, the inventory, protocols, modes.
//! - [`yaml`] and [`diag`]: reading user files with exact source locations.
//! - [`lab`]: the lab file.
//! - [`selector`] and [`ir`]: label selectors and the normalized policy form that both
//!   Kubernetes NetworkPolicy and the native kind lower into.
//! - [`parse_documents`] (with the private `k8s` and `native` readers): policy files → IR;
//!   [`ir::PolicySet::new`]: the set in force.
//! - [`matching`] and [`eval`]: what each rule matches, and the reference evaluator.
//! - [`baseline`]: learning a least-privilege policy set from recorded flows, and
//!   [`emit`], the YAML writer it (and any export) writes with.
//! - [`conformance`]: the format of the conformance cases in `tests/conformance/`.
//!
//! Everything here is a function from values to values, so the verdict logic is tested
//! in milliseconds and shared by the evaluator, the compiler, replay and UI previews.

pub mod baseline;
pub mod conformance;
pub mod diag;
mod document;
pub mod emit;
pub mod eval;
pub mod ir;
mod k8s;
pub mod lab;
pub mod matching;
pub mod model;
pub mod names;
mod native;
mod read;
pub mod selector;
pub mod time;
pub mod yaml;

pub use diag::{Diagnostic, Diagnostics, Location};
pub use document::parse_documents;
pub use ir::PolicySet;
pub use model::{
    Action, Direction, Inventory, Labels, Mode, NamedPort, Protocol, Workload, WorkloadId,
};
