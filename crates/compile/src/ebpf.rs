//! [`Program`](crate::Program) → eBPF map entries.
