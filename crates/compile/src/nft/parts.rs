//! Building endpoints' parts, on two threads when many must be built (a full apply
//! builds 10,000; an update a handful), and what the builder keeps of each part.

use super::decision::Decision;
use super::endpoint::{self, Work};
use super::ir::{MapId, Part};
use crate::program::Endpoint;

/// Below this many parts a second thread costs more than it saves.
const PER_THREAD: usize = 1024;

/// A part's elements per map and the decision kinds it uses: what the maps' sizes and
/// the shared part are computed from, kept with the part so that an update does not
/// read the elements of the 10,000 parts it reuses.
#[derive(Clone, Debug, Default)]
pub(super) struct Runs {
    pub per_map: Vec<(MapId, u32)>,
    /// `[allow, deny, monitor]`: whether the part maps to a decision of that kind.
    pub kinds: [bool; 3],
}

impl Runs {
    pub(super) fn of(part: &Part) -> Runs {
        // Elements are sorted by map within a part: count runs, not elements.
        let mut per_map = Vec::new();
        let mut rest = &part.elements[..];
        while let Some((map, _)) = rest.first() {
            let n = rest.partition_point(|(m, _)| m == map);
            per_map.push((*map, n as u32));
            rest = &rest[n..];
        }
        let mut kinds = [false; 3];
        for d in &part.decisions {
            kinds[match d {
                Decision::Allow => 0,
                Decision::Deny(_) => 1,
                Decision::Monitor(_) => 2,
            }] = true;
        }
        Runs { per_map, kinds }
    }
}

/// The parts (with their runs) of `endpoints[i]` for each `i` of `which`, in that order.
/// Each part depends only on its endpoint and the kernel numbers, so the halves are
/// built apart and joined in order: the result is the same on one thread or two.
pub(super) fn build(endpoints: &[Endpoint], which: &[usize], kernel: &[u32]) -> Vec<(Part, Runs)> {
    if which.len() < 2 * PER_THREAD {
        return serial(endpoints, which, kernel);
    }
    let (a, b) = which.split_at(which.len() / 2);
    std::thread::scope(|s| {
        let second = s.spawn(|| serial(endpoints, b, kernel));
        let mut out = serial(endpoints, a, kernel);
        // A panic in a part is a bug; carry it to the caller unchanged.
        out.extend(
            second
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e)),
        );
        out
    })
}

fn serial(endpoints: &[Endpoint], which: &[usize], kernel: &[u32]) -> Vec<(Part, Runs)> {
    let mut work = Work::default();
    which
        .iter()
        .map(|&i| {
            let part = endpoint::part(&endpoints[i], kernel, &mut work);
            let runs = Runs::of(&part);
            (part, runs)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic;

    #[test]
    fn two_threads_build_what_one_builds() {
        let s = synthetic::scale(2 * PER_THREAD + 100, 2);
        let p = s.compile().unwrap();
        let kernel: Vec<u32> = (0..p.identities.len() as u32).collect();
        let which: Vec<usize> = (0..p.endpoints.len()).collect();
        let parallel = build(&p.endpoints, &which, &kernel);
        let one = serial(&p.endpoints, &which, &kernel);
        assert_eq!(parallel.len(), one.len());
        for (a, b) in parallel.iter().zip(&one) {
            assert_eq!(a.0, b.0);
            assert_eq!((&a.1.per_map, a.1.kinds), (&b.1.per_map, b.1.kinds));
        }
        assert!(one.iter().any(|(p, _)| !p.elements.is_empty()));
    }
}
