//! Decisions and their `ct mark` codes.
//!
//! The check maps are data maps (`... : mark`), not verdict maps: a hit writes a
//! decision code into the ct mark, and one tiny verdict map, looked up with the code's
//! kind bits only (`ct mark & 0x80000003 vmap @verdicts`), turns it into `return`,
//! `goto deny` or `goto monitored`. Why not verdicts in the big maps? The kernel
//! re-validates every jump and goto reachable from the base chains whenever a
//! transaction adds one (loop detection walks every element of every verdict map), so
//! with 100,000 goto elements a one-element update would cost a walk of all of them.
//!
//! Why one `deny` and one `monitored` chain rather than one per rule: the rule id stays in
//! the ct mark when the log chain runs, which copies it into the packet mark that NFLOG
//! hands to the flow reader (`NFULA_MARK`), so the chains need not tell rules apart. A log chain per
//! rule meant 20,000 chains and 20,000 goto elements at 10,000 isolated endpoints,
//! most of the cost of a full apply.
//!
//! Codes have bit 31 set; identities (also held in the ct mark, as lookup keys) never
//! do, so a code can neither be mistaken for an identity nor match a key holding one.
//! Bits 0-1 are the kind (1 allow, 2 deny, 3 monitor), bits 2-30 the rule.

use super::ir::{ChainName, Verdict};
use crate::program::RuleId;
use bulkhead_policy::{Action, Mode};

/// Set in every decision code, never in an identity.
pub const DECIDED: u32 = 1 << 31;
/// The largest rule id a code can carry (bits 0-1 are the kind, bit 31 [`DECIDED`]).
pub const MAX_RULE: RuleId = (1 << 29) - 1;
/// The bits of a code the verdict map reads: [`DECIDED`] and the kind.
pub const KIND_MASK: u32 = DECIDED | 3;

/// What one check decides for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Decision {
    /// Allowed by this check: `return`, the next check runs.
    Allow,
    /// Denied by `rule` in an enforcing endpoint: logged, dropped.
    Deny(RuleId),
    /// Denied by `rule` in a monitoring endpoint: logged as would-deny, then allowed.
    Monitor(RuleId),
}

impl Decision {
    /// What a table entry (or default) with `action` decides in an endpoint in `mode`:
    /// learning endpoints never deny.
    pub fn of(action: Action, rule: RuleId, mode: Mode) -> Decision {
        match (action, mode) {
            (Action::Deny, Mode::Enforce) => Decision::Deny(rule),
            (Action::Deny, Mode::Monitor) => Decision::Monitor(rule),
            _ => Decision::Allow,
        }
    }

    /// The ct mark code; `rule` must be at most [`MAX_RULE`] (the builder checks).
    pub fn code(self) -> u32 {
        match self {
            Decision::Allow => DECIDED | 1,
            Decision::Deny(r) => DECIDED | (r << 2) | 2,
            Decision::Monitor(r) => DECIDED | (r << 2) | 3,
        }
    }

    /// The decision a code stands for; `None` for an identity (bit 31 clear) or a value
    /// no decision has.
    pub fn from_code(code: u32) -> Option<Decision> {
        if code & DECIDED == 0 {
            return None;
        }
        let rule = (code & !DECIDED) >> 2;
        match (rule, code & 3) {
            (0, 1) => Some(Decision::Allow),
            (r, 2) => Some(Decision::Deny(r)),
            (r, 3) => Some(Decision::Monitor(r)),
            _ => None,
        }
    }

    /// The decision's code with the rule masked out: the verdict map's key.
    pub fn kind_code(self) -> u32 {
        self.code() & KIND_MASK
    }

    /// The verdict the verdict map holds for this decision's kind.
    pub fn verdict(self) -> Verdict {
        match self {
            Decision::Allow => Verdict::Return,
            Decision::Deny(_) => Verdict::Goto(ChainName::Deny),
            Decision::Monitor(_) => Verdict::Goto(ChainName::Monitor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_never_look_like_identities() {
        for d in [
            Decision::Allow,
            Decision::Deny(1),
            Decision::Monitor(1),
            Decision::Deny(MAX_RULE),
            Decision::Monitor(MAX_RULE),
        ] {
            assert_ne!(d.code() & DECIDED, 0);
            assert_eq!(Decision::from_code(d.code()), Some(d));
            // The verdict map tells the kinds apart by the masked code alone.
            assert_eq!(d.code() & KIND_MASK, d.kind_code());
        }
        let kinds = [Decision::Allow, Decision::Deny(7), Decision::Monitor(7)];
        for a in kinds {
            for b in kinds {
                assert_eq!(a.kind_code() == b.kind_code(), a.verdict() == b.verdict());
            }
        }
        assert_eq!(Decision::from_code(5), None);
        assert_eq!(Decision::from_code(DECIDED), None);
        assert_eq!(Decision::from_code(DECIDED | (4 << 2) | 1), None);
        assert_eq!(Decision::of(Action::Deny, 3, Mode::Learn), Decision::Allow);
        assert_eq!(
            Decision::of(Action::Allow, 3, Mode::Enforce),
            Decision::Allow
        );
    }
}
