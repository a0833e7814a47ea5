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
    if !fragment && matches!(protocol, PROTO_TCP | PROTO_UDP | PROTO_SCTP) {
        // Source and destination port are the first four bytes of all three headers.
        ports = ctx.load(ETH_HLEN + ihl).map_err(|_| ())?;
    }
    Ok(Some(Packet {
        protocol,
        saddr: [ip[12], ip[13], ip[14], ip[15]],
        daddr: [ip[16], ip[17], ip[18], ip[19]],
        sport: [ports[0], ports[1]],
        dport: [ports[2], ports[3]],
        len: ctx.len(),
    }))
}
