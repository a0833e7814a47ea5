//! The few `bpf(2)` commands aya 0.14 does not expose, or not in a form that can run on
//! several threads at once: reading a TCX link's interface, creating, updating and
//! pinning TCX links, waiting for an RCU grace period, and `BPF_PROG_TEST_RUN` for tc
//! programs. Each is a plain syscall on a zeroed, 8-byte aligned `union bpf_attr` image
//! whose field offsets come from `include/uapi/linux/bpf.h` (stable ABI).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_PROG_TEST_RUN: libc::c_long = 10;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_LINK_UPDATE: libc::c_long = 29;

const BPF_MAP_TYPE_ARRAY: u32 = 2;
const BPF_MAP_TYPE_ARRAY_OF_MAPS: u32 = 12;
pub const BPF_LINK_TYPE_TCX: u32 = 11;
pub const BPF_TCX_INGRESS: u32 = 46;
pub const BPF_TCX_EGRESS: u32 = 47;

/// A `union bpf_attr` image, large enough for every command used here.
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Self {
        Attr([0; 128])
    }
    fn u32(&mut self, offset: usize, v: u32) -> &mut Self {
        self.0[offset..offset + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, offset: usize, v: u64) -> &mut Self {
        self.0[offset..offset + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn get_u32(&self, offset: usize) -> u32 {
        let mut b = [0; 4];
        b.copy_from_slice(&self.0[offset..offset + 4]);
        u32::from_ne_bytes(b)
    }

    fn call(&mut self, cmd: libc::c_long, what: &'static str) -> io::Result<libc::c_long> {
        // SAFETY: `self` is a zero-initialised attr of 128 bytes (more than any command
        // here reads), every pointer stored in it refers to memory that outlives the
        // call, and the kernel writes back only within the size passed.
        let r = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                self.0.as_mut_ptr(),
                self.0.len() as libc::c_uint,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
        }
        Ok(r)
    }
}

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel just returned this new descriptor; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Opens a pinned object (link, map, program).
pub fn obj_get(path: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut a = Attr::new();
    a.u64(0, c.as_ptr() as u64);
    a.call(BPF_OBJ_GET, "BPF_OBJ_GET").map(owned)
}

/// Creates a TCX link running `prog` on interface `ifindex` (of the calling thread's
/// network namespace) at `attach_type` (`BPF_TCX_INGRESS`/`BPF_TCX_EGRESS`), after the
/// programs already there.
pub fn tcx_link_create(
    prog: BorrowedFd<'_>,
    ifindex: u32,
    attach_type: u32,
) -> io::Result<OwnedFd> {
    // link_create: prog_fd@0 target_ifindex@4 attach_type@8 flags@12; the tcx union
    // (relative fd/id, expected revision) left zero: append, whatever the revision.
    let mut a = Attr::new();
    a.u32(0, prog.as_raw_fd() as u32)
        .u32(4, ifindex)
        .u32(8, attach_type);
    a.call(BPF_LINK_CREATE, "BPF_LINK_CREATE").map(owned)
}

/// Replaces the program of a link, atomically for the packets that pass it.
pub fn link_update(link: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    // link_update: link_fd@0 new_prog_fd@4 flags@8 old_prog_fd@12.
    let mut a = Attr::new();
    a.u32(0, link.as_raw_fd() as u32)
        .u32(4, prog.as_raw_fd() as u32);
    a.call(BPF_LINK_UPDATE, "BPF_LINK_UPDATE")?;
    Ok(())
}

/// Pins an object (here: a link) at `path` on bpffs.
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // obj_pin: pathname@0 bpf_fd@8.
    let mut a = Attr::new();
    a.u64(0, c.as_ptr() as u64).u32(8, fd.as_raw_fd() as u32);
    a.call(BPF_OBJ_PIN, "BPF_OBJ_PIN")?;
    Ok(())
}

/// What the kernel says about a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub link_type: u32,
    pub prog_id: u32,
    /// For TCX links; 0 once the interface is gone.
    pub ifindex: u32,
    pub attach_type: u32,
}

