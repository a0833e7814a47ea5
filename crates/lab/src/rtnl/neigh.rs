//! Static neighbour (ARP) entries and static bridge forwarding (FDB) entries.
//!
//! The kernel's ARP table is shared by every namespace on the machine and admits only
//! `gc_thresh3` (1024 by default) dynamic entries that are not yet 5 s old: a full mesh
//! of a 30-workload lab alone needs 870, so labs resolving addresses dynamically would
//! fail each other's probes. Permanent entries are exempt from that limit, and static
//! FDB entries keep bridges from flooding frames for MACs they have not learned yet.

use super::{Rtnl, code};
use crate::error::{LabError, Result};
use futures::TryStreamExt;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use std::net::{IpAddr, Ipv4Addr};

const ENOENT: i32 = -libc::ENOENT;

/// An IPv4 neighbour entry of a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Neighbour {
    pub ip: Ipv4Addr,
    pub mac: Option<[u8; 6]>,
    pub permanent: bool,
}

impl Rtnl {
    /// The IPv4 neighbour entries of link `index`.
    pub fn neighbours(&self, index: u32) -> Result<Vec<Neighbour>> {
        let req = self
            .handle
            .neighbours()
            .get()
            .set_address_family(AddressFamily::Inet)
            .execute();
        let msgs: Vec<NeighbourMessage> = self
            .rt
            .block_on(req.try_collect())
            .map_err(LabError::nl("list neighbours"))?;
        Ok(msgs
            .iter()
            .filter(|m| m.header.ifindex == index)
            .filter_map(|m| {
                let ip = m.attributes.iter().find_map(|a| match a {
                    NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => Some(*ip),
                    _ => None,
                })?;
                Some(Neighbour {
                    ip,
                    mac: lladdr(&m.attributes),
                    permanent: m.header.state == NeighbourState::Permanent,
                })
            })
            .collect())
    }

    /// Makes `ip` resolve to `mac` on link `index`, permanently.
    pub fn set_neighbour(&self, index: u32, ip: Ipv4Addr, mac: [u8; 6]) -> Result<()> {
        let req = self
            .handle
            .neighbours()
            .add(index, IpAddr::V4(ip))
            .state(NeighbourState::Permanent)
            .link_layer_address(&mac)
            .replace()
            .execute();
        self.rt
            .block_on(req)
            .map_err(LabError::nl(format!("set neighbour {ip}")))
    }

    pub fn del_neighbour(&self, index: u32, ip: Ipv4Addr) -> Result<()> {
        let mut msg = NeighbourMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.ifindex = index;
        msg.attributes
            .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)));
        self.del(msg, &format!("delete neighbour {ip}"))
    }

    /// The static FDB entries of `bridge`: (MAC, port index).
    pub fn static_fdb(&self, bridge: u32) -> Result<Vec<([u8; 6], u32)>> {
        let req = self
            .handle
            .neighbours()
            .get()
            .set_address_family(AddressFamily::Bridge)
            .execute();
        let msgs: Vec<NeighbourMessage> = self
            .rt
            .block_on(req.try_collect())
            .map_err(LabError::nl("list the bridge's forwarding table"))?;
        Ok(msgs
            .iter()
            .filter(|m| m.header.state == NeighbourState::Noarp)
            .filter(|m| {
                m.attributes
                    .contains(&NeighbourAttribute::Controller(bridge))
            })
            .filter_map(|m| Some((lladdr(&m.attributes)?, m.header.ifindex)))
            .collect())
    }

    /// Sends frames for `mac` out of bridge port `port`, statically
    /// (`bridge fdb replace MAC dev PORT master static`).
    pub fn set_fdb(&self, port: u32, mac: [u8; 6]) -> Result<()> {
        let req = self
            .handle
            .neighbours()
            .add_bridge(port, &mac)
            .flags(NeighbourFlags::Controller)
            .state(NeighbourState::Noarp)
            .replace()
            .execute();
        self.rt.block_on(req).map_err(LabError::nl(format!(
            "set a forwarding entry on port {port}"
        )))
    }

    pub fn del_fdb(&self, port: u32, mac: [u8; 6]) -> Result<()> {
        let mut msg = NeighbourMessage::default();
        msg.header.family = AddressFamily::Bridge;
        msg.header.ifindex = port;
        msg.header.flags = NeighbourFlags::Controller;
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
        self.del(msg, &format!("delete a forwarding entry on port {port}"))
    }

    /// Deletes an entry; one already gone is fine.
    fn del(&self, msg: NeighbourMessage, what: &str) -> Result<()> {
        match self
            .rt
            .block_on(self.handle.neighbours().del(msg).execute())
        {
            Err(e) if code(&e) != Some(ENOENT) => Err(LabError::nl(what)(e)),
            _ => Ok(()),
        }
    }
}

fn lladdr(attrs: &[NeighbourAttribute]) -> Option<[u8; 6]> {
    attrs.iter().find_map(|a| match a {
        NeighbourAttribute::LinkLayerAddress(m) => <[u8; 6]>::try_from(m.as_slice()).ok(),
        _ => None,
    })
}
