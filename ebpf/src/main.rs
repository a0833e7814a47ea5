//! Bulkhead's TC programs: one per hook of a workload's host-side veth.
//!
//! - `bh_from_wl` runs on the veth's TC ingress: packets *from* the workload, so it
//!   checks the workload's **egress**.
//! - `bh_to_wl` runs on the veth's TC egress: packets *to* the workload, its
//!   **ingress**.
//!
//! Entry points are thin; the logic is in [`check`], the maps in [`maps`] and header
//! parsing in [`packet`]. Everything is built only for the bpf target; on the host
//! this crate is an empty binary so that `cargo` can still resolve the workspace.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]
// Atomic adds on map memory (see `check::count`); the eBPF crate builds with nightly.
#![cfg_attr(target_arch = "bpf", feature(core_intrinsics))]
#![cfg_attr(target_arch = "bpf", allow(internal_features))]

#[cfg(target_arch = "bpf")]
mod check;
#[cfg(target_arch = "bpf")]
mod maps;
#[cfg(target_arch = "bpf")]
mod packet;

#[cfg(target_arch = "bpf")]
mod entry {
    use crate::check::{TC_ACT_SHOT, try_check};
    use aya_ebpf::{macros::classifier, programs::TcContext};
    use bulkhead_ebpf_common::{DIR_EGRESS, DIR_INGRESS};

    /// TC ingress of the host-side veth: the workload's egress.
    #[classifier]
    pub fn bh_from_wl(ctx: TcContext) -> i32 {
        match try_check(&ctx, DIR_EGRESS) {
            Ok(action) => action,
            // An IPv4 packet whose headers cannot be read is dropped: fail closed.
            Err(()) => TC_ACT_SHOT,
        }
    }

    /// TC egress of the host-side veth: the workload's ingress.
    #[classifier]
    pub fn bh_to_wl(ctx: TcContext) -> i32 {
        match try_check(&ctx, DIR_INGRESS) {
            Ok(action) => action,
            Err(()) => TC_ACT_SHOT,
        }
    }

    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo) -> ! {
        // The verifier rejects any reachable panic path, so this is never executed.
        loop {}
    }
}

// SAFETY: the kernel reads the license from a `license` section by this exact symbol;
// no Rust code refers to it, so no other item can clash with the unmangled name.
#[cfg(target_arch = "bpf")]
#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
static LICENSE: [u8; 4] = *b"GPL\0";

#[cfg(not(target_arch = "bpf"))]
fn main() {}
