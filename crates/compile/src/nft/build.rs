//! [`Program`] → [`Ruleset`]: the endpoints' parts (reused when an endpoint did not
//! change), the shared part (ipcache, verdict map) and the chains.

use super::decision::{Decision, MAX_RULE};
use super::endpoint;
use super::ids::KernelIds;
use super::intervals;
use super::ir::{Chain, ChainName, ElementKey, Map, MapId, Part, PartKey, Ruleset, Value};
use super::layout::{self, Stamps};
use super::parts::{self, Runs};
use crate::compiler::FastMap;
use crate::program::{ANY_IDENTITY, Identity, Program};
use bulkhead_policy::WorkloadId;
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Why a program cannot become a ruleset.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("rule id {rule} is above {max}, the largest a ct mark decision code can carry")]
    RuleTooLarge { rule: u32, max: u32 },
}

/// Builds rulesets for one table over its life, keeping what makes the next ruleset
/// differ from the last one only where the program did: kernel identity numbers, each
/// endpoint's part (with the fingerprint of what it was built from), the shared part,
/// the chains and map sizes. Unchanged pieces are the same `Arc`s, which [`diff`]
/// skips without reading.
///
/// [`diff`]: super::diff
#[derive(Default)]
pub struct Builder {
    ids: KernelIds,
    /// The last program's identities, their kernel numbers and descriptions.
    identities: Option<Numbered>,
    /// (workload, [`Endpoint::fingerprint`], part) of the last program's endpoints, by
    /// workload.
    ///
    /// [`Endpoint::fingerprint`]: crate::program::Endpoint::fingerprint
    parts: Vec<Cached>,
    /// The kernel numbers the cached parts were built with (`kernel[id]`).
    kernel: Vec<u32>,
    /// The shared part and what it was built from.
    shared: Option<SharedKey>,
    chains: Option<ChainsKey>,
    sizes: BTreeMap<MapId, u32>,
    /// The unknown-address guard's part ([`super::guard`]), if any.
    guard: Option<Arc<Part>>,
}

/// An endpoint's cached part: (workload, fingerprint, part, its runs).
type Cached = (WorkloadId, u64, Arc<Part>, Runs);

/// A program's identities, their kernel numbers and descriptions.
type Numbered = (Vec<Identity>, Vec<u32>, Arc<Vec<(u32, String)>>);

/// What the shared part was built from (ipcache, kernel numbers, decisions), and it.
type SharedKey = (Vec<(Ipv4Net, u32)>, Vec<u32>, Vec<Decision>, Arc<Part>);

/// What the chains were built from, and them.
type ChainsKey = (
    Vec<MapId>,
    Vec<Decision>,
    Stamps,
    Arc<BTreeMap<ChainName, Chain>>,
);

/// The least size given to a hash map, so small programs do not recreate maps often.
const MIN_SIZE: u32 = 256;

/// A new hash map's size: its elements and a quarter more, room for updates to grow in
/// before the map must be recreated. The kernel allocates (and zeroes) 4/3 of the
/// size, rounded up to a power of two, in buckets, and walks them all whenever it
/// walks the map: twice the elements rounded up, as before, made a 270,000-element
/// full apply spend a sixth of its time on empty buckets.
fn new_size(count: u32) -> u32 {
    count.saturating_add(count / 4).max(MIN_SIZE)
}

impl Builder {
    /// Sets the unknown-address guard of the rulesets built from now on: `ranges`
    /// from [`super::guard::unknown_ranges`] (empty: no guard).
    pub fn set_guard(&mut self, ranges: &[(u32, u32)]) {
        self.guard = super::guard::part(ranges).map(Arc::new);
    }

