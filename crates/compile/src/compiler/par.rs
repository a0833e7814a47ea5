//! Two independent stages at once, on the caller's thread and one scoped thread.
//!
//! A whole compile of a large node is a chain of stages of which several pairs do not
//! read each other's output (the policies' rules and the inventory's index; identities
//! and the endpoints' isolating policies). Running such a pair side by side uses the
//! second core that the per-endpoint tables already use. Small inputs stay on one
//! thread: starting one costs more than these stages do there.

/// Below this much work (policies or workloads) a pair runs one after the other.
pub(crate) const PARALLEL_FROM: usize = 512;

/// `(a(), b())`, with `b` on a scoped thread when `parallel`.
pub(crate) fn both<A, B>(
    parallel: bool,
    a: impl FnOnce() -> A,
    b: impl FnOnce() -> B + Send,
) -> (A, B)
where
    B: Send,
{
    if !parallel {
        let a = a();
        return (a, b());
    }
    std::thread::scope(|s| {
        let handle = s.spawn(b);
        let a = a();
        // A panic in `b` is a bug; carry it to the caller unchanged.
        let b = handle
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (a, b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ways_give_both_results_in_order() {
        for parallel in [false, true] {
            let (a, b) = both(parallel, || 1 + 1, || "two".to_string());
            assert_eq!((a, b.as_str()), (2, "two"));
        }
    }
}
