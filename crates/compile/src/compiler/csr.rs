//! Many short lists in two flat vectors (compressed sparse rows).
//!
//! Identity building keeps a list per atom, per peer and per named port: tens of
//! thousands of lists of one or two items. One allocation per list would dominate the
//! work, so they are gathered as (list, item) pairs, sorted once, and sliced.

pub(crate) struct Csr<T> {
    /// List `i` is `items[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    items: Vec<T>,
}

impl<T: Copy + Ord> Csr<T> {
    /// `lists` lists from (list, item) pairs; each list comes out sorted and without
    /// duplicates. Pairs naming a list `>= lists` are a caller bug and are dropped.
    pub fn from_pairs(lists: usize, mut pairs: Vec<(u32, T)>) -> Self {
        pairs.sort_unstable();
        pairs.dedup();
        let mut offsets = vec![0usize; lists + 1];
        for (list, _) in &pairs {
            if let Some(o) = offsets.get_mut(*list as usize + 1) {
                *o += 1;
            }
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let items = pairs
            .into_iter()
            .filter(|(list, _)| (*list as usize) < lists)
            .map(|(_, item)| item)
            .collect();
        Csr { offsets, items }
    }

    pub fn get(&self, list: usize) -> &[T] {
        match (self.offsets.get(list), self.offsets.get(list + 1)) {
            (Some(&a), Some(&b)) => &self.items[a..b],
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_deduplicated_and_sliced() {
        let c = Csr::from_pairs(4, vec![(2, 9), (0, 5), (2, 1), (0, 5), (9, 1)]);
        assert_eq!(c.get(0), [5]);
        assert!(c.get(1).is_empty());
        assert_eq!(c.get(2), [1, 9]);
        assert!(c.get(3).is_empty());
        assert!(c.get(4).is_empty());
    }
}
