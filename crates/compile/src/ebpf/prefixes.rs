//! Port ranges as LPM prefixes over the 16 port bits.

/// The fewest `(first port, leading bits)` prefixes whose union is exactly
/// `first..=last`, in ascending order. A range of n ports needs at most 2·log2(n)
/// prefixes (30 for the worst 16-bit range); `0..=65535` is one prefix of 0 bits.
pub fn port_prefixes(first: u16, last: u16) -> Vec<(u16, u8)> {
    let mut out = Vec::new();
    let (mut lo, hi) = (u32::from(first), u32::from(last));
    while lo <= hi {
        // The largest aligned block starting at `lo` that stays inside the range.
        let mut k = if lo == 0 {
            16
        } else {
            lo.trailing_zeros().min(16)
        };
        while lo + (1 << k) - 1 > hi {
            k -= 1;
        }
        // `lo` ≤ `hi` ≤ 65535 here, and k ≤ 16.
        out.push((lo as u16, (16 - k) as u8));
        lo += 1 << k;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::port_prefixes;

    fn covered(prefixes: &[(u16, u8)]) -> Vec<u32> {
        prefixes
            .iter()
            .flat_map(|&(p, bits)| {
                let size = 1u32 << (16 - bits);
                u32::from(p)..u32::from(p) + size
            })
            .collect()
    }

    #[test]
    fn single_ports_and_full_range() {
        assert_eq!(port_prefixes(80, 80), vec![(80, 16)]);
        assert_eq!(port_prefixes(0, 65535), vec![(0, 0)]);
        assert_eq!(port_prefixes(0, 0), vec![(0, 16)]);
        assert_eq!(port_prefixes(65535, 65535), vec![(65535, 16)]);
        assert_eq!(port_prefixes(1024, 2047), vec![(1024, 6)]);
    }

    #[test]
    fn every_range_is_covered_exactly_and_minimally_bounded() {
        let cases = [
            (1, 65534),
            (80, 88),
            (1000, 2000),
            (3, 4),
            (32767, 32768),
            (1, 65535),
        ];
        for (a, b) in cases {
            let p = port_prefixes(a, b);
            let want: Vec<u32> = (u32::from(a)..=u32::from(b)).collect();
            assert_eq!(covered(&p), want, "{a}-{b}");
            assert!(p.len() <= 30, "{a}-{b}: {} prefixes", p.len());
            for &(port, bits) in &p {
                let mask = if bits == 16 {
                    0
                } else {
                    (1u32 << (16 - bits)) - 1
                };
                assert_eq!(u32::from(port) & mask, 0, "aligned");
            }
        }
    }
}
