//! Typed handles on the policy maps, and the conversions between the compiler's
//! slot-less entries and kernel keys.

use crate::Error;
use crate::slot::Slot;
use aya::Ebpf;
use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, HashMap, Map, MapData};
use bulkhead_compile::ebpf::PolicyEntry;
use bulkhead_ebpf_common::{
    Config, EndpointKey, EndpointValue, IpcacheKey, IpcacheValue, PolicyKey, PolicyValue, names,
};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

pub struct Maps {
    pub config: Array<MapData, Config>,
    /// Prefixes shorter than `/32`.
    pub ipcache: LpmTrie<MapData, IpcacheKey, IpcacheValue>,
    /// Host addresses (`/32`).
    pub hosts: HashMap<MapData, IpcacheKey, IpcacheValue>,
    pub endpoints: HashMap<MapData, EndpointKey, EndpointValue>,
    pub policy: HashMap<MapData, PolicyKey, PolicyValue>,
}

fn take(ebpf: &mut Ebpf, name: &str) -> Result<Map, Error> {
    ebpf.take_map(name)
        .ok_or_else(|| Error::Load(format!("the object has no map `{name}`")))
}

impl Maps {
    pub fn take(ebpf: &mut Ebpf) -> Result<Maps, Error> {
        fn conv(name: &'static str) -> impl Fn(aya::maps::MapError) -> Error {
            move |e| Error::map(format!("map {name}"), e)
        }
        Ok(Maps {
            config: take(ebpf, names::CONFIG)?
                .try_into()
                .map_err(conv(names::CONFIG))?,
            ipcache: take(ebpf, names::IPCACHE)?
                .try_into()
                .map_err(conv(names::IPCACHE))?,
            hosts: take(ebpf, names::IPCACHE_HOSTS)?
                .try_into()
                .map_err(conv(names::IPCACHE_HOSTS))?,
            endpoints: take(ebpf, names::ENDPOINTS)?
                .try_into()
                .map_err(conv(names::ENDPOINTS))?,
            policy: take(ebpf, names::POLICY)?
                .try_into()
                .map_err(conv(names::POLICY))?,
        })
    }

    pub fn generation(&self) -> Result<u32, Error> {
        let c = self
            .config
            .get(&0, 0)
            .map_err(|e| Error::map("read BH_CONFIG", e))?;
        Ok(c.generation)
    }

    /// Puts `generation` (hence slot `generation & 1`) in force: one 4-byte value in an
    /// array, which every packet reads once.
    pub fn set_generation(&mut self, generation: u32) -> Result<(), Error> {
        let c = Config {
            generation,
            _pad: 0,
        };
        self.config
            .set(0, c, 0)
            .map_err(|e| Error::map("write BH_CONFIG", e))
    }

    /// Writes one ipcache prefix of `slot`: a host address into the hash, any shorter
    /// prefix into the trie.
    pub fn set_ipcache(&mut self, slot: u8, net: &Ipv4Net, identity: u32) -> Result<(), Error> {
        let value = IpcacheValue { identity };
        if net.prefix_len() == 32 {
            self.hosts
                .insert(IpcacheKey::new(slot, net.addr().octets()), value, 0)
                .map_err(|e| Error::map("write BH_IPCACHE_HOSTS", e))
        } else {
            self.ipcache
                .insert(&ipcache_key(slot, net), value, 0)
                .map_err(|e| Error::map("write BH_IPCACHE", e))
        }
    }

    pub fn remove_ipcache(&mut self, slot: u8, net: &Ipv4Net) -> Result<(), Error> {
        if net.prefix_len() == 32 {
            self.hosts
                .remove(&IpcacheKey::new(slot, net.addr().octets()))
                .map_err(|e| Error::map("delete from BH_IPCACHE_HOSTS", e))
        } else {
            self.ipcache
                .remove(&ipcache_key(slot, net))
                .map_err(|e| Error::map("delete from BH_IPCACHE", e))
        }
    }

    /// Reads what both slots hold, as a restarted process finds them.
    pub fn read_slots(&self) -> Result<[Slot; 2], Error> {
        let mut slots = [Slot::default(), Slot::default()];
        for item in self.ipcache.iter() {
            let (k, v) = item.map_err(|e| Error::map("read BH_IPCACHE", e))?;
            let (slot, net) = ipcache_from_key(&k);
            if let (Some(s), Some(net)) = (slots.get_mut(usize::from(slot)), net) {
                s.ipcache.insert(net, v.identity);
            }
        }
        for item in self.hosts.iter() {
            let (k, v) = item.map_err(|e| Error::map("read BH_IPCACHE_HOSTS", e))?;
            if let Some(s) = slots.get_mut(usize::from(k.slot)) {
                s.ipcache
                    .insert(Ipv4Net::from(Ipv4Addr::from(k.addr)), v.identity);
            }
        }
        for item in self.endpoints.iter() {
            let (k, v) = item.map_err(|e| Error::map("read BH_ENDPOINTS", e))?;
            if let Some(s) = slots.get_mut(k.slot as usize) {
                s.endpoints.insert(k.ifindex, v);
            }
        }
        let mut policy: [BTreeMap<u32, BTreeMap<PolicyEntry, PolicyValue>>; 2] = Default::default();
        for item in self.policy.iter() {
            let (k, v) = item.map_err(|e| Error::map("read BH_POLICY", e))?;
            let (slot, id, entry) = policy_from_key(&k);
            if let Some(p) = policy.get_mut(usize::from(slot)) {
                p.entry(id).or_default().insert(entry, v);
            }
        }
        for (s, p) in slots.iter_mut().zip(policy) {
            s.policy = p.into_iter().map(|(id, e)| (id, Arc::new(e))).collect();
        }
        Ok(slots)
    }
}

fn ipcache_key(slot: u8, net: &Ipv4Net) -> Key<IpcacheKey> {
    Key::new(
        IpcacheKey::FIXED_BITS + u32::from(net.prefix_len()),
        IpcacheKey::new(slot, net.network().octets()),
    )
}

fn ipcache_from_key(k: &Key<IpcacheKey>) -> (u8, Option<Ipv4Net>) {
    let data = k.data();
    let len = k.prefix_len().saturating_sub(IpcacheKey::FIXED_BITS);
    let net = Ipv4Net::new(Ipv4Addr::from(data.addr), len as u8).ok();
    (data.slot, net)
}

pub fn policy_key(slot: u8, endpoint: u32, e: &PolicyEntry) -> PolicyKey {
    PolicyKey::new(
        slot,
        e.direction,
        e.protocol,
        endpoint,
        e.identity,
        e.port,
        e.port_bits,
    )
}

fn policy_from_key(k: &PolicyKey) -> (u8, u32, PolicyEntry) {
    let entry = PolicyEntry {
        direction: k.direction,
        protocol: k.protocol,
        identity: u32::from_be_bytes(k.identity),
        port: u16::from_be_bytes(k.port),
        port_bits: k.port_bits,
    };
    (k.slot, u32::from_be_bytes(k.endpoint), entry)
}

pub fn endpoint_key(slot: u8, ifindex: u32) -> EndpointKey {
    EndpointKey {
        ifindex,
        slot: u32::from(slot),
    }
}
