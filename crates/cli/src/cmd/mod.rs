//! One module per subcommand group.

pub mod agent;
pub mod baseline;
pub mod client;
pub mod demo;
pub mod enforce;
pub mod graph;
pub mod guarded;
pub mod lab;
pub mod observe;
pub mod policy;
pub mod policy_remote;
pub mod server;
pub mod token;
pub mod workload;