    /// The ruleset enforcing `program`, its log prefixes stamped by `stamps`.
    pub fn build(&mut self, program: &Program, stamps: &Stamps) -> Result<Ruleset, BuildError> {
        let max_rule = program.rules.len().saturating_sub(1) as u64;
        if max_rule > u64::from(MAX_RULE) {
            return Err(BuildError::RuleTooLarge {
                rule: max_rule.min(u64::from(u32::MAX)) as u32,
                max: MAX_RULE,
            });
        }
        let (kernel, identities) = self.numbers(program);
        // Endpoints come sorted by workload id, and so does the cache: walk both.
        let old = std::mem::take(&mut self.parts);
        let mut old = old.into_iter().peekable();
        let renumbered = self.kernel != kernel;
        // An unchanged endpoint keeps its cache entry as it was: no allocation. Its
        // fingerprint covers its tables; the kernel numbers of the identities they name
        // are checked apart (they can move when the identities change).
        let kept: Vec<Option<Cached>> = program
            .endpoints
            .iter()
            .map(|ep| {
                while old.next_if(|o| o.0 < ep.workload).is_some() {}
                old.next_if(|o| o.0 == ep.workload).filter(|entry| {
                    endpoint::reusable(entry.1, ep)
                        && !(renumbered && endpoint::renumbered(ep, &self.kernel, &kernel))
                })
            })
            .collect();
        let stale: Vec<usize> = (0..kept.len()).filter(|&i| kept[i].is_none()).collect();
        let mut built = parts::build(&program.endpoints, &stale, &kernel).into_iter();
        let mut cache = Vec::with_capacity(program.endpoints.len());
        let mut parts = Vec::with_capacity(program.endpoints.len() + 1);
        let mut kinds = [false; 3];
        let mut counts: FastMap<MapId, u32> = FastMap::default();
        for (ep, kept) in program.endpoints.iter().zip(kept) {
            let entry = match kept {
                Some(entry) => entry,
                None => {
                    let (part, runs) = built.next().unwrap_or_default();
                    (ep.workload.clone(), ep.fingerprint, Arc::new(part), runs)
                }
            };
            if !entry.2.elements.is_empty() {
                parts.push((PartKey::Endpoint(ep.workload.clone()), entry.2.clone()));
                for (k, used) in kinds.iter_mut().zip(entry.3.kinds) {
                    *k |= used;
                }
                for &(map, n) in &entry.3.per_map {
                    *counts.entry(map).or_default() += n;
                }
            }
            cache.push(entry);
        }
        cache.sort_by(|a, b| a.0.cmp(&b.0));
        self.parts = cache;
        if renumbered {
            self.kernel = kernel.clone();
        }
        // The verdict map and the log chains depend on the kinds in use only.
        let decisions: Vec<Decision> = [Decision::Allow, Decision::Deny(0), Decision::Monitor(0)]
            .into_iter()
            .zip(kinds)
            .filter_map(|(d, used)| used.then_some(d))
            .collect();
        let shared = match self.shared.take() {
            Some((i, k, d, part)) if i == program.ipcache && k == kernel && d == decisions => {
                (i, k, d, part)
            }
            _ => {
                let part = Arc::new(shared(program, &kernel, &decisions));
                (program.ipcache.clone(), kernel.clone(), decisions, part)
            }
        };
        parts.push((PartKey::Shared, shared.3.clone()));
        if let Some(g) = &self.guard {
            parts.push((PartKey::Guard, g.clone()));
        }
        for part in [Some(&shared.3), self.guard.as_ref()].into_iter().flatten() {
            for (map, n) in Runs::of(part).per_map {
                *counts.entry(map).or_default() += n;
            }
        }
        let decisions = &self.shared.insert(shared).2;
        let parts: BTreeMap<PartKey, Arc<Part>> = parts.into_iter().collect();
        let counts: BTreeMap<MapId, u32> = counts.into_iter().collect();
        let mut maps = BTreeMap::new();
        let mut sizes = BTreeMap::new();
        for (&map, &count) in &counts {
            let size = if matches!(map, MapId::Ipcache | MapId::Unknown) {
                0 // interval maps take no size
            } else {
                match self.sizes.get(&map) {
                    Some(&s) if s >= count => s,
                    _ => new_size(count),
                }
            };
            sizes.insert(map, size);
            maps.insert(map, Map { size });
        }
        self.sizes = sizes;
        let present: Vec<MapId> = maps.keys().copied().collect();
        let chains = match self.chains.take() {
            // Log prefixes read the rules' stamps only, not the generation.
            Some((m, d, s, c)) if m == present && d == *decisions && s.rules == stamps.rules => {
                (m, d, s, c)
            }
            _ => {
                let c = Arc::new(layout::chains(&present, decisions, stamps));
                (present, decisions.clone(), stamps.clone(), c)
            }
        };
        let chains = self.chains.insert(chains).3.clone();
        Ok(Ruleset {
            generation: stamps.generation,
            chains,
            maps,
            parts,
            identities,
        })
    }

    /// Kernel numbers of the program's identities (`out[id]`), and their descriptions;
    /// the last ones again when the identities did not change.
    fn numbers(&mut self, program: &Program) -> (Vec<u32>, Arc<Vec<(u32, String)>>) {
        if let Some((ids, kernel, described)) = &self.identities
            && *ids == program.identities
        {
            return (kernel.clone(), described.clone());
        }
        let kernel = self.ids.assign(program);
        let described: Vec<(u32, String)> = program
            .identities
            .iter()
            .enumerate()
            .skip(1)
            .map(|(id, i)| (kernel[id], i.description.clone()))
            .collect();
        let described = Arc::new(described);
        self.identities = Some((
            program.identities.clone(),
            kernel.clone(),
            described.clone(),
        ));
        (kernel, described)
    }
}

/// A one-off build (no earlier ruleset to stay close to).
pub fn build(program: &Program, stamps: &Stamps) -> Result<Ruleset, BuildError> {
    Builder::default().build(program, stamps)
}

/// The ipcache (prefixes as disjoint ranges tiling the address space, /32s exact) and
/// the verdict of every decision kind in use.
fn shared(program: &Program, kernel: &[u32], decisions: &[Decision]) -> Part {
    let number = |id: u32| kernel.get(id as usize).copied().unwrap_or(0);
    let mut elements = Vec::new();
    let (exact, prefixes): (Vec<_>, Vec<_>) = program
        .ipcache
        .iter()
        .copied()
        .partition(|(net, _)| net.prefix_len() == 32);
    let flat = intervals::flatten(&prefixes, ANY_IDENTITY);
    let mut ranges = Vec::new();
    for (lo, hi, id) in flat.ranges {
        // Ranges of equal kernel numbers merge: the tiling needs no more elements.
        match ranges.last_mut() {
            Some((_, h, n)) if *n == number(id) => *h = hi,
            _ => ranges.push((lo, hi, number(id))),
        }
    }
    for (lo, hi, n) in ranges {
        let key = ElementKey::Range(Ipv4Addr::from(lo), Ipv4Addr::from(hi));
        elements.push((MapId::Ipcache, element(key, Value::Mark(n))));
    }
    for (net, id) in exact {
        let key = ElementKey::Addr(net.addr());
        elements.push((MapId::IpcacheExact, element(key, Value::Mark(number(id)))));
    }
    for d in decisions {
        let v = Value::Verdict(d.verdict());
        elements.push((MapId::Verdicts, element(ElementKey::Mark(d.kind_code()), v)));
    }
    elements.sort_unstable_by_key(|(m, e)| (*m, e.key));
    elements.dedup_by_key(|(m, e)| (*m, e.key));
    Part {
        elements,
        decisions: Vec::new(),
    }
}

fn element(key: ElementKey, value: Value) -> super::ir::Element {
    super::ir::Element { key, value }
}
