//! [`Program`](crate::Program) → an nftables ruleset: a small, pure IR that the
//! `bulkhead-nft` crate encodes as netlink messages, and [`render`] prints in `nft -f`
//! syntax (for humans, `--dry-run` and golden files).
//!
//! # The ruleset
//!
//! One table, `inet bulkhead`, owned by Bulkhead alone, holding a fixed handful of
//! *global* maps: however many endpoints, rules and identities, the table has at most a
//! few dozen maps and a few chains, plus one small log chain per deny rule in use.
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
//! ct mark vmap @verdicts                     # a hit above decided: return or goto deny_<rule>
//! ct mark set ip saddr . meta l4proto . th dport map @eg_any_port   # `any`: no peer
//! ...                                        # (the same shapes without ct mark)
//! ct mark vmap @verdicts
//! ct mark set ip saddr map @eg_default       # an isolated direction's default deny
//! ct mark vmap @verdicts
//! ```
//!
//! Rules and maps exist only where elements do. Every map is a hash keyed by exact
//! values except `ipcache` (an rbtree): port ranges are cut into aligned power-of-two
//! blocks looked up with `th dport & mask` ([`ports`]), because ranges in concatenated
//! keys need `pipapo` sets, which load 500 times slower at 100,000 elements.
//!
//! The check maps hold *decision codes* (bit 31 set, [`decision`]), not verdicts; one
//! small verdict map turns a code into `return` or `goto deny_<rule>`. Jumps in big
//! verdict maps would make the kernel re-validate every one of them on each update.
//! Identities never have bit 31 set, so after a hit the mark no longer matches any
//! peer-level key, and a miss leaves the identity for the next level.
//!
//! Per packet, a new connection costs a constant number of hash lookups (at most one
//! per map of its direction), whatever the number of rules, endpoints or identities;
//! established traffic stops at the first rule.
//!
//! Verdicts: allow → `return`; deny → `goto deny_<rule>` (NFLOG group [`LOG_GROUP`],
//! then drop); in monitor mode → `goto monitor_<rule>` (NFLOG as would-deny, then
//! `return`); in learn mode nothing is denied. Log prefixes are
//! `bh:<generation>:<rule>:d` (dropped) and `bh:<generation>:<rule>:w` (would-deny),
//! `<rule>` being the program's [`RuleId`](crate::RuleId), so a flow reader can name the
//! deciding rule of the program that was in force ([`parse_log_prefix`]); see [`Stamps`]
//! for which generation a prefix names. (This format is unchanged from the first design.)
//!
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
pub mod ports;
mod render;

pub use build::{BuildError, Builder, build};
pub use diff::{Diff, diff};
pub use ir::*;
pub use layout::{Stamps, rule_chain};
pub use render::render;

/// The one table Bulkhead owns (family `inet`).
pub const TABLE: &str = "bulkhead";
/// The NFLOG group drops and would-denies are logged to.
pub const LOG_GROUP: u16 = 32;
/// Priority of the base chains: just before the standard filter priority (0).
pub const BASE_PRIORITY: i32 = -10;

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
