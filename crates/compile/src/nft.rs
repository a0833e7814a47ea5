//! [`Program`](crate::Program) → an nftables ruleset: a small, pure IR that the
//! `bulkhead-nft` crate encodes as netlink messages, and [`render`] prints in `nft -f`
//! syntax (for humans, `--dry-run` and golden files).
//!
//! # The ruleset
//!
//! One table, `inet bulkhead`, owned by Bulkhead alone, holding a fixed handful of
//! *global* maps: however many endpoints, rules and identities, the table has at most a
//! few dozen maps and a few chains, plus two small log chains.
//! (The first design had a chain and maps per endpoint: 10,000 endpoints meant 40,000
//! objects, and applying them did not scale.) Three base chains (`forward`, `input`,
//! `output`, priority `filter - 10`, policy accept) hold:
//!
//! ```text
//! ct state established,related accept                  # replies, allowed connections
//! ct state invalid,untracked ip saddr @enforced drop     # checks need a conntrack entry
//! ct state invalid,untracked ip daddr @enforced drop
//! meta nfproto ipv4 jump egress                          # the source's egress checks
//! meta nfproto ipv4 jump ingress                         # the destination's ingress checks
//! ct mark set 0x00000000                                 # leave the connection's mark clean
//! ```
//!
//! A direction's chain (egress shown; ingress swaps `saddr` and `daddr`) follows
//! [`DirectionProgram::lookup`](crate::program::DirectionProgram::lookup) level by level:
//!
//! ```text
//! ct mark set 0x00000000
//! ct mark set ip daddr map @ipcache          # peer identity: prefixes (interval map)...
//! ct mark set ip daddr map @ipcache_exact    # ...then /32s (hash), which win
//! ct mark set ip saddr . ct mark . meta l4proto . th dport map @eg_port
//! ct mark set ip saddr . ct mark . meta l4proto . (th dport & 0xfc00) map @eg_m6  # aligned blocks
//! ct mark set ip saddr . ct mark . meta l4proto map @eg_proto                   # every port
//! meta l4proto != { tcp, udp, sctp } ct mark set ip saddr . ct mark map @eg_other
//! ct mark & 0x80000003 vmap @verdicts        # a hit above decided: return or goto deny
//! ct mark set ip saddr . meta l4proto . th dport map @eg_any_port   # `any`: no peer
//! ...                                        # (the same shapes without ct mark)
//! ct mark & 0x80000003 vmap @verdicts
//! ct mark set ip saddr map @eg_default       # an isolated direction's default deny
//! ct mark & 0x80000003 vmap @verdicts
//! ```
//!
//! Rules and maps exist only where elements do. Every map is a hash keyed by exact
//! values except `ipcache` (an rbtree): port ranges are cut into aligned power-of-two
//! blocks looked up with `th dport & mask` ([`ports`]), because ranges in concatenated
//! keys need `pipapo` sets, which load 500 times slower at 100,000 elements.
//!
//! The check maps hold *decision codes* (bit 31 set, the rule and the kind, [`decision`]),
//! not verdicts; one verdict map of at most three elements, keyed by a code's kind bits,
//! turns a code into `return`, `goto deny` or `goto monitored`. Jumps in big verdict maps
//! would make the kernel re-validate every one of them on each update. Identities never
//! have bit 31 set, so after a hit the mark no longer matches any peer-level key, and a
//! miss leaves the identity for the next level.
//!
//! Per packet, a new connection costs a constant number of hash lookups (at most one
//! per map of its direction), whatever the number of rules, endpoints or identities;
//! established traffic stops at the first rule.
//!
//! Verdicts: allow → `return`; deny → `goto deny` (NFLOG group [`LOG_GROUP`], then drop);
//! in monitor mode → `goto monitored` (NFLOG as would-deny, then `return`); in learn mode
//! nothing is denied. Log prefixes are `bh:<generation>:d` (dropped) and
//! `bh:<generation>:w` (would-deny); the rule is the one in the connection's ct mark when
//! the log chain runs, copied into the packet mark, which NFLOG sends with the packet
//! ([`LogMark`]; a would-deny packet with a mark of its own keeps it and is logged as
//! `bh:<generation>:u`, naming no rule), so two chains serve every rule ([`parse_log_prefix`], [`Stamps`] for which generation a prefix
//! names). The first versions had one log chain per rule: 20,000 chains (and as many
//! goto elements) at 10,000 isolated endpoints, most of a full apply's cost.

