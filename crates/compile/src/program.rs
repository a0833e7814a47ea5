//! The compiled program: what one node must enforce, in a form both backends map 1:1
//! onto kernel lookups whose cost does not depend on the number of rules.
//!
//! Addresses are first mapped to an *identity* (longest-prefix match in [`Program::ipcache`]):
//! two addresses share an identity when every selector, CIDR and named-port resolution
//! of the policies treats them alike (a Cilium-style identity, widened to cover CIDRs).
//! Each local endpoint then has, per direction, a table from (peer identity, protocol,
//! port) to an action and the rule that decided it:
//!
//! 1. `peers[identity]` if it has an entry covering (protocol, port);
//! 2. else `any`, the entries that hold for every peer;
//! 3. else the default: deny by `default_rule` if the direction is isolated, else allow.
//!
//! `peers[identity]` entries are fully resolved (they already include what `any` says
//! for those ports, and deny-beats-allow has been applied), so the first hit is final.
//! [`Program::check`] is that lookup written plainly: the specification the nft and eBPF
//! backends are tested against.

use bulkhead_policy::ir::Reason;
use bulkhead_policy::{Action, Mode, WorkloadId};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

mod fingerprint;
pub use fingerprint::direction_fingerprint;
pub(crate) use fingerprint::direction_fingerprint_in;

pub type IdentityId = u32;
/// The wildcard peer in map keys (`any` entries); never assigned to an address.
pub const ANY_IDENTITY: IdentityId = 0;

/// Index into [`Program::rules`]. 0 is reserved: "allowed, no policy isolates this".
pub type RuleId = u32;
pub const NO_RULE: RuleId = 0;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// `rules[id]` explains rule id `id`; `rules[0]` is [`Reason::NotIsolated`].
    pub rules: Vec<Reason>,
    /// `identities[id]` describes identity `id`; `identities[0]` is the wildcard.
    pub identities: Vec<Identity>,
    /// Longest-prefix-match table from address to identity; always holds `0.0.0.0/0`,
    /// sorted by (prefix length descending, network).
    pub ipcache: Vec<(Ipv4Net, IdentityId)>,
    /// The endpoints this node enforces for, sorted by workload id.
    pub endpoints: Vec<Endpoint>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Human-readable: the workloads' ids, a CIDR, `world` or `host`.
    pub description: String,
    pub workloads: Vec<WorkloadId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub workload: WorkloadId,
    /// Dense index of this endpoint in [`Program::endpoints`], stable for a given input.
    pub index: u32,
    pub ips: Vec<Ipv4Addr>,
    /// The host-side interface of the workload on this node, when known (eBPF attaches there).
    pub interface: Option<String>,
    pub identity: IdentityId,
    pub mode: Mode,
    pub ingress: DirectionProgram,
    pub egress: DirectionProgram,
    /// A content hash of the fields above except `index` ([`Endpoint::content_fingerprint`]),
    /// filled in by the compiler: equal fingerprints mean a backend may keep what it
    /// applied for this endpoint. Never 0 when computed: 0 means "not computed" (a
    /// hand-built endpoint) and must not be trusted.
    pub fingerprint: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirectionProgram {
    pub isolated: bool,
    /// The rule id reported when an isolated direction denies by default.
    pub default_rule: RuleId,
    pub peers: BTreeMap<IdentityId, PortTable>,
    pub any: PortTable,
}

/// Disjoint port ranges, sorted by (protocol, first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortTable {
    pub entries: Vec<PortEntry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortEntry {
    /// IP protocol number (6, 17, 132).
    pub protocol: u8,
    pub first: u16,
    pub last: u16,
    pub action: Action,
    pub rule: RuleId,
}

impl PortTable {
    pub fn lookup(&self, protocol: u8, port: u16) -> Option<&PortEntry> {
        // Entries are sorted and disjoint: the candidate is the last one starting at or before.
        let key = (protocol, port);
        let i = self
            .entries
            .partition_point(|e| (e.protocol, e.first) <= key);
        self.entries[..i]
            .last()
            .filter(|e| e.protocol == protocol && port <= e.last)
    }
}

/// One direction's decision for one packet: the action and the rule behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check {
    pub action: Action,
    pub rule: RuleId,
}

impl DirectionProgram {
    pub fn lookup(&self, peer: IdentityId, protocol: u8, port: u16) -> Check {
        let hit = self
            .peers
            .get(&peer)
            .and_then(|t| t.lookup(protocol, port))
            .or_else(|| self.any.lookup(protocol, port));
        match hit {
            Some(e) => Check {
                action: e.action,
                rule: e.rule,
            },
            None if self.isolated => Check {
                action: Action::Deny,
                rule: self.default_rule,
            },
            None => Check {
                action: Action::Allow,
                rule: NO_RULE,
            },
        }
    }
}

/// What the node does with the first packet of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The source endpoint's egress check, if the source is local.
    pub egress: Option<(Check, Mode)>,
    /// The destination endpoint's ingress check, if the destination is local.
    pub ingress: Option<(Check, Mode)>,
}

/// The outcome a flow is reported with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Allowed,
    /// Denied by a check whose endpoint is in monitor mode: passed, but reported.
    WouldDeny,
    Denied,
}

