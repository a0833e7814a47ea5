//! The maps, pinned by name (`bulkhead-bpf` points the pin directory at
//! `/sys/fs/bpf/bulkhead/{node netns}/`), so a restarted process takes them over.
//! Layouts and capacities come from `bulkhead-ebpf-common`.

use aya_ebpf::bindings::BPF_F_NO_PREALLOC;
use aya_ebpf::macros::map;
use aya_ebpf::maps::{Array, HashMap, LpmTrie, LruHashMap, PerCpuArray, RingBuf};
use bulkhead_ebpf_common::{
    Config, CtKey, CtValue, EndpointKey, EndpointValue, IpcacheKey, IpcacheValue, PolicyKey,
    PolicyValue, capacity,
};

/// Index 0: the generation in force.
#[map]
pub static BH_CONFIG: Array<Config> = Array::pinned(1, 0);

/// Host address (`/32`) → identity, per slot: looked up first.
#[map]
pub static BH_IPCACHE_HOSTS: HashMap<IpcacheKey, IpcacheValue> =
    HashMap::pinned(2 * capacity::IPCACHE_PER_SLOT, BPF_F_NO_PREALLOC);

/// Shorter prefixes → identity, per slot (longest prefix wins).
#[map]
pub static BH_IPCACHE: LpmTrie<IpcacheKey, IpcacheValue> =
    LpmTrie::pinned(2 * capacity::IPCACHE_PER_SLOT, 0);

/// (ifindex, slot) → the endpoint checked on that interface.
#[map]
pub static BH_ENDPOINTS: HashMap<EndpointKey, EndpointValue> =
    HashMap::pinned(2 * capacity::ENDPOINTS_PER_SLOT, 0);

/// (slot, direction, protocol, port prefix length, endpoint, peer identity, port
/// prefix) → action, rule. Not preallocated: a million entries' worth of kernel memory
/// would otherwise be taken up front.
#[map]
pub static BH_POLICY: HashMap<PolicyKey, PolicyValue> =
    HashMap::pinned(2 * capacity::POLICY_PER_SLOT, BPF_F_NO_PREALLOC);

/// Connections admitted at each check point, with their counters.
#[map]
pub static BH_CONNTRACK: LruHashMap<CtKey, CtValue> = LruHashMap::pinned(capacity::CONNTRACK, 0);

/// Flow events for user space.
#[map]
pub static BH_EVENTS: RingBuf = RingBuf::pinned(capacity::EVENT_BYTES, 0);

/// Index 0, per CPU: events dropped because the ring buffer was full.
#[map]
pub static BH_LOST: PerCpuArray<u64> = PerCpuArray::pinned(1, 0);
