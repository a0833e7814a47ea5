//! Kernel identity numbers that stay the same across programs.
//!
//! The kernel holds identities in map keys (`ipcache` values, check keys), so if the
//! compiler renumbered identities between two programs, a one-workload change would
//! rewrite most elements. The compiler numbers identities by content for one input;
//! until it numbers them against the previous program, this module gives each identity
//! a kernel number keyed by what it *is* (its description and member workloads): the
//! same identity keeps its number for as long as one [`KernelIds`] lives (the life of
//! a backend). Numbers are never reused within that life, and always below
//! [`DECIDED`](super::decision::DECIDED) (bit 31 marks decision codes).

use super::decision::DECIDED;
use crate::program::{Identity, Program};
use bulkhead_policy::WorkloadId;
use std::collections::HashMap;

#[derive(Clone, Debug, Default)]
pub struct KernelIds {
    /// Description → (member workloads, kernel number); descriptions of large
    /// identities are abbreviated, so the members tell those apart.
    by_description: HashMap<String, Vec<(Vec<WorkloadId>, u32)>>,
    next: u32,
}

impl KernelIds {
    /// `out[id]` = the kernel number of program identity `id` (`out[0]` = 0, the
    /// wildcard). Identities of earlier programs that are gone are forgotten.
    pub fn assign(&mut self, program: &Program) -> Vec<u32> {
        let needed = self.next as u64 + program.identities.len() as u64;
        if needed >= u64::from(DECIDED) {
            // Four billion identities later: start over (the ruleset is rewritten
            // whole anyway when most numbers change).
            *self = KernelIds::default();
        }
        let mut out = Vec::with_capacity(program.identities.len());
        let mut kept: HashMap<String, Vec<(Vec<WorkloadId>, u32)>> =
            HashMap::with_capacity(program.identities.len());
        for (id, identity) in program.identities.iter().enumerate() {
            if id == 0 {
                out.push(0);
                continue;
            }
            let n = self.take(identity).unwrap_or_else(|| {
                self.next += 1;
                self.next
            });
            kept.entry(identity.description.clone())
                .or_default()
                .push((identity.workloads.clone(), n));
            out.push(n);
        }
        self.by_description = kept;
        out
    }

    /// Removes and returns the number `identity` had, if it had one. Removing it means
    /// two identities alike in one program (there should be none) get two numbers.
    fn take(&mut self, identity: &Identity) -> Option<u32> {
        let list = self.by_description.get_mut(&identity.description)?;
        let i = list.iter().position(|(w, _)| *w == identity.workloads)?;
        Some(list.swap_remove(i).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(names: &[&str]) -> Program {
        let identities = std::iter::once("*")
            .chain(names.iter().copied())
            .map(|d| Identity {
                description: d.into(),
                workloads: vec![],
            })
            .collect();
        Program {
            rules: vec![],
            identities,
            ipcache: vec![],
            endpoints: vec![],
        }
    }

    #[test]
    fn numbers_follow_identities_not_positions() {
        let mut ids = KernelIds::default();
        assert_eq!(ids.assign(&program(&["a", "b", "c"])), [0, 1, 2, 3]);
        // `a` is gone and `d` is new: b and c keep theirs, d gets a fresh one.
        assert_eq!(ids.assign(&program(&["b", "c", "d"])), [0, 2, 3, 4]);
        // A gone identity does not come back with its old number.
        assert_eq!(ids.assign(&program(&["a", "b"])), [0, 5, 2]);
        // Two alike (not produced by the compiler) still get distinct numbers.
        assert_eq!(ids.assign(&program(&["b", "b"])), [0, 2, 6]);
    }
}