impl Decision {
    /// Dropped if an enforcing check denies; reported as would-deny if only monitoring
    /// checks deny; learning checks never deny.
    pub fn outcome(&self) -> Outcome {
        let mut out = Outcome::Allowed;
        for (check, mode) in [self.egress, self.ingress].into_iter().flatten() {
            if check.action == Action::Deny {
                let o = match mode {
                    Mode::Enforce => Outcome::Denied,
                    Mode::Monitor => Outcome::WouldDeny,
                    Mode::Learn => Outcome::Allowed,
                };
                out = out.max(o);
            }
        }
        out
    }
}

impl Program {
    pub fn identity_of(&self, ip: Ipv4Addr) -> IdentityId {
        // The ipcache is sorted longest prefix first, so the first hit is the longest match.
        self.ipcache
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|(_, id)| *id)
            .unwrap_or(ANY_IDENTITY)
    }

    pub fn endpoint_by_ip(&self, ip: Ipv4Addr) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.ips.contains(&ip))
    }

    pub fn endpoint(&self, id: &WorkloadId) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| &e.workload == id)
    }

    /// The reference semantics of a new connection from `src` to `dst:port`.
    /// Traffic between two addresses of one endpoint never leaves it, so is not checked.
    pub fn check(&self, src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, port: u16) -> Decision {
        let s = self.endpoint_by_ip(src);
        let d = self.endpoint_by_ip(dst);
        if let (Some(s), Some(d)) = (s, d)
            && s.index == d.index
        {
            return Decision {
                egress: None,
                ingress: None,
            };
        }
        let egress = s.map(|e| {
            (
                e.egress.lookup(self.identity_of(dst), protocol, port),
                e.mode,
            )
        });
        let ingress = d.map(|e| {
            (
                e.ingress.lookup(self.identity_of(src), protocol, port),
                e.mode,
            )
        });
        Decision { egress, ingress }
    }

    pub fn rule(&self, id: RuleId) -> Option<&Reason> {
        self.rules.get(id as usize)
    }

    /// Number of policy entries (peer and wildcard port entries over all endpoints):
    /// the size of the map a backend must hold.
    pub fn entry_count(&self) -> usize {
        self.endpoints
            .iter()
            .flat_map(|e| [&e.ingress, &e.egress])
            .map(|d| d.any.entries.len() + d.peers.values().map(|t| t.entries.len()).sum::<usize>())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(protocol: u8, first: u16, last: u16, action: Action, rule: RuleId) -> PortEntry {
        PortEntry {
            protocol,
            first,
            last,
            action,
            rule,
        }
    }

    #[test]
    fn port_table_lookup_finds_the_covering_range() {
        let t = PortTable {
            entries: vec![
                entry(6, 80, 80, Action::Allow, 1),
                entry(6, 1000, 2000, Action::Deny, 2),
                entry(17, 53, 53, Action::Allow, 3),
            ],
        };
        assert_eq!(t.lookup(6, 80).map(|e| e.rule), Some(1));
        assert_eq!(t.lookup(6, 81), None);
        assert_eq!(t.lookup(6, 1500).map(|e| e.rule), Some(2));
        assert_eq!(t.lookup(6, 2000).map(|e| e.rule), Some(2));
        assert_eq!(t.lookup(6, 2001), None);
        assert_eq!(t.lookup(17, 53).map(|e| e.rule), Some(3));
        assert_eq!(t.lookup(17, 80), None);
        assert_eq!(t.lookup(132, 80), None);
    }

    #[test]
    fn peer_entries_win_over_any_and_default_applies_last() {
        let mut d = DirectionProgram {
            isolated: true,
            default_rule: 9,
            ..Default::default()
        };
        d.any.entries.push(entry(6, 80, 80, Action::Allow, 1));
        d.peers.insert(
            5,
            PortTable {
                entries: vec![entry(6, 80, 80, Action::Deny, 2)],
            },
        );
        assert_eq!(
            d.lookup(5, 6, 80),
            Check {
                action: Action::Deny,
                rule: 2
            }
        );
        assert_eq!(
            d.lookup(4, 6, 80),
            Check {
                action: Action::Allow,
                rule: 1
            }
        );
        assert_eq!(
            d.lookup(4, 6, 81),
            Check {
                action: Action::Deny,
                rule: 9
            }
        );
        d.isolated = false;
        assert_eq!(
            d.lookup(4, 6, 81),
            Check {
                action: Action::Allow,
                rule: NO_RULE
            }
        );
    }

    #[test]
    fn outcome_combines_modes() {
        let deny = Check {
            action: Action::Deny,
            rule: 1,
        };
        let allow = Check {
            action: Action::Allow,
            rule: 0,
        };
        let d = |e, i| Decision {
            egress: e,
            ingress: i,
        };
        assert_eq!(
            d(Some((deny, Mode::Monitor)), Some((allow, Mode::Enforce))).outcome(),
            Outcome::WouldDeny
        );
        assert_eq!(
            d(Some((deny, Mode::Monitor)), Some((deny, Mode::Enforce))).outcome(),
            Outcome::Denied
        );
        assert_eq!(
            d(Some((deny, Mode::Learn)), None).outcome(),
            Outcome::Allowed
        );
        assert_eq!(d(None, None).outcome(), Outcome::Allowed);
    }
}
