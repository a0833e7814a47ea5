//! Parts built apart and appended number everything exactly as one part over all
//! policies: the compile relies on it to build the rules on two threads.

use super::*;
use crate::synthetic;

/// Everything numbered: each rule's policy, range and interned peers, each peer's
/// first appearance, the named ports.
fn numbering(r: &Rules<'_>) -> String {
    let rules: Vec<_> = r
        .rules
        .iter()
        .map(|f| (f.policy, f.direction, f.index, f.action, r.peers_of(f)))
        .collect();
    let peers: Vec<_> = r.peers.iter().map(|(_, p)| *p).collect();
    let named: Vec<_> = r
        .named
        .iter()
        .map(|&(n, p)| (n, p, r.named_id(n, p)))
        .collect();
    format!(
        "{rules:?}\n{:?}\n{peers:?}\n{named:?}\n{:?}\n{}",
        r.ranges,
        r.named_ingress,
        r.policies.len()
    )
}

#[test]
fn appended_parts_number_like_one_part() {
    let s = synthetic::scale(40, 6);
    let (_, by_name) = name_order(&s.policies);
    let whole = numbering(&Rules::part(&by_name, 0));
    for split in [0, 1, 7, 20, 39, by_name.len()] {
        let mut first = Rules::part(&by_name[..split], 0);
        first.append(Rules::part(&by_name[split..], split as u32));
        assert_eq!(numbering(&first), whole, "split at {split}");
    }
}
