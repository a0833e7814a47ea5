//! Conntrack entries the new program denies are deleted after each apply.
//!
//! `ct state established,related accept` comes first in the ruleset, so a connection
//! admitted under an old program would keep flowing after a policy change denies it: a
//! UDP "connection" lives as long as packets keep coming. After an apply, every IPv4
//! entry of the node's conntrack table is checked against the program in force (its
//! original direction: source, destination, protocol, destination port) and the
//! denied ones are deleted, so their next packet is a new connection, checked again.

use crate::Error;
use bulkhead_compile::{Outcome, Program};
use bulkhead_policy::{Action, Mode};
use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, sendto,
    setsockopt, socket, sockopt,
};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

const SUBSYS_CTNETLINK: u16 = 1;
const MSG_CT_GET: u16 = 1;
const MSG_CT_DELETE: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const AF_INET: u8 = 2;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_DST_PORT: u16 = 3;
const NLA_TYPE_MASK: u16 = 0x3fff;

/// A ctnetlink socket of one network namespace.
pub struct Conntrack {
    fd: OwnedFd,
}

fn io(what: &str, e: Errno) -> Error {
    Error::Io(what.to_string(), std::io::Error::from(e))
}

impl Conntrack {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> Result<Conntrack, Error> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkNetFilter,
        )
        .map_err(|e| io("cannot open a conntrack netlink socket", e))?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))
            .map_err(|e| io("cannot bind the conntrack socket", e))?;
        let timeout = nix::sys::time::TimeVal::new(READ_TIMEOUT.as_secs() as i64, 0);
        setsockopt(&fd, sockopt::ReceiveTimeout, &timeout)
            .map_err(|e| io("cannot set the conntrack socket timeout", e))?;
        Ok(Conntrack { fd })
    }

    /// Deletes every entry `program` denies; returns how many it deleted. With `scope`,
    /// only entries from or to those addresses are judged (the caller knows no other
    /// connection's verdict changed).
    pub fn delete_denied(
        &mut self,
        program: &Program,
        scope: Option<&HashSet<Ipv4Addr>>,
    ) -> Result<usize, Error> {
        if scope.is_some_and(|s| s.is_empty()) {
            return Ok(0); // nothing changed: no dump at all
        }
        let entries = self.dump()?;
        // `Program::check` scans the endpoints: ask it only about entries with an end
        // that can drop at all (an enforcing endpoint that isolates or denies).
        let can_deny = |d: &bulkhead_compile::program::DirectionProgram| {
            d.isolated
                || d.any.entries.iter().any(|e| e.action == Action::Deny)
                || d.peers
                    .values()
                    .any(|t| t.entries.iter().any(|e| e.action == Action::Deny))
        };
        let enforced: HashSet<Ipv4Addr> = program
            .endpoints
            .iter()
            .filter(|e| scope.is_none_or(|s| e.ips.iter().any(|ip| s.contains(ip))))
            .filter(|e| e.mode == Mode::Enforce && (can_deny(&e.egress) || can_deny(&e.ingress)))
            .flat_map(|e| e.ips.iter().copied())
            .collect();
        let mut batch = Vec::new();
        let mut n: usize = 0;
        for e in &entries {
            if !enforced.contains(&e.src) && !enforced.contains(&e.dst) {
                continue;
            }
            if scope.is_some_and(|s| !s.contains(&e.src) && !s.contains(&e.dst)) {
                continue;
            }
            let (protocol, port) = match e.protocol {
                6 | 17 | 132 => (e.protocol, e.port),
                _ => (0, 0), // every other protocol is protocol 0 in the program
            };
            if program.check(e.src, e.dst, protocol, port).outcome() == Outcome::Denied {
                message(
                    &mut batch,
                    MSG_CT_DELETE,
                    NLM_F_REQUEST | NLM_F_ACK,
                    &e.tuple,
                );
                n += 1;
            }
        }
        if n > 0 {
            self.send(&batch)?;
            // Answers: one ack or error per delete. ENOENT: the entry went meanwhile.
            let mut left = n;
            while left > 0 {
                let mut done = false;
                self.read(|ty, body| {
                    if ty == NLMSG_ERROR {
                        left = left.saturating_sub(1);
                        let errno = body
                            .get(..4)
                            .map_or(0, |b| -i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                        if errno != 0 && errno != libc::ENOENT {
                            tracing::warn!(errno, "cannot delete a conntrack entry");
                        }
                    }
                    done = left == 0;
                    done
                })?;
            }
        }
        Ok(n)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        sendto(
            self.fd.as_raw_fd(),
            bytes,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )
        .map_err(|e| io("cannot send to ctnetlink", e))?;
        Ok(())
    }

    /// Every IPv4 entry, original direction.
    fn dump(&mut self) -> Result<Vec<Entry>, Error> {
        let mut req = Vec::new();
        message(&mut req, MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, &[]);
        self.send(&req)?;
        let mut out = Vec::new();
        let mut failed = None;
        self.read(|ty, body| match ty {
            NLMSG_DONE => true,
            NLMSG_ERROR => {
                let errno = body
                    .get(..4)
                    .map_or(0, |b| -i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                if errno != 0 {
                    failed = Some(errno);
                }
                true
            }
            _ => {
                // After the 4-byte nfgenmsg: the entry's attributes.
                if let Some(e) = body.get(4..).and_then(entry) {
                    out.push(e);
                }
                false
            }
        })?;
        match failed {
            Some(errno) => Err(Error::Io(
                "cannot list conntrack entries".into(),
                std::io::Error::from_raw_os_error(errno),
            )),
            None => Ok(out),
        }
    }

    /// Reads messages, handing each (type, payload) to `f`, until `f` says stop.
    fn read(&mut self, mut f: impl FnMut(u16, &[u8]) -> bool) -> Result<(), Error> {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(io("cannot read from ctnetlink", e)),
            };
            let mut rest = &buf[..n];
            while rest.len() >= 16 {
                let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                if len < 16 || len > rest.len() {
                    break;
                }
                // Control messages (done, error) have types below 16; ctnetlink's
                // own carry the subsystem in the high byte.
                let raw = u16::from_ne_bytes([rest[4], rest[5]]);
                let ty = if raw < 16 { raw } else { 0x100 | (raw & 0xff) };
                let body = &rest[16..len];
                if f(ty, body) {
                    return Ok(());
                }
                rest = rest.get(len.div_ceil(4) * 4..).unwrap_or(&[]);
            }
        }
    }
}

