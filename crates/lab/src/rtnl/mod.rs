//! A small synchronous face over `rtnetlink` for the few link, address, route and
//! neighbour operations the lab needs.
//!
//! A netlink socket talks to the namespace it was created in, so an [`Rtnl`] is made
//! on a thread already inside the right namespace (see [`crate::netns`]) and used there.
//! Each carries its own single-threaded runtime: the calls are few and sequential, and
//! blocking keeps the reconcile code plain.

use crate::error::{LabError, Result};
use futures::TryStreamExt;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

/// What the lab needs to know of a link.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    pub index: u32,
    pub name: String,
    pub controller: Option<u32>,
    pub up: bool,
    pub mac: Option<[u8; 6]>,
    /// For a veth whose peer is in another namespace: that namespace's id, as this
    /// namespace numbers it.
    pub peer_netns_id: Option<i32>,
}

pub(crate) struct Rtnl {
    rt: tokio::runtime::Runtime,
    handle: Handle,
}

mod neigh;

const ENODEV: i32 = -libc::ENODEV;

impl Rtnl {
    /// Opens a route netlink socket in the calling thread's network namespace.
    pub fn open() -> Result<Rtnl> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(LabError::io("start a netlink runtime"))?;
        let (conn, handle, _) = {
            let _ctx = rt.enter();
            rtnetlink::new_connection().map_err(LabError::io("open a netlink socket"))?
        };
        rt.spawn(conn);
        Ok(Rtnl { rt, handle })
    }

    pub fn links(&self) -> Result<Vec<Link>> {
        let msgs: Vec<LinkMessage> = self
            .rt
            .block_on(self.handle.link().get().execute().try_collect())
            .map_err(LabError::nl("list links"))?;
        Ok(msgs.iter().map(link_of).collect())
    }

    pub fn link(&self, name: &str) -> Result<Option<Link>> {
        let req = self.handle.link().get().match_name(name).execute();
        match self.rt.block_on(req.try_collect::<Vec<_>>()) {
            Ok(msgs) => Ok(msgs.first().map(link_of)),
            Err(e) if code(&e) == Some(ENODEV) => Ok(None),
            Err(e) => Err(LabError::nl(format!("get link {name}"))(e)),
        }
    }

    /// Creates a bridge with a fixed MAC (so the host address's MAC never changes as
    /// ports come and go), up, with STP off so ports forward at once.
    pub fn add_bridge(&self, name: &str, mac: [u8; 6]) -> Result<()> {
        let msg = LinkBridge::new(name).address(mac.to_vec()).up().build();
        let req = self.handle.link().add(msg).execute();
        self.rt
            .block_on(req)
            .map_err(LabError::nl(format!("create bridge {name}")))
    }

    /// Creates a veth pair: `name` here (up, in `controller` if given) and `peer`
    /// directly inside the namespace `peer_ns` (with `peer_mac` if given), down: the
    /// kernel configures the peer before it links the pair, so asking for it up here
    /// fails with ENOTCONN.
    pub fn add_veth(
        &self,
        name: &str,
        controller: Option<u32>,
        peer: &str,
        peer_ns: BorrowedFd<'_>,
        peer_mac: Option<[u8; 6]>,
    ) -> Result<()> {
        let mut peer_b = LinkUnspec::new_with_name(peer).setns_by_fd(peer_ns.as_raw_fd());
        if let Some(mac) = peer_mac {
            peer_b = peer_b.address(mac.to_vec());
        }
        let peer_msg = peer_b.build();
        let mut b = LinkVeth::new(name, peer)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg)))
            .up();
        if let Some(c) = controller {
            b = b.controller(c);
        }
        let req = self.handle.link().add(b.build()).execute();
        self.rt
            .block_on(req)
            .map_err(LabError::nl(format!("create veth {name} (peer {peer})")))
    }

    /// Puts a link up and, if given, into a bridge.
    pub fn set_up(&self, index: u32, controller: Option<u32>) -> Result<()> {
        let mut b = LinkUnspec::new_with_index(index).up();
        if let Some(c) = controller {
            b = b.controller(c);
        }
        let req = self.handle.link().change(b.build()).execute();
        self.rt
            .block_on(req)
            .map_err(LabError::nl(format!("set link {index} up")))
    }

    /// Gives a link another MAC (down while it changes, as a veth requires), and up.
    pub fn set_mac(&self, index: u32, mac: [u8; 6]) -> Result<()> {
        let down = LinkUnspec::new_with_index(index).down().build();
        let addr = LinkUnspec::new_with_index(index)
            .address(mac.to_vec())
            .up()
            .build();
        for msg in [down, addr] {
            self.rt
                .block_on(self.handle.link().change(msg).execute())
                .map_err(LabError::nl(format!("set the MAC of link {index}")))?;
        }
        Ok(())
    }

    /// Deletes a link (and so its veth peer); a link already gone is fine.
    pub fn del_link(&self, index: u32) -> Result<()> {
        match self.rt.block_on(self.handle.link().del(index).execute()) {
            Err(e) if code(&e) != Some(ENODEV) => {
                Err(LabError::nl(format!("delete link {index}"))(e))
            }
            _ => Ok(()),
        }
    }

    /// Makes `ip/prefix` the only IPv4 address of the link; true if anything changed.
    pub fn ensure_addr(&self, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<bool> {
        let req = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute();
        let addrs: Vec<_> = self
            .rt
            .block_on(req.try_collect())
            .map_err(LabError::nl("list addresses"))?;
        let mut present = false;
        let mut changed = false;
        for a in addrs {
            if a.header.family != AddressFamily::Inet {
                continue;
            }
            let local = a.attributes.iter().find_map(|at| match at {
                AddressAttribute::Local(IpAddr::V4(v)) => Some(*v),
                _ => None,
            });
            if local == Some(ip) && a.header.prefix_len == prefix {
                present = true;
            } else {
                self.rt
                    .block_on(self.handle.address().del(a).execute())
                    .map_err(LabError::nl("delete a stale address"))?;
                changed = true;
            }
        }
        if !present {
            let req = self
                .handle
                .address()
                .add(index, ip.into(), prefix)
                .execute();
            self.rt
                .block_on(req)
                .map_err(LabError::nl(format!("add address {ip}/{prefix}")))?;
            changed = true;
        }
        Ok(changed)
    }

    /// Makes `gw` via link `index` the IPv4 default route (replacing any other).
    pub fn ensure_default_route(&self, index: u32, gw: Ipv4Addr) -> Result<()> {
        let query = RouteMessageBuilder::<Ipv4Addr>::new().build();
        let routes: Vec<_> = self
            .rt
            .block_on(self.handle.route().get(query).execute().try_collect())
            .map_err(LabError::nl("list routes"))?;
        let want = RouteAttribute::Gateway(RouteAddress::Inet(gw));
        let ok = routes.iter().any(|r| {
            r.header.destination_prefix_length == 0
                && r.attributes.contains(&want)
                && r.attributes.contains(&RouteAttribute::Oif(index))
        });
        if ok {
            return Ok(());
        }
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(gw)
            .output_interface(index)
            .build();
        let req = self.handle.route().add(route).replace().execute();
        self.rt
            .block_on(req)
            .map_err(LabError::nl(format!("set default route via {gw}")))
    }

    /// The id this namespace gives the named namespace, if it gave one (it does once a
    /// veth links the two).
    pub fn netns_id(&self, name: &str) -> Result<Option<i32>> {
        let req = self.handle.link().get_netns_id(name).execute();
        self.rt
            .block_on(req)
            .map_err(LabError::nl(format!("get the id of namespace {name}")))
    }
}

fn code(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(m.raw_code()),
        _ => None,
    }
}

fn link_of(m: &LinkMessage) -> Link {
    let mut l = Link {
        index: m.header.index,
        name: String::new(),
        controller: None,
        up: m.header.flags.contains(LinkFlags::Up),
        mac: None,
        peer_netns_id: None,
    };
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n.clone(),
            LinkAttribute::Controller(c) => l.controller = Some(*c),
            LinkAttribute::LinkNetNsId(id) => l.peer_netns_id = Some(*id),
            LinkAttribute::Address(a) => l.mac = <[u8; 6]>::try_from(a.as_slice()).ok(),
            _ => {}
        }
    }
    l
}
