//! Joining rules parts built on different threads.

use super::{FlatRule, NamedId, PeerId, PortItem, Rules};

impl<'a> Rules<'a> {
    /// Appends the part for the policies right after this one's: the same numbering as
    /// one part built over both, since peers and named ports are numbered by first
    /// appearance and `later`'s appear after all of this part's.
    pub fn append(&mut self, later: Rules<'a>) {
        // Through `later`'s encodings: reading its peers again would cost the cache
        // misses its thread already paid.
        let encoded = later.interner.encoded();
        let peer_id: Vec<PeerId> = later
            .peers
            .into_iter()
            .zip(encoded)
            .map(|(keyed, (hash, bytes))| {
                let next = self.peers.len() as PeerId;
                let id = self.interner.intern_encoded(hash, bytes, next);
                if id == next {
                    self.peers.push(keyed);
                }
                id
            })
            .collect();
        let named_id: Vec<NamedId> = later
            .named
            .iter()
            .map(|&key| self.intern_named_key(key))
            .collect();
        let rule_base = self.rules.len() as u32;
        let peer_base = self.rule_peers.len();
        let port_base = self.ports.len() as u32;
        self.rule_peers
            .extend(later.rule_peers.iter().map(|&id| peer_id[id as usize]));
        self.ports
            .extend(later.ports.iter().map(|&item| match item {
                PortItem::Peer(id, protocol) => PortItem::Peer(named_id[id as usize], protocol),
                other => other,
            }));
        self.rules.extend(later.rules.into_iter().map(|r| FlatRule {
            peers: r.peers.map(|p| p.start + peer_base..p.end + peer_base),
            ports: r.ports.map(|p| p.start + port_base..p.end + port_base),
            ..r
        }));
        let shift =
            |r: Option<std::ops::Range<u32>>| r.map(|r| r.start + rule_base..r.end + rule_base);
        self.ranges
            .extend(later.ranges.into_iter().map(|[i, e]| [shift(i), shift(e)]));
        self.policies.extend(later.policies);
        self.named_ingress.extend(later.named_ingress);
    }
}
