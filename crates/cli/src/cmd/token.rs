//! `bulkhead token create|list|delete`: API tokens (admin token needed).

use super::client::{Client, ClientArgs};
use crate::output::Format;
use anyhow::Context;
use bulkhead_api::{CreateToken, CreatedToken, Role, TokenInfo, paths};
use clap::{Args, Subcommand};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token. Its text is printed once (or written to --out, mode 0600).
    Create(CreateArgs),
    /// List tokens (names and roles; never their text).
    List(ListArgs),
    /// Delete a token; it stops working at once.
    Delete(DeleteArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// 1 to 63 lower-case letters, digits or '-'.
    #[arg(long)]
    name: String,
    /// A read-only token (may read everything but tokens; every change is refused).
    #[arg(long, conflicts_with = "role")]
    read_only: bool,
    /// admin, read-only or agent (agent: only the agent channel).
    #[arg(long, value_parser = |s: &str| s.parse::<Role>())]
    role: Option<Role>,
    /// Write the token to this file (created with mode 0600) instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    client: ClientArgs,
    name: String,
}

pub fn run(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create(a) => create(a),
        TokenCommand::List(a) => list(a),
        TokenCommand::Delete(a) => {
            let client = Client::new(&a.client)?;
            let _: Option<()> =
                client.delete::<(), _>(&format!("{}/{}", paths::TOKENS, a.name), None)?;
            Ok(())
        }
    }
}

fn create(a: CreateArgs) -> anyhow::Result<()> {
    let role = match (a.read_only, a.role) {
        (true, _) => Role::ReadOnly,
        (false, Some(r)) => r,
        (false, None) => Role::Admin,
    };
    let client = Client::new(&a.client)?;
    let created: CreatedToken = client.post(paths::TOKENS, &CreateToken { name: a.name, role })?;
    match a.out {
        Some(path) => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("{}: cannot create the token file", path.display()))?;
            writeln!(f, "{}", created.token)
                .with_context(|| format!("{}: cannot write", path.display()))?;
        }
        None => println!("{}", created.token),
    }
    Ok(())
}

fn list(a: ListArgs) -> anyhow::Result<()> {
    let client = Client::new(&a.client)?;
    let tokens: Vec<TokenInfo> = client.get(paths::TOKENS)?;
    match a.output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&tokens)?),
        Format::Table => {
            println!(
                "{:<24} {:<10} {:<24}  CREATED BY",
                "NAME", "ROLE", "CREATED"
            );
            for t in &tokens {
                println!(
                    "{:<24} {:<10} {:<24}  {}",
                    t.name,
                    t.role,
                    t.created_at.to_string(),
                    t.created_by
                );
            }
        }
    }
    Ok(())
}
