//! Reading the per-connection counters the programs keep (for the agent's flow
//! records: packets and bytes of connections that are still open).

use crate::Error;
use crate::pins::PinDir;
use aya::maps::{HashMap, Map, MapData};
use bulkhead_ebpf_common::{CtKey, CtValue, names};
use std::net::Ipv4Addr;

/// One tracked connection at one check point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub ifindex: u32,
    /// `DIR_INGRESS` or `DIR_EGRESS` of the check that admitted it.
    pub direction: u8,
    pub protocol: u8,
    pub src: Ipv4Addr,
    pub src_port: u16,
    pub dst: Ipv4Addr,
    pub dst_port: u16,
    pub state: CtValue,
}

/// Every connection tracked on the node whose namespace is `/run/netns/{netns}`.
pub fn connections(netns: &str) -> Result<Vec<Connection>, Error> {
    let path = PinDir::for_netns(netns).map(names::CONNTRACK);
    let data =
        MapData::from_pin(&path).map_err(|e| Error::map(format!("open {}", path.display()), e))?;
    let map =
        Map::from_map_data(data).map_err(|e| Error::map(format!("open {}", path.display()), e))?;
    let ct: HashMap<MapData, CtKey, CtValue> =
        map.try_into().map_err(|e| Error::map("BH_CONNTRACK", e))?;
    let mut out = Vec::new();
    for item in ct.iter() {
        // An entry evicted between listing and reading is simply skipped.
        let Ok((k, v)) = item else { continue };
        out.push(Connection {
            ifindex: k.ifindex,
            direction: k.direction,
            protocol: k.protocol,
            src: Ipv4Addr::from(k.saddr),
            src_port: u16::from_be_bytes(k.sport),
            dst: Ipv4Addr::from(k.daddr),
            dst_port: u16::from_be_bytes(k.dport),
            state: v,
        });
    }
    Ok(out)
}
