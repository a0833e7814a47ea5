//! Policy + inventory → what the kernel must hold. No I/O: every function here maps
//! values to values, so compiled output is checked with golden files and against the
//! reference evaluator in milliseconds.
//!
//! - [`program`]: the backend-neutral [`Program`] (identities, ipcache, per-endpoint tables)
//!   and its reference lookup.
//! - [`compiler`]: `PolicySet` + `Inventory` → [`Program`].
//! - [`nft`]: [`Program`] → an nftables ruleset (IR plus its `nft -f` text).
//! - [`ebpf`]: [`Program`] → eBPF map entries.

pub mod compiler;
pub mod dump;
pub mod ebpf;
pub mod nft;
pub mod program;
pub mod synthetic;

pub use compiler::{CompileError, Compiler, Input, compile};
pub use program::{Decision, Endpoint, IdentityId, Outcome, Program, RuleId};
