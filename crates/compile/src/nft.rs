//! [`Program`](crate::Program) → an nftables ruleset: a small, pure IR that the
//! `bulkhead-nft` crate encodes as netlink messages, and [`render`] prints in `nft -f`
//! syntax (for humans, `--dry-run` and golden files).
//!
//! # The ruleset
//!
//! One table, `inet bulkhead`, owned by Bulkhead alone. Three base chains (`forward`,
//! `input`, `output`, priority `filter - 10` so that other filter chains, Docker's for
//! example, still see what we accept) all hold the same three rules:
//!
//! ```text
//! ct state established,related accept     # replies and the rest of allowed connections
//! ip saddr vmap @egress_ep                # → jump eg_<i>: the source endpoint's egress check
//! ip daddr vmap @ingress_ep               # → jump in_<i>: the destination's ingress check
//! ```
//!
//! A packet that returns from both checks is accepted by the chain policy. `input` and
//! `output` exist so that traffic between the node itself (the `host` entity) and its
//! workloads is checked too.
//!
//! Each endpoint direction (egress of endpoint `i`: chain `eg_<i>`; ingress: `in_<i>`)
//! follows [`DirectionProgram::lookup`](crate::program::DirectionProgram::lookup) step
//! by step, each step a lookup in a map of its own that exists only if it has elements:
//!
//! ```text
//! ip daddr . meta l4proto . th dport vmap @eg_<i>_peers   # peers[identity]: addr ranges × proto × ports
//! meta l4proto != { tcp, udp, sctp } ip daddr vmap @eg_<i>_other   # their protocol-0 entries
//! meta l4proto . th dport vmap @eg_<i>_any                # `any`: proto × ports
//! meta l4proto != { tcp, udp, sctp } <verdict>            # `any`'s protocol-0 entry
//! goto deny_<default rule>                                 # isolated: the default deny
//! ```
//!
//! (ingress reads `ip saddr`.) Protocol 0 stands for every protocol other than TCP, UDP
//! and SCTP, as in the compiled [`Program`](crate::Program).
//!
//! Why not one map per direction with `any` spread over the gaps between the peers'
//! addresses (the first design)? Because `any` then costs one element per gap and per
//! entry: with the synthetic 10,000-workload policy that is ~660,000 elements instead of
//! ~240,000, and apply time grows with elements. A second, address-free lookup is cheap.
//! Only entries that decide differently from what the next step would say are written
//! (the compiler's `peers` tables repeat `any`'s entries; allows in a direction that
//! allows by default are dropped), and adjacent address ranges with equal tables merge.
//! The kernel's `pipapo` sets reject overlapping elements, so every map's elements are
//! disjoint by construction.
//!
//! Per packet, a new connection costs one hash lookup (dispatch) plus lookups in that
//! endpoint's own small maps; it does not grow with other endpoints' rules, and
//! established traffic stops at the first rule.
//!
//! Verdicts: allow → `return`; deny → `goto deny_<rule>` (NFLOG, then drop); in monitor
//! mode → `goto monitor_<rule>` (NFLOG as would-deny, then `return`); in learn mode
//! nothing is denied. A miss falls to the end of the endpoint chain: an isolated
//! direction then goes to its default rule's chain, any other returns. Log prefixes are
//! `bh:<generation>:<rule>:d` (dropped) and `bh:<generation>:<rule>:w` (would-deny), so a
//! flow reader can name the deciding rule of the program that was in force
//! ([`parse_log_prefix`]); see [`Stamps`] for which generation a prefix names.

mod build;
mod diff;
mod intervals;
mod render;

pub use build::{Stamps, build, rule_chain};
pub use diff::{Diff, diff};
pub use render::render;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The one table Bulkhead owns (family `inet`).
pub const TABLE: &str = "bulkhead";
/// The NFLOG group drops and would-denies are logged to.
pub const LOG_GROUP: u16 = 32;
/// Priority of the base chains: just before the standard filter priority (0).
pub const BASE_PRIORITY: i32 = -10;
/// The dispatch maps of the base chains.
pub const EGRESS_DISPATCH: &str = "egress_ep";
pub const INGRESS_DISPATCH: &str = "ingress_ep";

/// A complete ruleset for the Bulkhead table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    /// Stamped into log prefixes (and the table comment) to tell programs apart.
    pub generation: u32,
    /// Verdict maps by name.
    pub maps: BTreeMap<String, Map>,
    /// Chains by name.
    pub chains: BTreeMap<String, Chain>,
}

impl Ruleset {
    /// Number of map elements, over all maps.
    pub fn element_count(&self) -> usize {
        self.maps.values().map(|m| m.elements.len()).sum()
    }
}