/// A dump answers at once; the read timeout only guards against a kernel that never
/// answers.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

struct Entry {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    port: u16,
    /// The `CTA_TUPLE_ORIG` attribute as the kernel sent it, to name the entry back.
    tuple: Vec<u8>,
}

/// Appends one ctnetlink message with `attrs` after its nfgenmsg.
fn message(buf: &mut Vec<u8>, kind: u16, flags: u16, attrs: &[u8]) {
    let len = 16 + 4 + attrs.len();
    buf.extend_from_slice(&(len as u32).to_ne_bytes());
    buf.extend_from_slice(&((SUBSYS_CTNETLINK << 8) | kind).to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // seq: answers are read in order
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&[AF_INET, 0, 0, 0]);
    buf.extend_from_slice(attrs);
    buf.resize(buf.len().div_ceil(4) * 4, 0);
}

/// (type, payload, whole attribute) of each attribute in `b`.
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8], &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let ty = u16::from_ne_bytes([b[2], b[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > b.len() {
            return None;
        }
        let item = (ty, &b[4..len], &b[..len]);
        b = b.get(len.div_ceil(4) * 4..).unwrap_or(&[]);
        Some(item)
    })
}

fn entry(body: &[u8]) -> Option<Entry> {
    let (_, orig, whole) = attrs(body).find(|a| a.0 == CTA_TUPLE_ORIG)?;
    let (mut src, mut dst, mut protocol, mut port) = (None, None, None, 0);
    for (ty, payload, _) in attrs(orig) {
        match ty {
            CTA_TUPLE_IP => {
                for (t, v, _) in attrs(payload) {
                    let addr = <[u8; 4]>::try_from(v).ok().map(Ipv4Addr::from);
                    match t {
                        CTA_IP_V4_SRC => src = addr,
                        CTA_IP_V4_DST => dst = addr,
                        _ => {}
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                for (t, v, _) in attrs(payload) {
                    match (t, v) {
                        (CTA_PROTO_NUM, [p, ..]) => protocol = Some(*p),
                        (CTA_PROTO_DST_PORT, [a, b, ..]) => port = u16::from_be_bytes([*a, *b]),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(Entry {
        src: src?,
        dst: dst?,
        protocol: protocol?,
        port,
        tuple: whole.to_vec(),
    })
}
