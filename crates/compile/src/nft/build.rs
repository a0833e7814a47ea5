//! [`Program`] → [`Ruleset`]: the endpoints' parts (reused when an endpoint did not
//! change), the shared part (ipcache, verdict map) and the chains.

use super::decision::{Decision, MAX_RULE};
use super::endpoint::{self, Work};
use super::ids::KernelIds;
use super::intervals;
use super::ir::{ElementKey, Map, MapId, Part, PartKey, Ruleset, Value};
use super::layout::{self, Stamps};
use crate::program::{ANY_IDENTITY, Program};
use bulkhead_policy::WorkloadId;
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
/// endpoint's part (with the fingerprint of what it was built from) and map sizes.
#[derive(Default)]
pub struct Builder {
    ids: KernelIds,
    parts: HashMap<WorkloadId, (Vec<u8>, Arc<Part>)>,
    sizes: BTreeMap<MapId, u32>,
    /// The unknown-address guard's part ([`super::guard`]), if any.
    guard: Option<Arc<Part>>,
}

/// The least size given to a hash map, so small programs do not recreate maps often.
const MIN_SIZE: u32 = 256;

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
        let kernel = self.ids.assign(program);
        let mut work = Work::default();
        let mut fp = Vec::new();
        let mut cache = HashMap::with_capacity(program.endpoints.len());
        let mut parts = BTreeMap::new();
        for ep in &program.endpoints {
            endpoint::fingerprint(ep, &kernel, &mut fp);
            let part = match self.parts.remove(&ep.workload) {
                Some((old, part)) if old == fp => part,
                _ => Arc::new(endpoint::part(ep, &kernel, &mut work)),
            };
            cache.insert(ep.workload.clone(), (fp.clone(), part.clone()));
            if !part.elements.is_empty() {
                parts.insert(PartKey::Endpoint(ep.workload.clone()), part);
            }
        }
        self.parts = cache;
        let decisions: BTreeSet<Decision> = parts
            .values()
            .flat_map(|p| p.decisions.iter().copied())
            .collect();
        let decisions: Vec<Decision> = decisions.into_iter().collect();
        parts.insert(
            PartKey::Shared,
            Arc::new(shared(program, &kernel, &decisions)),
        );
        if let Some(g) = &self.guard {
            parts.insert(PartKey::Guard, g.clone());
        }

        let mut counts: BTreeMap<MapId, u32> = BTreeMap::new();
        for part in parts.values() {
            for (map, _) in &part.elements {
                *counts.entry(*map).or_default() += 1;
            }
        }
        let mut maps = BTreeMap::new();
        let mut sizes = BTreeMap::new();
        for (&map, &count) in &counts {
            let size = if matches!(map, MapId::Ipcache | MapId::Unknown) {
                0 // interval maps take no size
            } else {
                match self.sizes.get(&map) {
                    Some(&s) if s >= count => s,
                    _ => count.saturating_mul(2).max(MIN_SIZE).next_power_of_two(),
                }
            };
            sizes.insert(map, size);
            maps.insert(map, Map { size });
        }
        self.sizes = sizes;
        let present: Vec<MapId> = maps.keys().copied().collect();
        let identities = program
            .identities
            .iter()
            .enumerate()
            .skip(1)
            .map(|(id, i)| (kernel[id], i.description.clone()))
            .collect();
        Ok(Ruleset {
            generation: stamps.generation,
            chains: layout::chains(&present, &decisions, stamps),
            maps,
            parts,
            identities: Arc::new(identities),
        })
    }
}

/// A one-off build (no earlier ruleset to stay close to).
pub fn build(program: &Program, stamps: &Stamps) -> Result<Ruleset, BuildError> {
    Builder::default().build(program, stamps)
}

/// The ipcache (prefixes as disjoint ranges tiling the address space, /32s exact) and
/// the verdict of every decision in use.
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
        elements.push((MapId::Verdicts, element(ElementKey::Mark(d.code()), v)));
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
