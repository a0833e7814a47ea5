//! One module per subcommand group.

pub mod enforce;
pub mod lab;
pub mod policy;
