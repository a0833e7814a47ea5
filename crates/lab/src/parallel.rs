//! A bounded parallel map: per-namespace work (each item enters its own namespace on
//! its own thread) runs side by side, so a lab of dozens of workloads comes up in about
//! the time of a few, without one thread per workload on large labs.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// At most this many items are worked on at once.
pub(crate) const WIDTH: usize = 16;

/// Applies `f` to every item, `width` at a time; results come back in input order.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    width: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..width.clamp(1, items.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    if let Ok(mut out) = out.lock() {
                        out[i] = Some(r);
                    }
                }
            });
        }
    });
    out.into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

/// Like [`map`] for fallible work: the first error (in input order) wins.
pub(crate) fn try_map<T: Sync, R: Send, E: Send>(
    items: &[T],
    width: usize,
    f: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    map(items, width, f).into_iter().collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_and_covers_every_item() {
        let items: Vec<u32> = (0..100).collect();
        let out = super::map(&items, 7, |x| x * 2);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }

    #[test]
    fn first_error_in_order() {
        let items = [1, 2, 3, 4];
        let r = super::try_map(&items, 4, |x| if *x >= 3 { Err(*x) } else { Ok(*x) });
        assert_eq!(r, Err(3));
        assert_eq!(super::map(&[] as &[u8], 4, |x| *x), Vec::<u8>::new());
    }
}
