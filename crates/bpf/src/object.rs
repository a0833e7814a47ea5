//! The embedded TC object, and loading it against a node's pinned maps.
//!
//! Every map is declared `pinned` (by name) in the eBPF crate; pointing aya's default
//! pin directory at the node's directory makes a load *reuse* the maps a previous
//! process pinned (their contents, hence enforcement, carry over) or create and pin
//! them on first use. Because aya reuses a pin without comparing layouts, every pinned
//! map is checked against this build's layout first: a mismatch is an error, never a
//! silent misreading.

use crate::Error;
use crate::pins::PinDir;
use aya::maps::{MapInfo, MapType};
use aya::programs::SchedClassifier;
use aya::{Ebpf, EbpfLoader};
use bulkhead_ebpf_common::{
    Config, CtKey, CtValue, EndpointKey, EndpointValue, IpcacheKey, IpcacheValue, PolicyKey,
    PolicyValue, capacity, names,
};
use std::mem::size_of;

/// The TC programs, built by `build.rs` for the bpf target.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/bulkhead-tc"));

/// (name, type, key size, value size, max entries) of every map, as this build
/// declares them. LPM keys carry the trie's 4-byte prefix length. A pin left by a build
/// with other maps (say, the policy as a trie) fails this check by name, type or size.
fn layouts() -> [(&'static str, MapType, usize, usize, u32); 8] {
    [
        (names::CONFIG, MapType::Array, 4, size_of::<Config>(), 1),
        (
            names::IPCACHE,
            MapType::LpmTrie,
            4 + size_of::<IpcacheKey>(),
            size_of::<IpcacheValue>(),
            2 * capacity::IPCACHE_PER_SLOT,
        ),
        (
            names::IPCACHE_HOSTS,
            MapType::Hash,
            size_of::<IpcacheKey>(),
            size_of::<IpcacheValue>(),
            2 * capacity::IPCACHE_PER_SLOT,
        ),
        (
            names::ENDPOINTS,
            MapType::Hash,
            size_of::<EndpointKey>(),
            size_of::<EndpointValue>(),
            2 * capacity::ENDPOINTS_PER_SLOT,
        ),
        (
            names::POLICY,
            MapType::Hash,
            size_of::<PolicyKey>(),
            size_of::<PolicyValue>(),
            2 * capacity::POLICY_PER_SLOT,
        ),
        (
            names::CONNTRACK,
            MapType::LruHash,
            size_of::<CtKey>(),
            size_of::<CtValue>(),
            capacity::CONNTRACK,
        ),
        (names::EVENTS, MapType::RingBuf, 0, 0, capacity::EVENT_BYTES),
        (names::LOST, MapType::PerCpuArray, 4, 8, 1),
    ]
}

/// Fails if a map pinned in `dir` has another layout than this build's.
fn check_pinned(dir: &PinDir) -> Result<(), Error> {
    for (name, kind, key, value, max) in layouts() {
        let path = dir.map(name);
        if !path.exists() {
            continue;
        }
        let info = MapInfo::from_pin(&path)
            .map_err(|e| Error::map(format!("open {}", path.display()), e))?;
        let got_kind = info
            .map_type()
            .map_err(|e| Error::map(format!("type of {}", path.display()), e))?;
        let got = (
            got_kind,
            info.key_size() as usize,
            info.value_size() as usize,
            info.max_entries(),
        );
        if got != (kind, key, value, max) {
            return Err(Error::Incompatible {
                path: path.display().to_string(),
                found: format!("{got:?}"),
                expected: format!("{:?}", (kind, key, value, max)),
            });
        }
    }
    Ok(())
}

/// Loads the object with its maps pinned in (or taken over from) `dir`, and loads both
/// programs into the kernel (the verifier runs here), without attaching anything.
pub fn load(dir: &PinDir) -> Result<Ebpf, Error> {
    check_pinned(dir)?;
    let mut ebpf = EbpfLoader::new()
        .default_map_pin_directory(dir.path())
        .load(OBJECT)
        .map_err(|e| Error::Load(e.to_string()))?;
    for name in [names::PROG_FROM_WORKLOAD, names::PROG_TO_WORKLOAD] {
        program_mut(&mut ebpf, name)?
            .load()
            .map_err(|e| Error::program(format!("load {name}"), e))?;
    }
    Ok(ebpf)
}

pub fn program_mut<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut SchedClassifier, Error> {
    let prog = ebpf
        .program_mut(name)
        .ok_or_else(|| Error::Load(format!("the object has no program `{name}`")))?;
    prog.try_into()
        .map_err(|e| Error::program(format!("{name} is not a tc classifier"), e))
}
