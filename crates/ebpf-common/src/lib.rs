#![no_std]
//! Kernel/user shared #[repr(C)] map keys, values and events for Bulkhead's eBPF programs.
