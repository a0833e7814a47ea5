//! Bulkhead's end-to-end tests: one test binary for the whole project (so it links and
//! starts once), driving the real `bulkhead` binary against real network namespaces.
//!
//! Every test here is privileged (root; namespaces, nftables, eBPF) and named
//! `privileged_*`. Each builds its own lab with a unique name through [`harness`], so
//! tests run in parallel threads without meeting, and an RAII guard takes the lab down
//! even when the test panics.
//!
//! To add tests: add a module below and use the helpers of [`harness`] (see its docs).
//! Run: `cargo test -p bulkhead --test e2e` (add `-- privileged_lab` to filter).

mod agent;
mod docker;
mod ebpf;
mod ebpf_conformance;
mod ebpf_continuity;
mod ebpf_differential;
mod harness;
mod lab;
mod learn;
mod nft;
mod server;
