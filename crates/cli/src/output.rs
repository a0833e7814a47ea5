//! Output formats shared by the subcommands (`-o json|table`).

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    #[default]
    Table,
}
