//! Network labs: workloads in their own network namespaces, attached by veth to a bridge
//! in a node namespace, with echo listeners on their ports and a prober that makes real
//! connections between them. This is how users try policies before production and how
//! the tests prove enforcement with real packets.
//!
//! - [`up`] / [`down`]: create (reconcile) and remove a lab; see [`topology`] for the
//!   shape and the names other crates rely on, and [`state`] for what is recorded under
//!   `/run/bulkhead/labs/{lab}/`.
//! - [`probe`]: connection attempts; [`plan`] is the pair/port enumeration that
//!   `policy eval` shares, [`to_json`] / [`to_table`] the shared output.
//! - [`serve`]: the listener daemon behind `bulkhead lab serve`.
//!
//! Kernel work goes through netlink (`rtnetlink`) from threads that entered the right
//! namespace ([`netns`]); nothing here shells out. The crate has its own small
//! `netns::run_in` rather than the dataplane's: the lab sits below the policy compiler
//! and the backends in the dependency graph and must not pull them in.

mod child;
mod down;
mod error;
mod l2;
pub mod netns;
mod nodes;
mod parallel;
mod probe;
mod rtnl;
pub mod serve;
pub mod state;
pub mod topology;
mod up;
mod workloads;

pub use child::die_with_parent;
pub use down::{BPF_PIN_ROOT, DownReport, down, pin_dir};
pub use error::LabError;
pub use probe::{
    Attempt, DEFAULT_TIMEOUT, ProbeOptions, ProbeResult, plan, probe, to_json, to_table,
};
pub use state::{STATE_ROOT, state_dir};
pub use up::{UpOptions, UpReport, up};
