//! [`NftFlows`]: flow events of a node enforced by the nft backend, as a
//! [`FlowSource`].
//!
//! Two netlink sockets, opened inside the node's namespace:
//! - **conntrack events** (groups NEW and DESTROY): a connection the ruleset admitted
//!   is confirmed by conntrack, which announces it (NEW) and its end (DESTROY) with the
//!   packet and byte counters of both directions (`nf_conntrack_acct=1`, set by the
//!   backend). The ruleset's `ct state` rule makes conntrack track the node's traffic.
//! - **NFLOG** group [`LOG_GROUP`]: every packet the deny chain drops (and every packet
//!   the monitor chain would have dropped) with its log prefix, which names the
//!   generation of the program that decided, and its packet mark, into which the log
//!   chain copied the deciding rule's decision code (`bulkhead_compile::nft::LogMark`).
//!
//! - **conntrack dumps**, every [`DUMP_EVERY`], on a third socket: counters of the
//!   connections still open (DESTROY comes only when conntrack forgets a connection,
//!   minutes after a TCP close), as `End` events with the totals so far.
//!
//! Only one process can bind an NFLOG group per namespace, so a second reader of the
//! same node fails to open instead of silently splitting the events.
//! A receive-buffer overrun (`ENOBUFS`) means the kernel dropped events; each overrun
//! counts as one in [`FlowSource::lost`] (the kernel does not say how many).

mod parse;

use crate::Error;
use bulkhead_compile::nft::LOG_GROUP;
use bulkhead_dataplane::{FlowEvent, FlowSource, netns};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, send,
    setsockopt, socket, sockopt,
};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// `NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_DESTROY`.
const CT_GROUPS: u32 = 0x1 | 0x4;
/// Receive buffers sized for bursts of thousands of connections per second.
const RCVBUF: usize = 8 << 20;
/// How much of a logged packet NFLOG copies: the IPv4 and transport headers.
const COPY_RANGE: u32 = 96;

/// How often open connections' counters are read.
pub const DUMP_EVERY: Duration = Duration::from_secs(1);
/// A dump that takes longer is cut short (its entries are read again next time).
const DUMP_LIMIT: Duration = Duration::from_millis(500);

pub struct NftFlows {
    conntrack: OwnedFd,
    nflog: OwnedFd,
    dump: OwnedFd,
    next_dump: Instant,
    buf: Vec<u8>,
    lost: u64,
}

fn io(what: &str) -> impl FnOnce(Errno) -> Error + '_ {
    move |e| Error::Io(what.to_string(), std::io::Error::from(e))
}

fn open_socket(groups: u32) -> Result<OwnedFd, Error> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        SockProtocol::NetlinkNetFilter,
    )
    .map_err(io("cannot open a netfilter netlink socket"))?;
    setsockopt(&fd, sockopt::RcvBufForce, &RCVBUF).map_err(io("cannot size the receive buffer"))?;
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &NetlinkAddr::new(0, groups),
    )
    .map_err(io("cannot bind the netlink socket"))?;
    Ok(fd)
}

impl NftFlows {
    /// Opens the event sockets inside the namespace at `netns` (`/run/netns/...`).
    pub fn open(netns: &Path) -> Result<NftFlows, Error> {
        let enter = |source| Error::Netns {
            path: netns.display().to_string(),
            source,
        };
        netns::run_in(netns, NftFlows::here).map_err(enter)?
    }

    /// Opens the event sockets in the calling thread's namespace.
    pub fn here() -> Result<NftFlows, Error> {
        let conntrack = open_socket(CT_GROUPS)?;
        let nflog = open_socket(0)?;
        bind_nflog(&nflog)?;
        let dump = open_socket(0)?;
        Ok(NftFlows {
            conntrack,
            nflog,
            dump,
            next_dump: Instant::now() + DUMP_EVERY,
            buf: vec![0; 1 << 16],
            lost: 0,
        })
    }

    /// Reads every datagram queued on `which` (0 conntrack, 1 nflog) without blocking.
    fn drain(&mut self, which: usize, out: &mut Vec<FlowEvent>) -> Result<(), Error> {
        loop {
            let fd = if which == 0 {
                &self.conntrack
            } else {
                &self.nflog
            };
            let n = match recv(
                std::os::fd::AsRawFd::as_raw_fd(fd),
                &mut self.buf,
                MsgFlags::empty(),
            ) {
                Ok(n) => n,
                Err(Errno::EAGAIN) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(Errno::ENOBUFS) => {
                    self.lost += 1;
                    continue;
                }
                Err(e) => return Err(io("cannot read flow events")(e)),
            };
            let now = SystemTime::now();
            for m in parse::messages(&self.buf[..n]) {
                let event = if which == 0 {
                    parse::conntrack_event(&m, now)
                } else {
                    parse::nflog_event(&m, now)
                };
                out.extend(event);
            }
        }
    }
}

