//! Reading the few header fields a check needs, with `bpf_skb_load_bytes` so that
//! variable IP header lengths and non-linear skbs need no bounds gymnastics.

use aya_ebpf::programs::TcContext;
use bulkhead_ebpf_common::{PROTO_SCTP, PROTO_TCP, PROTO_UDP};

const ETH_HLEN: usize = 14;
const ETH_P_IP: u16 = 0x0800;

/// An IPv4 packet's 5-tuple (addresses and ports in network byte order).
pub struct Packet {
    pub protocol: u8,
    pub saddr: [u8; 4],
    pub daddr: [u8; 4],
    pub sport: [u8; 2],
    pub dport: [u8; 2],
    pub len: u32,
    /// TCP flags (0 for other protocols).
    pub tcp_flags: u8,
}

const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;

impl Packet {
    /// Whether this packet may open a connection: a TCP SYN without ACK, or any packet
    /// of a protocol without connection setup (UDP, ICMP, ...).
    #[inline(always)]
    pub fn opens(&self) -> bool {
        self.protocol != PROTO_TCP || self.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN
    }

    /// A TCP SYN without ACK is never a reply.
    #[inline(always)]
    pub fn is_tcp_syn(&self) -> bool {
        self.protocol == PROTO_TCP && self.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN
    }
}

/// `Ok(None)` for anything but IPv4 (the policy model is IPv4-only; ARP must pass),
/// `Err` for an IPv4 packet too short to hold its headers.
#[inline(always)]
pub fn parse(ctx: &TcContext) -> Result<Option<Packet>, ()> {
    // SAFETY: `skb` is the context pointer the kernel passed to this program; reading
    // `protocol` from it is a plain context access the verifier checks.
    let proto = unsafe { (*ctx.skb.skb).protocol };
    if u16::from_be(proto as u16) != ETH_P_IP {
        return Ok(None);
    }
    let ip: [u8; 20] = ctx.load(ETH_HLEN).map_err(|_| ())?;
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ihl < 20 {
        return Err(());
    }
    let protocol = ip[9];
    // Fragment offset (13 bits): only the first fragment carries the ports. Later
    // fragments are checked with port 0, which no port rule matches.
    let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0;
    let mut ports = [0u8; 4];
    let mut tcp_flags = 0;
    if !fragment && protocol == PROTO_TCP {
        // Ports, sequence and acknowledgement numbers, data offset, then the flags.
        let tcp: [u8; 14] = ctx.load(ETH_HLEN + ihl).map_err(|_| ())?;
        ports = [tcp[0], tcp[1], tcp[2], tcp[3]];
        tcp_flags = tcp[13];
    } else if !fragment && matches!(protocol, PROTO_UDP | PROTO_SCTP) {
        // Source and destination port are the first four bytes of both headers.
        ports = ctx.load(ETH_HLEN + ihl).map_err(|_| ())?;
    }
    Ok(Some(Packet {
        protocol,
        saddr: [ip[12], ip[13], ip[14], ip[15]],
        daddr: [ip[16], ip[17], ip[18], ip[19]],
        sport: [ports[0], ports[1]],
        dport: [ports[2], ports[3]],
        len: ctx.len(),
        tcp_flags,
    }))
}
