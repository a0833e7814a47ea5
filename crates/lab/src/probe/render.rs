//! The two output forms of probe results (and of `policy eval`, which prints the same
//! [`ProbeResult`]s through these same functions so the two outputs match to the byte).

use super::ProbeResult;
use bulkhead_policy::{Protocol, WorkloadId};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// A JSON array, one object per result, in the given order, ending with a newline.
pub fn to_json(results: &[ProbeResult]) -> String {
    let mut out = String::from("[");
    for (i, r) in results.iter().enumerate() {
        out.push_str(if i == 0 { "\n  " } else { ",\n  " });
        // Serializing plain strings, numbers and bools cannot fail.
        out.push_str(&serde_json::to_string(r).unwrap_or_default());
    }
    out.push_str(if results.is_empty() { "]\n" } else { "\n]\n" });
    out
}

/// The verdicts of one port: (from, to) → allowed.
type Cells<'a> = BTreeMap<(&'a WorkloadId, &'a WorkloadId), bool>;

/// One matrix per protocol and port: rows are sources, columns destinations; `yes`
/// allowed, `no` not, `-` not probed (itself, or a port the destination does not list).
pub fn to_table(results: &[ProbeResult]) -> String {
    let mut groups: BTreeMap<(Protocol, u16), Cells> = BTreeMap::new();
    for r in results {
        groups
            .entry((r.protocol, r.port))
            .or_default()
            .insert((&r.from, &r.to), r.allowed);
    }
    let mut out = String::new();
    if groups.is_empty() {
        out.push_str("nothing to probe: no destination lists a matching port\n");
    }
    for ((proto, port), cells) in &groups {
        let froms: BTreeSet<&WorkloadId> = cells.keys().map(|(f, _)| *f).collect();
        let tos: BTreeSet<&WorkloadId> = cells.keys().map(|(_, t)| *t).collect();
        let corner = format!("{proto}/{port}");
        let first = froms
            .iter()
            .map(|f| f.to_string().len())
            .chain([corner.len()])
            .max()
            .unwrap_or(0);
        let widths: Vec<usize> = tos.iter().map(|t| t.to_string().len().max(3)).collect();
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = write!(out, "{corner:<first$}");
        for (t, w) in tos.iter().zip(&widths) {
            let _ = write!(out, "  {:<w$}", t.to_string());
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        for f in &froms {
            let _ = write!(out, "{:<first$}", f.to_string());
            for (t, w) in tos.iter().zip(&widths) {
                let cell = match cells.get(&(*f, *t)) {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                };
                let _ = write!(out, "  {cell:<w$}");
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
        }
    }
    out
}
