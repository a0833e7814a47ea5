//! `bulkhead enforce --lab LAB --policy PATH... --backend nft|ebpf`.

use clap::Args;

#[derive(Args)]
pub struct EnforceArgs {}

pub fn run(args: EnforceArgs) -> anyhow::Result<()> {
    let EnforceArgs {} = args;
    anyhow::bail!("enforce: no backend is built yet")
}