pub fn link_info(fd: BorrowedFd<'_>) -> io::Result<LinkInfo> {
    // struct bpf_link_info: type@0 id@4 prog_id@8, union@16: tcx { ifindex, attach_type }.
    let mut info = Attr::new();
    let mut a = Attr::new();
    a.u32(0, fd.as_raw_fd() as u32)
        .u32(4, 64)
        .u64(8, info.0.as_mut_ptr() as u64);
    a.call(BPF_OBJ_GET_INFO_BY_FD, "BPF_OBJ_GET_INFO_BY_FD")?;
    Ok(LinkInfo {
        link_type: info.get_u32(0),
        prog_id: info.get_u32(8),
        ifindex: info.get_u32(16),
        attach_type: info.get_u32(20),
    })
}

/// The id of a loaded program (struct bpf_prog_info: type@0 id@4).
pub fn prog_id(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut info = Attr::new();
    let mut a = Attr::new();
    a.u32(0, fd.as_raw_fd() as u32)
        .u32(4, 8)
        .u64(8, info.0.as_mut_ptr() as u64);
    a.call(BPF_OBJ_GET_INFO_BY_FD, "BPF_OBJ_GET_INFO_BY_FD")?;
    Ok(info.get_u32(4))
}

/// Waits for an RCU grace period: every BPF program run that started before the call
/// has finished when it returns.
///
/// The kernel offers no direct "synchronize_rcu" to user space, but it calls it after
/// every element update of a map-of-maps (`maybe_wait_bpf_programs` in
/// `kernel/bpf/syscall.c`), precisely so that user space knows no program still sees
/// the old element. This map-of-maps exists only for that side effect.
pub struct Grace {
    outer: OwnedFd,
    inner: OwnedFd,
}

impl Grace {
    pub fn new() -> io::Result<Grace> {
        let mut a = Attr::new();
        a.u32(0, BPF_MAP_TYPE_ARRAY).u32(4, 4).u32(8, 4).u32(12, 1);
        let inner = owned(a.call(BPF_MAP_CREATE, "BPF_MAP_CREATE (array)")?);
        let mut a = Attr::new();
        a.u32(0, BPF_MAP_TYPE_ARRAY_OF_MAPS)
            .u32(4, 4)
            .u32(8, 4)
            .u32(12, 1)
            .u32(20, inner.as_raw_fd() as u32);
        let outer = owned(a.call(BPF_MAP_CREATE, "BPF_MAP_CREATE (array of maps)")?);
        Ok(Grace { outer, inner })
    }

    pub fn synchronize(&self) -> io::Result<()> {
        let key = 0u32;
        let value = self.inner.as_raw_fd() as u32;
        let mut a = Attr::new();
        a.u32(0, self.outer.as_raw_fd() as u32)
            .u64(8, &key as *const u32 as u64)
            .u64(16, &value as *const u32 as u64);
        a.call(BPF_MAP_UPDATE_ELEM, "BPF_MAP_UPDATE_ELEM (grace period)")?;
        Ok(())
    }
}

/// The result of a `BPF_PROG_TEST_RUN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestRun {
    /// The program's return value (for tc: -1 pass to the next, 2 drop).
    pub retval: i32,
    /// Average nanoseconds per run, as the kernel measured it.
    pub duration_ns: u32,
}

/// Runs a tc program `repeat` times on `packet` (starting with its Ethernet header),
/// as if it arrived on interface `ifindex` of the calling thread's network namespace
/// (so call it from a thread inside that namespace).
pub fn test_run(prog: impl AsFd, packet: &[u8], ifindex: u32, repeat: u32) -> io::Result<TestRun> {
    // struct __sk_buff up to and including `ifindex` (offset 40): the only field set.
    let mut ctx = [0u8; 44];
    ctx[40..44].copy_from_slice(&ifindex.to_ne_bytes());
    let mut a = Attr::new();
    a.u32(0, prog.as_fd().as_raw_fd() as u32)
        .u32(8, packet.len() as u32)
        .u64(16, packet.as_ptr() as u64)
        .u32(32, repeat)
        .u32(40, ctx.len() as u32)
        .u64(48, ctx.as_ptr() as u64);
    a.call(BPF_PROG_TEST_RUN, "BPF_PROG_TEST_RUN")?;
    Ok(TestRun {
        retval: a.get_u32(4) as i32,
        duration_ns: a.get_u32(36),
    })
}
