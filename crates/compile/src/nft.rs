//! [`Program`](crate::Program) → an nftables ruleset.
