//! The netfilter netlink socket: one `send` per batch, then every answer is checked.
//!
//! nfnetlink processes a batch synchronously inside `sendmsg`, so by the time `send`
//! returns every answer is already queued on the socket: reading them without blocking
//! until the queue is empty sees all of them. Every message that fails is answered with
//! its error (and the kernel aborts the whole transaction); a batch that commits is
//! answered by the acknowledgement of its end message.

use crate::Error;
use crate::msg::Finished;
use crate::sys;
use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, sendto,
    setsockopt, socket, sockopt,
};
use std::os::fd::{AsRawFd, OwnedFd};

pub struct Socket {
    fd: OwnedFd,
    next_seq: u32,
}

impl Socket {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> Result<Socket, Error> {
        let io = |what: &str, e: Errno| Error::Io(what.to_string(), std::io::Error::from(e));
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkNetFilter,
        )
        .map_err(|e| io("cannot open a netfilter netlink socket", e))?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))
            .map_err(|e| io("cannot bind the netlink socket", e))?;
        // Ask for the kernel's error text, and for acks without a copy of our message.
        for opt in [sys::NETLINK_EXT_ACK, sys::NETLINK_CAP_ACK] {
            let one: libc::c_int = 1;
            // SAFETY: `fd` is an open socket we own; the option value points at a live
            // c_int and its exact size is passed. The call touches nothing else.
            let rc = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    sys::SOL_NETLINK,
                    opt,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(Error::Io(
                    "cannot set netlink socket options".into(),
                    std::io::Error::last_os_error(),
                ));
            }
        }
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() as u32);
        Ok(Socket { fd, next_seq: seed })
    }

    /// The sequence number the next batch should start from.
    pub fn seq(&self) -> u32 {
        self.next_seq
    }

    /// Sends one batch in a single `send` and checks every answer. On error the kernel
    /// has aborted the whole transaction: nothing changed.
    pub fn commit(&mut self, batch: &Finished) -> Result<(), Error> {
        self.next_seq = self.next_seq.wrapping_add(batch.what.len() as u32 + 1);
        // A datagram must fit the send buffer whole; the answers (errors of failing
        // messages, the commit's ack) must fit the receive buffer. Forcing sizes needs
        // CAP_NET_ADMIN.
        let snd = (batch.bytes.len() * 2 + (1 << 16)).min(i32::MAX as usize / 2);
        let rcv = 1 << 22;
        let io = |what: &str, e: Errno| Error::Io(what.to_string(), std::io::Error::from(e));
        setsockopt(&self.fd, sockopt::SndBufForce, &snd)
            .map_err(|e| io("cannot size the netlink send buffer", e))?;
        setsockopt(&self.fd, sockopt::RcvBufForce, &rcv)
            .map_err(|e| io("cannot size the netlink receive buffer", e))?;
        let sent = sendto(
            self.fd.as_raw_fd(),
            &batch.bytes,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )
        .map_err(|e| io("cannot send the batch to the kernel", e))?;
        if sent != batch.bytes.len() {
            return Err(Error::Protocol(format!(
                "the kernel took {sent} of {} bytes",
                batch.bytes.len()
            )));
        }
        let answers = self.drain()?;
        for a in &answers {
            if a.errno != 0 {
                let what = batch.describe(a.seq).unwrap_or("an unknown message");
                return Err(Error::Rejected {
                    what: what.to_string(),
                    source: std::io::Error::from_raw_os_error(a.errno),
                    detail: a.message.clone().unwrap_or_default(),
                });
            }
        }
        if !answers.iter().any(|a| a.seq == batch.commit_seq()) {
            return Err(Error::Protocol(
                "no error, but no acknowledgement of the commit either (this needs Linux 6.10 or later)".into(),
            ));
        }
        Ok(())
    }

    /// Reads every queued answer.
    fn drain(&mut self) -> Result<Vec<Answer>, Error> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(n) => parse(&buf[..n], &mut out),
                Err(Errno::EAGAIN) => return Ok(out),
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    // ENOBUFS: answers were lost, so the outcome is unknown.
                    return Err(Error::Io(
                        "cannot read the kernel's answers".into(),
                        std::io::Error::from(e),
                    ));
                }
            }
        }
    }
}

/// One acknowledgement (errno 0) or error.
struct Answer {
    seq: u32,
    errno: i32,
    message: Option<String>,
}

fn parse(mut buf: &[u8], out: &mut Vec<Answer>) {
    let u32_at = |b: &[u8], i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    while buf.len() >= 16 {
        let len = u32_at(buf, 0) as usize;
        if len < 16 || len > buf.len() {
            return;
        }
        let ty = u16::from_ne_bytes([buf[4], buf[5]]);
        let seq = u32_at(buf, 8);
        if ty == sys::NLMSG_ERROR && len >= 20 {
            let error = u32_at(buf, 16) as i32;
            // With NETLINK_CAP_ACK the original header (16 bytes) follows, then TLVs.
            let tlvs = buf.get(36..len).unwrap_or(&[]);
            out.push(Answer {
                seq,
                errno: -error,
                message: ext_ack_message(tlvs),
            });
        }
        buf = buf.get(len.div_ceil(4) * 4..).unwrap_or(&[]);
    }
}

fn ext_ack_message(mut tlvs: &[u8]) -> Option<String> {
    while tlvs.len() >= 4 {
        let len = u16::from_ne_bytes([tlvs[0], tlvs[1]]) as usize;
        let ty = u16::from_ne_bytes([tlvs[2], tlvs[3]]);
        if len < 4 || len > tlvs.len() {
            return None;
        }
        if ty == sys::NLMSGERR_ATTR_MSG {
            let text = &tlvs[4..len];
            let text = text.split(|b| *b == 0).next().unwrap_or(&[]);
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        tlvs = tlvs.get(len.div_ceil(4) * 4..).unwrap_or(&[]);
    }
    None
}
