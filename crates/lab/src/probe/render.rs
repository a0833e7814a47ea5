//! The two output forms of probe results.
//!
//! The table is the truth-table format of the conformance cases (`tests/conformance`),
//! which `policy eval -o table` prints too: a probe's table can be compared with an
//! evaluation's, or pasted into a case file, as it is.

use super::ProbeResult;
use bulkhead_policy::Protocol;
use bulkhead_policy::lab::LabFile;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A JSON array, one object per line, in the given order, ending with a newline.
pub fn to_json(results: &[ProbeResult]) -> String {
    if results.is_empty() {
        return "[]\n".into();
    }
    let rows: Vec<String> = results
        .iter()
        // Serializing plain strings, numbers and bools cannot fail.
        .map(|r| serde_json::to_string(r).unwrap_or_default())
        .collect();
    format!("[\n{}\n]\n", rows.join(",\n"))
}

/// The verdicts of one port: (from, to) → allowed.
type Cells = BTreeMap<(String, String), bool>;

/// One table per port and protocol (`80/TCP`), each followed by a blank line. The first
/// line is the corner `-` and the destinations; each further line a source and its
/// cells: `.` allowed, `X` not, `-` not probed (a port the destination does not list).
/// A workload's own cell is `.` (it always reaches itself). Rows and columns are the
/// workloads that appear, in the lab file's order.
pub fn to_table(lab: &LabFile, results: &[ProbeResult]) -> String {
    let mut by_port: BTreeMap<(Protocol, u16), Cells> = BTreeMap::new();
    for r in results {
        by_port
            .entry((r.protocol, r.port))
            .or_default()
            .insert((r.from.to_string(), r.to.to_string()), r.allowed);
    }
    let ids: Vec<String> = lab.workloads.iter().map(|w| w.id.to_string()).collect();
    let width = ids.iter().map(String::len).max().unwrap_or(1) + 1;
    let mut out = String::new();
    for ((protocol, port), cells) in &by_port {
        let rows: Vec<&String> = ids
            .iter()
            .filter(|id| cells.keys().any(|(f, _)| f == *id))
            .collect();
        let cols: Vec<&String> = ids
            .iter()
            .filter(|id| cells.keys().any(|(_, t)| t == *id))
            .collect();
        let mut line = format!("{:<width$}", "-");
        for c in &cols {
            let _ = write!(line, "{c:<width$}");
        }
        let _ = writeln!(out, "{port}/{protocol}\n{}", line.trim_end());
        for r in &rows {
            let mut line = format!("{r:<width$}");
            for c in &cols {
                let cell = match cells.get(&((*r).clone(), (*c).clone())) {
                    Some(true) => ".",
                    Some(false) => "X",
                    None if r == c => ".",
                    None => "-",
                };
                let _ = write!(line, "{cell:<width$}");
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out.push('\n');
    }
    out
}
