//! Probe (and `policy eval`) JSON as a map that compares, diffs and indexes easily.

use serde_json::Value;
use std::collections::BTreeMap;

/// (from, to, protocol, port), e.g. `("x/a", "x/b", "TCP", 80)`.
pub type ProbeKey = (String, String, String, u16);

/// Every verdict of a probe: allowed or not.
pub type ProbeMap = BTreeMap<ProbeKey, bool>;

/// A key, for lookups: `key("x/a", "x/b", "TCP", 80)`.
pub fn key(from: &str, to: &str, protocol: &str, port: u16) -> ProbeKey {
    (from.into(), to.into(), protocol.into(), port)
}

/// Parses the JSON array `lab probe -o json` and `policy eval -o json` print. Panics on
/// anything else, on a missing field, or on a repeated row.
#[track_caller]
pub fn parse_probe(json: &str) -> ProbeMap {
    let rows: Vec<Value> =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("not a JSON array ({e}):\n{json}"));
    let mut out = ProbeMap::new();
    for row in rows {
        let text = |k: &str| {
            row.get(k)
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("row without string `{k}`: {row}"))
                .to_string()
        };
        let port = row
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or_else(|| panic!("row without a port: {row}"));
        let allowed = row
            .get("allowed")
            .and_then(Value::as_bool)
            .unwrap_or_else(|| panic!("row without `allowed`: {row}"));
        let k = (text("from"), text("to"), text("protocol"), port);
        assert!(out.insert(k, allowed).is_none(), "repeated row: {row}");
    }
    out
}

/// Whether every verdict is `allowed` (and there is at least one).
pub fn all_allowed(map: &ProbeMap) -> bool {
    !map.is_empty() && map.values().all(|a| *a)
}

/// The rows that differ between two maps, one per line, for assertion messages.
pub fn diff(got: &ProbeMap, want: &ProbeMap) -> String {
    let mut out = String::new();
    for (k, w) in want {
        match got.get(k) {
            Some(g) if g == w => {}
            Some(g) => out.push_str(&format!("{k:?}: got {g}, want {w}\n")),
            None => out.push_str(&format!("{k:?}: missing, want {w}\n")),
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        out.push_str(&format!("{k:?}: unexpected\n"));
    }
    out
}
