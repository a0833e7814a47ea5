//! Time on the wire: RFC 3339 in UTC (`2025-01-31T12:00:00.000Z`), milliseconds inside.
//!
//! The server stores and compares integers (cheap, exact, index-friendly); only the JSON
//! boundary sees text. Query parameters may also be relative (`5m`, `1h30m`), so a CLI
//! on another host never has to trust its own clock.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time: milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Timestamp {
        Timestamp::from(SystemTime::now())
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// This time minus `d`, saturating at the epoch.
    pub fn minus(self, d: Duration) -> Timestamp {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(ms).max(0))
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        let ms = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(_) => 0,
        };
        Timestamp(ms)
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> Self {
        UNIX_EPOCH + Duration::from_millis(u64::try_from(t.0).unwrap_or(0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            humantime::format_rfc3339_millis(SystemTime::from(*self))
        )
    }
}

impl FromStr for Timestamp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_rfc3339_weak(s)
            .map(Timestamp::from)
            .map_err(|e| format!("`{s}` is not an RFC 3339 UTC time ({e})"))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Parsed::<Timestamp>(std::marker::PhantomData))
    }
}

/// Deserializes a `FromStr` value from a string without copying the string first (a
/// flow batch holds two times per record: an allocation each adds up).
pub(crate) struct Parsed<T>(pub(crate) std::marker::PhantomData<T>);

impl<T: FromStr<Err = String>> serde::de::Visitor<'_> for Parsed<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

/// A query bound: an absolute time, or a duration back from the server's now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeBound {
    At(Timestamp),
    Ago(Duration),
}

impl TimeBound {
    /// The absolute time this bound names, given the server's `now`.
    pub fn resolve(self, now: Timestamp) -> Timestamp {
        match self {
            TimeBound::At(t) => t,
            TimeBound::Ago(d) => now.minus(d),
        }
    }
}

impl fmt::Display for TimeBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeBound::At(t) => t.fmt(f),
            TimeBound::Ago(d) => write!(f, "{}", humantime::format_duration(*d)),
        }
    }
}

impl FromStr for TimeBound {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(d) = humantime::parse_duration(s) {
            return Ok(TimeBound::Ago(d));
        }
        s.parse::<Timestamp>().map(TimeBound::At).map_err(|_| {
            format!("`{s}` is neither a duration (`15m`, `2h`) nor an RFC 3339 UTC time")
        })
    }
}

impl Serialize for TimeBound {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeBound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_as_rfc3339() {
        let t = Timestamp(1_700_000_000_123);
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(text, "\"2023-11-14T22:13:20.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&text).unwrap(), t);
        assert!("yesterday".parse::<Timestamp>().is_err());
    }

    #[test]
    fn bounds_are_durations_or_times() {
        let now = Timestamp(10_000_000);
        assert_eq!(
            "5m".parse::<TimeBound>().unwrap().resolve(now),
            Timestamp(9_700_000)
        );
        let at: TimeBound = "2023-11-14T22:13:20Z".parse().unwrap();
        assert_eq!(at.resolve(now), Timestamp(1_700_000_000_000));
        assert!("soon".parse::<TimeBound>().is_err());
    }
}