//! # Small updates
//!
//! A [`Builder`] lives as long as the table: it keeps identity numbers stable across
//! programs ([`ids`]), reuses each endpoint's elements when the endpoint's tables did not
//! change, and keeps map sizes, so that [`diff`] between two rulesets touches only the
//! endpoints whose rules changed.
//!
//! Optionally, [`guard`] drops traffic of addresses not known yet on ranges where all
//! addresses should be known (container bridges), so a container started before the
//! agent heard of it is not let through.

mod build;
pub mod decision;
mod diff;
mod endpoint;
pub mod guard;
pub mod ids;
mod intervals;
mod ir;
mod layout;
mod parts;
pub mod ports;
mod render;

pub use build::{BuildError, Builder, build};
pub use diff::{Diff, diff};
pub use ir::*;
pub use layout::Stamps;
pub use render::render;

/// The one table Bulkhead owns (family `inet`).
pub const TABLE: &str = "bulkhead";
/// The NFLOG group drops and would-denies are logged to.
pub const LOG_GROUP: u16 = 32;
/// Priority of the base chains: just before the standard filter priority (0).
pub const BASE_PRIORITY: i32 = -10;

/// What a drop/would-deny log prefix says. The rule is not in it: the log chains are
/// shared by every rule, and the deciding rule's code is in the packet mark NFLOG sends
/// along, copied there from the connection's mark ([`decision`], [`LogMark`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPrefix {
    /// The generation whose rule table the mark's rule id refers to ([`Stamps`]).
    pub generation: u32,
    /// `false`: dropped; `true`: would have been dropped (monitor mode).
    pub would_deny: bool,
    /// Whether the packet mark holds the decision code; `false` for a would-deny packet
    /// that carried a mark of its own (left alone, so no rule is named).
    pub attributed: bool,
}

impl LogPrefix {
    pub fn format(&self) -> String {
        let kind = match (self.would_deny, self.attributed) {
            (false, _) => 'd',
            (true, true) => 'w',
            (true, false) => 'u',
        };
        format!("bh:{}:{kind}", self.generation)
    }
}

/// Reads a prefix written by [`LogPrefix::format`] (NFLOG may hand it back with a
/// trailing NUL or space).
pub fn parse_log_prefix(s: &str) -> Option<LogPrefix> {
    let s = s.trim_end_matches(['\0', ' ']);
    let mut it = s.strip_prefix("bh:")?.split(':');
    let generation = it.next()?.parse().ok()?;
    let (would_deny, attributed) = match it.next()? {
        "d" => (false, true),
        "w" => (true, true),
        "u" => (true, false),
        _ => return None,
    };
    it.next().is_none().then_some(LogPrefix {
        generation,
        would_deny,
        attributed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_prefixes_round_trip() {
        for (would_deny, attributed) in [(false, true), (true, true), (true, false)] {
            let p = LogPrefix {
                generation: 12,
                would_deny,
                attributed,
            };
            assert_eq!(parse_log_prefix(&p.format()), Some(p));
            assert_eq!(parse_log_prefix(&format!("{}\0", p.format())), Some(p));
        }
        assert_eq!(parse_log_prefix("bh:1:x"), None);
        assert_eq!(parse_log_prefix("bh:1:d:3"), None);
        // The per-rule format of earlier versions is not ours any more.
        assert_eq!(parse_log_prefix("bh:1:2:d"), None);
        assert_eq!(parse_log_prefix("other"), None);
    }
}