/// A verdict map: every element maps a key to a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Map {
    pub key: MapKey,
    /// Sorted by key and pairwise disjoint.
    pub elements: Vec<Element>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapKey {
    /// `ipv4_addr`, exact match (hash).
    Addr,
    /// `ipv4_addr` with `flags interval` (rbtree).
    AddrInterval,
    /// `ipv4_addr . inet_proto . inet_service` with `flags interval` (pipapo).
    AddrProtoPort,
    /// `inet_proto . inet_service` with `flags interval` (pipapo).
    ProtoPort,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub key: ElementKey,
    pub verdict: Verdict,
}

/// Inclusive ranges; a single value has equal bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElementKey {
    Addr(Ipv4Addr),
    AddrRange(Ipv4Addr, Ipv4Addr),
    Concat {
        addrs: (Ipv4Addr, Ipv4Addr),
        protocol: u8,
        ports: (u16, u16),
    },
    ProtoPort {
        protocol: u8,
        ports: (u16, u16),
    },
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Accept,
    Drop,
    Return,
    Jump(String),
    Goto(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hook {
    Forward,
    Input,
    Output,
}

impl Hook {
    pub const ALL: [Hook; 3] = [Hook::Forward, Hook::Input, Hook::Output];

    pub fn name(self) -> &'static str {
        match self {
            Hook::Forward => "forward",
            Hook::Input => "input",
            Hook::Output => "output",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chain {
    /// `Some` for base chains (filter type, [`BASE_PRIORITY`], policy accept).
    pub hook: Option<Hook>,
    pub rules: Vec<Rule>,
}

/// Which address of the packet a rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrField {
    Saddr,
    Daddr,
}

impl AddrField {
    pub fn name(self) -> &'static str {
        match self {
            AddrField::Saddr => "saddr",
            AddrField::Daddr => "daddr",
        }
    }
}

/// The handful of rule shapes the ruleset is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// `ct state established,related accept`
    AcceptEstablished,
    /// `ip <field> vmap @map` (map keyed [`MapKey::Addr`]).
    AddrVmap { field: AddrField, map: String },
    /// `ip <field> . meta l4proto . th dport vmap @map` ([`MapKey::AddrProtoPort`]).
    PortVmap { field: AddrField, map: String },
    /// `meta l4proto != {tcp, udp, sctp}`, then `ip <field> vmap @map` ([`MapKey::AddrInterval`]).
    OtherVmap { field: AddrField, map: String },
    /// `meta l4proto . th dport vmap @map` ([`MapKey::ProtoPort`]).
    AnyPortVmap { map: String },
    /// `meta l4proto != {tcp, udp, sctp}`, then the verdict.
    OtherVerdict(Verdict),
    /// `log prefix "<prefix>" group <group>` then the verdict.
    Log {
        prefix: String,
        group: u16,
        verdict: Verdict,
    },
    /// A bare verdict.
    Verdict(Verdict),
}

/// What a drop/would-deny log prefix says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPrefix {
    pub generation: u32,
    pub rule: crate::RuleId,
    /// `false`: dropped; `true`: would have been dropped (monitor mode).
    pub would_deny: bool,
}

impl LogPrefix {
    pub fn format(&self) -> String {
        let kind = if self.would_deny { 'w' } else { 'd' };
        format!("bh:{}:{}:{kind}", self.generation, self.rule)
    }
}

/// Reads a prefix written by [`LogPrefix::format`] (NFLOG may hand it back with a
/// trailing NUL or space).
pub fn parse_log_prefix(s: &str) -> Option<LogPrefix> {
    let s = s.trim_end_matches(['\0', ' ']);
    let mut it = s.strip_prefix("bh:")?.split(':');
    let generation = it.next()?.parse().ok()?;
    let rule = it.next()?.parse().ok()?;
    let would_deny = match it.next()? {
        "d" => false,
        "w" => true,
        _ => return None,
    };
    it.next().is_none().then_some(LogPrefix {
        generation,
        rule,
        would_deny,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_prefixes_round_trip() {
        for would_deny in [false, true] {
            let p = LogPrefix {
                generation: 12,
                rule: 7,
                would_deny,
            };
            assert_eq!(parse_log_prefix(&p.format()), Some(p));
            assert_eq!(parse_log_prefix(&format!("{}\0", p.format())), Some(p));
        }
        assert_eq!(parse_log_prefix("bh:1:2:x"), None);
        assert_eq!(parse_log_prefix("bh:1:2:d:3"), None);
        assert_eq!(parse_log_prefix("other"), None);
    }
}
