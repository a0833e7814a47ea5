//! The difference between the ruleset in force and the next one, as the steps of one
//! transaction. A long-running agent applies only these steps, so changing one
//! workload's rules writes that workload's elements and chains, not the whole table.

use super::{Chain, Element, Map, MapKey, Ruleset};
use std::cmp::Ordering;

/// The steps from one ruleset to another, grouped in the order a batch must carry them:
/// objects are created before anything refers to them, references are dropped (chains
/// flushed, elements deleted) before what they refer to is deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff<'a> {
    /// New maps, created empty (their elements are in `add_elements`).
    pub add_maps: Vec<(&'a str, &'a Map)>,
    /// New chains, created empty (their rules are in `set_rules`).
    pub add_chains: Vec<(&'a str, &'a Chain)>,
    /// Chains whose rules change or that go away: all their rules are deleted first.
    pub flush_chains: Vec<&'a str>,
    /// Elements to delete from maps that stay.
    pub del_elements: Vec<(&'a str, MapKey, Vec<&'a Element>)>,
    /// Elements to add, to new maps and to maps that stay.
    pub add_elements: Vec<(&'a str, MapKey, Vec<&'a Element>)>,
    /// The full rule list of every new or changed chain (after its flush).
    pub set_rules: Vec<(&'a str, &'a Chain)>,
    /// Maps that go away, deleted once nothing refers to them.
    pub del_maps: Vec<&'a str>,
    /// Chains that go away, deleted last (map elements may have jumped to them).
    pub del_chains: Vec<&'a str>,
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
        self.add_elements.iter().map(|e| e.2.len()).sum()
    }

    pub fn elements_removed(&self) -> usize {
        self.del_elements.iter().map(|e| e.2.len()).sum()
    }
}

/// The steps from `old` to `new`, or `None` when an object keeps its name but changes
/// kind (a map's key type, a chain's hook): only a full replace can do that.
/// `diff(&Ruleset::default(), new)` creates everything.
pub fn diff<'a>(old: &'a Ruleset, new: &'a Ruleset) -> Option<Diff<'a>> {
    let mut d = Diff::default();
    for (name, map) in &new.maps {
        match old.maps.get(name) {
            None => {
                d.add_maps.push((name, map));
                if !map.elements.is_empty() {
                    d.add_elements
                        .push((name, map.key, map.elements.iter().collect()));
                }
            }
            Some(prev) if prev.key != map.key => return None,
            Some(prev) => {
                let (del, add) = elements(&prev.elements, &map.elements);
                if !del.is_empty() {
                    d.del_elements.push((name, map.key, del));
                }
                if !add.is_empty() {
                    d.add_elements.push((name, map.key, add));
                }
            }
        }
    }
    d.del_maps = old
        .maps
        .keys()
        .filter(|n| !new.maps.contains_key(*n))
        .map(String::as_str)
        .collect();
    for (name, chain) in &new.chains {
        match old.chains.get(name) {
            None => {
                d.add_chains.push((name, chain));
                d.set_rules.push((name, chain));
            }
            Some(prev) if prev.hook != chain.hook => return None,
            Some(prev) if prev.rules != chain.rules => {
                d.flush_chains.push(name);
                d.set_rules.push((name, chain));
            }
            Some(_) => {}
        }
    }
    for name in old.chains.keys().filter(|n| !new.chains.contains_key(*n)) {
        d.flush_chains.push(name);
        d.del_chains.push(name);
    }
    Some(d)
}

/// (to delete, to add) between two sorted element lists; a key whose verdict changes
/// is in both.
fn elements<'a>(old: &'a [Element], new: &'a [Element]) -> (Vec<&'a Element>, Vec<&'a Element>) {
    let (mut del, mut add) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let ord = match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) => a.key.cmp(&b.key),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                del.push(&old[i]);
                i += 1;
            }
            Ordering::Greater => {
                add.push(&new[j]);
                j += 1;
            }
            Ordering::Equal => {
                if old[i].verdict != new[j].verdict {
                    del.push(&old[i]);
                    add.push(&new[j]);
                }
                i += 1;
                j += 1;
            }
        }
    }
    (del, add)
}
