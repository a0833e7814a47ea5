//! Retention: per-minute buckets and their rollups older than `--retention` are deleted,
//! in whole UTC days (so the three levels always cover the same minutes), and only
//! minutes already folded into the edges' totals: pruning never changes a total.

use super::state::State;
use crate::error::ServerError;
use crate::graph::recent::MINUTE_MS;
use crate::store;
use bulkhead_api::Timestamp;
use std::time::Duration;

pub const MIN: Duration = Duration::from_secs(24 * 3600);
const DAY_MINUTES: i64 = 24 * 60;

/// The minute before which everything may go, given the clock and what is folded; None
/// when that is not past what is already pruned.
pub fn cutoff(
    retention: Option<Duration>,
    now: Timestamp,
    folded: i64,
    pruned: i64,
) -> Option<i64> {
    let keep = i64::try_from(retention?.as_secs() / 60).unwrap_or(i64::MAX);
    let now = now.millis().div_euclid(MINUTE_MS);
    let to = now.saturating_sub(keep).min(folded.saturating_add(1));
    let to = to.div_euclid(DAY_MINUTES) * DAY_MINUTES;
    (to > pruned).then_some(to)
}

/// Prunes what the retention allows now, in its own transaction (at start).
pub fn prune_now(state: &mut State, retention: Option<Duration>) -> Result<(), ServerError> {
    let Some(to) = cutoff(retention, Timestamp::now(), state.folded, state.pruned) else {
        return Ok(());
    };
    state.store.relaxed(|tx| store::prune(tx, to))?;
    pruned(state, to);
    Ok(())
}

/// After a commit that pruned up to `to`: memory forgets the same minutes.
pub fn pruned(state: &mut State, to: i64) {
    state.pruned = to;
    state.recent.forget_before(to);
    state.hours.forget_before(to.div_euclid(60));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_a_day_boundary_never_past_what_is_folded() {
        let day = DAY_MINUTES;
        let now = Timestamp((10 * day + 100) * MINUTE_MS);
        let two_days = Some(Duration::from_secs(2 * 86_400));
        assert_eq!(cutoff(two_days, now, 10 * day, i64::MIN), Some(8 * day));
        // Not past what is folded (an unfolded bucket is not in any total yet).
        assert_eq!(cutoff(two_days, now, 5 * day + 7, i64::MIN), Some(5 * day));
        // Nothing new to prune.
        assert_eq!(cutoff(two_days, now, 10 * day, 8 * day), None);
        assert_eq!(cutoff(None, now, 10 * day, i64::MIN), None);
    }
}
