//! `bulkhead policy check|eval`.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum PolicyCommand {}

pub fn run(cmd: PolicyCommand) -> anyhow::Result<()> {
    match cmd {}
}