impl NftFlows {
    /// Asks for the whole IPv4 conntrack table and turns each entry into an `End` event.
    fn dump_counters(&mut self, out: &mut Vec<FlowEvent>) -> Result<(), Error> {
        const IPCTNL_MSG_CT_GET: u16 = 1;
        const NLM_F_DUMP: u16 = 0x300;
        const AF_INET: u8 = 2;
        let msg = request(
            (parse::SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET,
            NLM_F_DUMP,
            AF_INET,
            0,
            &[],
        );
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.dump);
        send(fd, &msg, MsgFlags::empty()).map_err(io("cannot dump conntrack"))?;
        let deadline = Instant::now() + DUMP_LIMIT;
        let now = SystemTime::now();
        loop {
            let n = match recv(fd, &mut self.buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(Errno::EAGAIN) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        // Cut short: drain what is left so the next dump starts clean.
                        while recv(fd, &mut self.buf, MsgFlags::empty()).is_ok() {}
                        return Ok(());
                    }
                    let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
                    let mut fds = [PollFd::new(self.dump.as_fd(), PollFlags::POLLIN)];
                    let _ = poll(&mut fds, PollTimeout::from(ms));
                    continue;
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::ENOBUFS) => {
                    self.lost += 1;
                    return Ok(());
                }
                Err(e) => return Err(io("cannot read the conntrack dump")(e)),
            };
            for m in parse::messages(&self.buf[..n]) {
                // NLMSG_DONE ends the dump; NLMSG_ERROR ends it too.
                if m.kind == 3 || m.kind == 2 {
                    return Ok(());
                }
                out.extend(parse::conntrack_dump_entry(&m, now));
            }
        }
    }
}

/// Binds the socket to the NFLOG group the ruleset logs to, copying packet headers.
fn bind_nflog(fd: &OwnedFd) -> Result<(), Error> {
    const NFULNL_MSG_CONFIG: u16 = 1;
    const NFULA_CFG_CMD: u16 = 1;
    const NFULA_CFG_MODE: u16 = 2;
    const CMD_BIND: u8 = 1;
    const COPY_PACKET: u8 = 2;
    let mut mode = COPY_RANGE.to_be_bytes().to_vec();
    mode.extend([COPY_PACKET, 0]);
    const NLM_F_ACK: u16 = 0x4;
    let msg = request(
        (parse::SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG,
        NLM_F_ACK,
        0,
        LOG_GROUP,
        &[(NFULA_CFG_CMD, vec![CMD_BIND]), (NFULA_CFG_MODE, mode)],
    );
    send(std::os::fd::AsRawFd::as_raw_fd(fd), &msg, MsgFlags::empty())
        .map_err(io("cannot configure NFLOG"))?;
    // The acknowledgement: an nlmsgerr whose error is 0, or the reason it failed (EBUSY:
    // another process reads this node's group).
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::from(2000u16)).map_err(io("cannot configure NFLOG"))?;
    let mut buf = vec![0u8; 4096];
    let n = recv(
        std::os::fd::AsRawFd::as_raw_fd(fd),
        &mut buf,
        MsgFlags::empty(),
    )
    .map_err(io("no answer to the NFLOG configuration"))?;
    for m in parse::messages(&buf[..n]) {
        if m.kind == 2 {
            let code = m
                .payload
                .get(..4)
                .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                .unwrap_or(0);
            if code != 0 {
                return Err(Error::Io(
                    format!(
                        "cannot bind NFLOG group {LOG_GROUP} (is another agent running for this node?)"
                    ),
                    std::io::Error::from_raw_os_error(-code),
                ));
            }
        }
    }
    Ok(())
}

/// One nfnetlink request carrying flat attributes.
fn request(kind: u16, flags: u16, family: u8, res_id: u16, attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    const NLM_F_REQUEST: u16 = 0x1;
    let mut body = vec![family, 0u8];
    body.extend(res_id.to_be_bytes());
    for (k, v) in attrs {
        body.extend(((4 + v.len()) as u16).to_ne_bytes());
        body.extend(k.to_ne_bytes());
        body.extend(v);
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
    }
    let len = (parse::NLMSG_HDRLEN + body.len()) as u32;
    let mut m = len.to_ne_bytes().to_vec();
    m.extend(kind.to_ne_bytes());
    m.extend((NLM_F_REQUEST | flags).to_ne_bytes());
    m.extend(1u32.to_ne_bytes());
    m.extend(0u32.to_ne_bytes());
    m.extend(body);
    m
}

impl FlowSource for NftFlows {
    fn poll(
        &mut self,
        out: &mut Vec<FlowEvent>,
        timeout: Duration,
    ) -> Result<(), bulkhead_dataplane::Error> {
        if Instant::now() >= self.next_dump {
            self.next_dump = Instant::now() + DUMP_EVERY;
            self.dump_counters(out)?;
        }
        let before = out.len();
        self.drain(0, out)?;
        self.drain(1, out)?;
        if out.len() > before {
            return Ok(());
        }
        let until_dump = self.next_dump.saturating_duration_since(Instant::now());
        let ms = u16::try_from(timeout.min(until_dump).as_millis()).unwrap_or(u16::MAX);
        let mut fds = [
            PollFd::new(self.conntrack.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.nflog.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(io("cannot wait for flow events")(e).into()),
        }
        self.drain(0, out)?;
        self.drain(1, out)?;
        Ok(())
    }

    fn lost(&self) -> u64 {
        self.lost
    }
}
