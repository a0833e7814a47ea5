//! One module per subcommand group.

pub mod enforce;
pub mod lab;
pub mod policy;
pub mod client;
pub mod graph;
pub mod observe;
pub mod policy_remote;
pub mod server;
pub mod token;
pub mod workload;
