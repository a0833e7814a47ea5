//! Decisions and their `ct mark` codes.
//!
//! The check maps are data maps (`... : mark`), not verdict maps: a hit writes a
//! decision code into the ct mark, and one small verdict map (`ct mark vmap @verdicts`)
//! turns codes into `return` or `goto deny_<rule>`. Why not verdicts in the big maps?
//! The kernel re-validates every jump and goto reachable from the base chains whenever
//! a transaction adds one (loop detection walks every element of every verdict map), so
//! with 100,000 goto elements a one-element update would cost a walk of all of them.
//! With codes, that walk covers only the verdict map: a few elements per deny rule.
//!
//! Codes have bit 31 set; identities (also held in the ct mark, as lookup keys) never
//! do, so a code can neither be mistaken for an identity nor match a key holding one.

use super::ir::{ChainName, Verdict};
use crate::program::RuleId;
use bulkhead_policy::{Action, Mode};

/// Set in every decision code, never in an identity.
pub const DECIDED: u32 = 1 << 31;
/// The largest rule id a code can carry (bit 0 is the monitor flag, bit 31 [`DECIDED`]).
pub const MAX_RULE: RuleId = (1 << 30) - 1;

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
            Decision::Allow => DECIDED,
            Decision::Deny(r) => DECIDED | (r << 1),
            Decision::Monitor(r) => DECIDED | (r << 1) | 1,
        }
    }

    /// The decision a code stands for; `None` for an identity (bit 31 clear).
    pub fn from_code(code: u32) -> Option<Decision> {
        if code & DECIDED == 0 {
            return None;
        }
        let rule = (code & !DECIDED) >> 1;
        Some(match (rule, code & 1) {
            (0, 0) => Decision::Allow,
            (r, 0) => Decision::Deny(r),
            (r, _) => Decision::Monitor(r),
        })
    }

    /// The verdict the verdict map holds for this decision.
    pub fn verdict(self) -> Verdict {
        match self {
            Decision::Allow => Verdict::Return,
            Decision::Deny(r) => Verdict::Goto(ChainName::Deny(r)),
            Decision::Monitor(r) => Verdict::Goto(ChainName::Monitor(r)),
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
        }
        assert_eq!(Decision::from_code(5), None);
        assert_eq!(Decision::of(Action::Deny, 3, Mode::Learn), Decision::Allow);
        assert_eq!(
            Decision::of(Action::Allow, 3, Mode::Enforce),
            Decision::Allow
        );
    }
}
