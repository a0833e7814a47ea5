use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const A: Decision = Decision::Allow;
const D: Decision = Decision::Deny(7);

const DECISIONS: [Decision; 4] = [A, D, Decision::Deny(9), Decision::Monitor(9)];

/// Up to `n` random cut points below `top`, paired into disjoint sorted entries (a
/// lone last cut is a single port), each with a random decision.
fn random_entries(rng: &mut ChaCha8Rng, n: usize, top: u32) -> Vec<(u16, u16, Decision)> {
    let mut cuts: Vec<u16> = (0..rng.random_range(0..n))
        .map(|_| rng.random_range(0..top) as u16)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.chunks(2)
        .map(|w| {
            (
                w[0],
                w.get(1).copied().unwrap_or(w[0]),
                DECISIONS[rng.random_range(0..4)],
            )
        })
        .collect()
}

fn blocks(want: &Steps, fallback: &Steps) -> Vec<Block> {
    let mut out = Vec::new();
    cover(want, fallback, &mut Scratch::default(), &mut out);
    out
}

/// Every port decides what it must: a block's decision where a block covers it (at
/// most one), else the fallback, and that equals `want`; blocks are aligned.
fn check(want: &Steps, fallback: &Steps, got: &[Block]) {
    let mut hit = vec![None; 65536];
    for b in got {
        let size = 1u32 << (16 - b.prefix);
        assert_eq!(u32::from(b.first) % size, 0, "{b:?} is not aligned");
        for p in u32::from(b.first)..u32::from(b.first) + size {
            assert!(hit[p as usize].is_none(), "blocks overlap at {p}");
            hit[p as usize] = Some(b.decision);
        }
    }
    for p in 0..=u16::MAX {
        let got = hit[p as usize].or(at(fallback, p));
        assert_eq!(got, at(want, p), "port {p}");
    }
}

#[test]
fn single_ports_full_ranges_and_dont_cares() {
    let mut want = Steps::new();
    overlay(&[(8080, 8080, A)], &constant(D), &mut want);
    assert_eq!(
        blocks(&want, &constant(D)),
        [Block {
            first: 8080,
            prefix: 16,
            decision: A
        }]
    );
    overlay(&[(0, 65535, A)], &constant(D), &mut want);
    assert_eq!(
        blocks(&want, &constant(D)),
        [Block {
            first: 0,
            prefix: 0,
            decision: A
        }]
    );
    // Allow everything but 80, where the fallback allows too: one block, not two ranges.
    let mut fallback = Steps::new();
    overlay(&[(80, 80, A)], &constant(D), &mut fallback);
    overlay(&[(0, 79, A), (81, 65535, A)], &fallback, &mut want);
    assert_eq!(
        blocks(&want, &fallback),
        [Block {
            first: 0,
            prefix: 0,
            decision: A
        }]
    );
    // Nothing to decide: nothing written.
    assert!(blocks(&fallback, &fallback).is_empty());
    // 1000-1999 needs a handful of blocks.
    overlay(&[(1000, 1999, A)], &constant(D), &mut want);
    let b = blocks(&want, &constant(D));
    check(&want, &constant(D), &b);
    assert!(b.len() <= 2 * 16, "{}", b.len());
}

#[test]
fn random_tables_are_covered_exactly() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..200 {
        let base = constant(DECISIONS[rng.random_range(0..4)]);
        let mut fallback = Steps::new();
        overlay(&random_entries(&mut rng, 8, 65536), &base, &mut fallback);
        let mut want = Steps::new();
        overlay(&random_entries(&mut rng, 8, 65536), &fallback, &mut want);
        let got = blocks(&want, &fallback);
        check(&want, &fallback, &got);
    }
}

/// The cover as first written: walk the binary trie of ports from the root, one block
/// for a node whose wanted decision is uniform and that must decide something.
fn trie(want: &Steps, fallback: &Steps) -> Vec<Block> {
    fn node(segs: &[(u32, Decision, Decision)], lo: u32, bits: u32, out: &mut Vec<Block>) {
        let hi = lo + (1 << bits) - 1;
        let i = segs.partition_point(|s| s.0 <= lo) - 1;
        let wanted = segs[i].1;
        let (mut uniform, mut must) = (true, false);
        for &(start, w, f) in &segs[i..] {
            if start > hi {
                break;
            }
            uniform &= w == wanted;
            must |= w != f;
        }
        if !must {
            return;
        }
        if uniform {
            let (first, prefix) = (lo as u16, (16 - bits) as u8);
            out.push(Block {
                first,
                prefix,
                decision: wanted,
            });
            return;
        }
        node(segs, lo, bits - 1, out);
        node(segs, lo + (1 << (bits - 1)), bits - 1, out);
    }
    let mut s = Scratch::default();
    cover(want, fallback, &mut s, &mut Vec::new()); // fills the segments
    let mut out = Vec::new();
    node(&s.segments, 0, 16, &mut out);
    out
}

#[test]
fn runs_give_exactly_the_tries_blocks() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut want = Steps::new();
    let mut fallback = Steps::new();
    for round in 0..2000 {
        // Small ports and narrow ranges too, where blocks are big and neighbours meet.
        let top = if round % 2 == 0 { 64u32 } else { 65536 };
        let base = constant(DECISIONS[rng.random_range(0..4)]);
        overlay(&random_entries(&mut rng, 10, top), &base, &mut fallback);
        overlay(&random_entries(&mut rng, 10, top), &fallback, &mut want);
        let got = blocks(&want, &fallback);
        assert_eq!(got, trie(&want, &fallback), "round {round}");
        if round % 50 == 0 {
            check(&want, &fallback, &got);
        }
    }
}

#[test]
fn one_port_takes_the_short_way_to_the_same_blocks() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let (mut fallback, mut want) = (Steps::new(), Steps::new());
    let mut short = 0;
    for round in 0..4000 {
        let top = if round % 2 == 0 { 16u32 } else { 65536 };
        let base = constant(DECISIONS[rng.random_range(0..4)]);
        overlay(&random_entries(&mut rng, 6, top), &base, &mut fallback);
        let port = rng.random_range(0..top) as u16;
        let d = DECISIONS[rng.random_range(0..4)];
        overlay(&[(port, port, d)], &fallback, &mut want);
        let general = blocks(&want, &fallback);
        if let Some(block) = cover_port(port, d, &fallback) {
            short += 1;
            assert_eq!(Vec::from_iter(block), general, "round {round}");
        }
    }
    // Both ways were taken often.
    assert!((1000..4000).contains(&short), "{short}");
}
