//! Which host-side veth belongs to a container's interface: a link dump in the
//! container's namespace gives the interface with the endpoint's MAC address and its
//! peer's ifindex (`IFLA_LINK`); a link dump in the node's namespace names that index.
//!
//! Netlink, not sysfs: sysfs shows the namespace it was mounted in, so the container's
//! view needs a running process (`/proc/PID/root/sys`), while a netlink socket opened by
//! a thread that entered the namespace (`setns`, which changes only that thread) works
//! from the moment the sandbox exists. No `unsafe`: `nix::sched::setns` is safe.

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use nix::sched::{CloneFlags, setns};
use std::fs::File;
use std::path::Path;

/// One network interface of a namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Option<[u8; 6]>,
    /// The peer's ifindex (in the peer's namespace) for a veth.
    pub peer: Option<u32>,
}

/// Every link of the network namespace at `netns`.
pub fn dump(netns: &Path) -> std::io::Result<Vec<Link>> {
    let file = File::open(netns)?;
    let socket = std::thread::scope(|s| {
        s.spawn(move || -> std::io::Result<Socket> {
            setns(&file, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
            // The socket stays bound to the namespace it was created in.
            Socket::new(NETLINK_ROUTE)
        })
        .join()
        .map_err(|_| std::io::Error::other("netns thread panicked"))?
    })?;
    dump_with(socket)
}

fn dump_with(mut socket: Socket) -> std::io::Result<Vec<Link>> {
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = 1;
    let mut msg = NetlinkMessage::new(
        header,
        NetlinkPayload::from(RouteNetlinkMessage::GetLink(LinkMessage::default())),
    );
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    socket.send(&buf, 0)?;
    let mut links = Vec::new();
    loop {
        let (data, _) = socket.recv_from_full()?;
        let mut offset = 0;
        while offset < data.len() {
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let len = reply.header.length as usize;
            match reply.payload {
                NetlinkPayload::Done(_) => return Ok(links),
                NetlinkPayload::Error(e) => {
                    return Err(e.to_io());
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(m)) => {
                    links.push(link(&m));
                }
                _ => {}
            }
            if len == 0 {
                break;
            }
            offset += len;
        }
    }
}

fn link(m: &LinkMessage) -> Link {
    let mut l = Link {
        index: m.header.index,
        ..Link::default()
    };
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n.clone(),
            LinkAttribute::Address(b) => l.mac = b.as_slice().try_into().ok(),
            LinkAttribute::Link(p) => l.peer = Some(*p),
            _ => {}
        }
    }
    l
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The node-side name of the veth whose container end has `mac` in the namespace
/// `container_netns`: `None` if there is no such interface (yet).
pub fn host_veth(
    container_netns: &Path,
    mac: [u8; 6],
    node: &[Link],
) -> std::io::Result<Option<String>> {
    let inside = dump(container_netns)?;
    let Some(peer) = inside
        .iter()
        .find(|l| l.mac == Some(mac))
        .and_then(|l| l.peer)
    else {
        return Ok(None);
    };
    Ok(node
        .iter()
        .find(|l| l.index == peer)
        .map(|l| l.name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse() {
        assert_eq!(
            parse_mac("02:42:0a:4f:00:02"),
            Some([2, 0x42, 10, 0x4f, 0, 2])
        );
        assert_eq!(parse_mac("02:42"), None);
        assert_eq!(parse_mac("02:42:0a:4f:00:02:00"), None);
        assert_eq!(parse_mac(""), None);
    }

    #[test]
    fn the_own_namespace_has_a_loopback() {
        // Reading links needs no privilege; entering our own namespace is allowed too.
        let links = dump(Path::new("/proc/self/ns/net")).unwrap();
        assert!(links.iter().any(|l| l.name == "lo"), "{links:?}");
    }
}
