//! The difference between the ruleset in force and the next one, as the steps of one
//! transaction. A long-running backend applies only these steps, so changing one
//! workload's rules writes that workload's elements (and the few shared ones that
//! change with them), not the whole table. Parts shared between the two rulesets (the
//! same `Arc`) are skipped without reading them.

use super::ir::{Chain, ChainName, Element, Map, MapId, Part, PartKey, Ruleset};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The steps from one ruleset to another, grouped in the order a batch must carry them:
/// objects are created before anything refers to them, references are dropped (chains
/// flushed, elements deleted) before what they refer to is deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff<'a> {
    /// New maps, created empty (their elements are in `add_elements`).
    pub add_maps: Vec<(MapId, Map)>,
    /// New chains, created empty (their rules are in `set_rules`).
    pub add_chains: Vec<(ChainName, &'a Chain)>,
    /// Chains whose rules change or that go away: all their rules are deleted first.
    pub flush_chains: Vec<ChainName>,
    /// The full rule list of every new or changed chain (after its flush). Rules go
    /// before elements: binding a rule to a map makes the kernel walk the map's
    /// elements, which costs nothing while a new map is still empty (a fifth of a
    /// 270,000-element full apply when the elements came first).
    pub set_rules: Vec<(ChainName, &'a Chain)>,
    /// Elements to delete from maps that stay.
    pub del_elements: Vec<(MapId, Vec<&'a Element>)>,
    /// Elements to add, to new maps and to maps that stay.
    pub add_elements: Vec<(MapId, Vec<&'a Element>)>,
    /// Maps that go away, deleted once nothing refers to them.
    pub del_maps: Vec<MapId>,
    /// Chains that go away, deleted last (verdict map elements may have gone to them).
    pub del_chains: Vec<ChainName>,
    /// The owners of the parts that differ (added, removed or changed), in key order:
    /// whose verdicts the step can change (all of them, if the shared part is among them).
    pub changed_parts: Vec<&'a PartKey>,
}

impl Diff<'_> {
    pub fn is_empty(&self) -> bool {
        self.add_maps.is_empty()
            && self.add_chains.is_empty()
            && self.flush_chains.is_empty()
            && self.del_elements.is_empty()
            && self.add_elements.is_empty()
            && self.set_rules.is_empty()
            && self.del_maps.is_empty()
            && self.del_chains.is_empty()
    }

    pub fn elements_written(&self) -> usize {
        self.add_elements.iter().map(|e| e.1.len()).sum()
    }

    pub fn elements_removed(&self) -> usize {
        self.del_elements.iter().map(|e| e.1.len()).sum()
    }
}

/// The steps from `old` to `new`, or `None` when a map keeps its name but changes size
/// (the kernel cannot resize a hash map): only a full replace can do that.
/// `diff(&Ruleset::default(), new)` creates everything.
pub fn diff<'a>(old: &'a Ruleset, new: &'a Ruleset) -> Option<Diff<'a>> {
    let mut d = Diff::default();
    for (&id, map) in &new.maps {
        match old.maps.get(&id) {
            None => d.add_maps.push((id, *map)),
            Some(prev) if prev != map => return None,
            Some(_) => {}
        }
    }
    d.del_maps = old
        .maps
        .keys()
        .filter(|m| !new.maps.contains_key(*m))
        .copied()
        .collect();
    let mut dels: BTreeMap<MapId, Vec<&Element>> = BTreeMap::new();
    let mut adds: BTreeMap<MapId, Vec<&Element>> = BTreeMap::new();
    for (key, a, b) in join(&old.parts, &new.parts) {
        if let (Some(a), Some(b)) = (a, b)
            && Arc::ptr_eq(a, b)
        {
            continue;
        }
        d.changed_parts.push(key);
        let list = |p: Option<&'a Arc<Part>>| p.map_or(&[][..], |p| &p.elements[..]);
        elements(list(a), list(b), &mut dels, &mut adds);
    }
    // Elements of a map that goes away go with it.
    d.del_elements = dels
        .into_iter()
        .filter(|(m, _)| new.maps.contains_key(m))
        .collect();
    d.add_elements = adds.into_iter().collect();
    if Arc::ptr_eq(&old.chains, &new.chains) {
        return Some(d);
    }
    for (&name, prev, chain) in join(&old.chains, &new.chains) {
        match (prev, chain) {
            (None, Some(chain)) => {
                d.add_chains.push((name, chain));
                d.set_rules.push((name, chain));
            }
            (Some(prev), Some(chain)) if prev.hook != chain.hook => return None,
            (Some(prev), Some(chain)) if prev.rules != chain.rules => {
                d.flush_chains.push(name);
                d.set_rules.push((name, chain));
            }
            (Some(_), None) => {
                d.flush_chains.push(name);
                d.del_chains.push(name);
            }
            _ => {}
        }
    }
    Some(d)
}

/// The keys of two sorted maps in order, with each side's value: a merge, with no
/// lookups (keys are workload ids: comparing them is what costs).
fn join<'a, K: Ord, V>(
    a: &'a BTreeMap<K, V>,
    b: &'a BTreeMap<K, V>,
) -> impl Iterator<Item = (&'a K, Option<&'a V>, Option<&'a V>)> {
    let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
    std::iter::from_fn(move || {
        let ord = match (a.peek(), b.peek()) {
            (None, None) => return None,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => x.0.cmp(y.0),
        };
        Some(match ord {
            Ordering::Less => a.next().map(|(k, v)| (k, Some(v), None))?,
            Ordering::Greater => b.next().map(|(k, v)| (k, None, Some(v)))?,
            Ordering::Equal => {
                let (k, v) = a.next()?;
                (k, Some(v), b.next().map(|x| x.1))
            }
        })
    })
}

/// Adds to `del` and `add` the difference between two lists sorted by (map, key); a
/// key whose value changes is in both.
fn elements<'a>(
    old: &'a [(MapId, Element)],
    new: &'a [(MapId, Element)],
    del: &mut BTreeMap<MapId, Vec<&'a Element>>,
    add: &mut BTreeMap<MapId, Vec<&'a Element>>,
) {
    // One side empty (every part of a full apply): whole runs, one map lookup each.
    if old.is_empty() || new.is_empty() {
        let (list, to) = if old.is_empty() {
            (new, add)
        } else {
            (old, del)
        };
        let mut rest = list;
        while let Some((map, _)) = rest.first() {
            let n = rest.partition_point(|(m, _)| m == map);
            let run = rest[..n].iter().map(|(_, e)| e);
            to.entry(*map).or_default().extend(run);
            rest = &rest[n..];
        }
        return;
    }
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let ord = match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) => (a.0, a.1.key).cmp(&(b.0, b.1.key)),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                del.entry(old[i].0).or_default().push(&old[i].1);
                i += 1;
            }
            Ordering::Greater => {
                add.entry(new[j].0).or_default().push(&new[j].1);
                j += 1;
            }
            Ordering::Equal => {
                if old[i].1.value != new[j].1.value {
                    del.entry(old[i].0).or_default().push(&old[i].1);
                    add.entry(new[j].0).or_default().push(&new[j].1);
                }
                i += 1;
                j += 1;
            }
        }
    }
}
