//! Truth tables, as the upstream netpol e2e suite prints them: rows are sources, columns
//! destinations, `.` allowed and `X` denied.
//!
//! ```text
//! -   x/a x/b x/c
//! x/a .   X   .
//! x/b .   .   .
//! x/c X   X   .
//! ```

use super::{Endpoint, Expected};
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::model::{Protocol, WorkloadId};
use crate::read::{error, report};
use crate::yaml::Node;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// The (port, protocol) pairs this table holds for.
    pub targets: Vec<(u16, Protocol)>,
    /// Destinations, in column order.
    pub columns: Vec<WorkloadId>,
    pub rows: Vec<Row>,
    pub loc: Location,
}

/// One source's verdicts, one per column (`true`: allowed), each with its place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub from: WorkloadId,
    pub cells: Vec<bool>,
    pub locs: Vec<Location>,
}

impl Table {
    /// Reads `{ports: [80/TCP, ...], table: |...}`.
    pub(super) fn read(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Table> {
        let m = report(diags, node.map(path, &["ports", "table"]))?;
        let ports = report(diags, m.require("ports", path))?;
        let mut targets = Vec::new();
        for (i, p) in report(diags, ports.seq(&format!("{path}.ports")))?
            .iter()
            .enumerate()
        {
            let text = report(diags, p.string(&format!("{path}.ports[{i}]")))?;
            match target(&text) {
                Some(t) => targets.push(t),
                None => {
                    let msg =
                        format!("{path}.ports[{i}]: `{text}` is not PORT/PROTOCOL (e.g. 80/TCP)");
                    diags.push(error(p, msg));
                    return None;
                }
            }
        }
        let table = report(diags, m.require("table", path))?;
        let text = report(diags, table.string(&format!("{path}.table")))?;
        Self::parse(&text, &table.loc, targets, diags)
    }

    /// Parses the table's text; `loc` is where its first line is (a `|` block scalar).
    fn parse(
        text: &str,
        loc: &Location,
        targets: Vec<(u16, Protocol)>,
        diags: &mut Diagnostics,
    ) -> Option<Table> {
        let at = |line: usize| Location {
            file: loc.file.clone(),
            line: loc.line + line,
            col: loc.col,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        let Some((_, header)) = lines.next() else {
            diags.push(Diagnostic::new(loc.clone(), "table: empty"));
            return None;
        };
        let columns = ids(header.split_whitespace().skip(1), &at(0), diags)?;
        let mut rows = Vec::new();
        for (n, line) in lines {
            let mut tokens = tokens(line);
            let row = ids(tokens.next().map(|t| t.1), &at(n), diags)?.remove(0);
            let (cols, cells): (Vec<usize>, Vec<&str>) = tokens.unzip();
            let verdicts: Option<Vec<bool>> = cells
                .iter()
                .map(|c| match *c {
                    "." => Some(true),
                    "X" => Some(false),
                    _ => None,
                })
                .collect();
            match verdicts {
                Some(v) if v.len() == columns.len() => {
                    let line = at(n);
                    let locs = cols
                        .iter()
                        .map(|c| Location {
                            col: line.col + c,
                            ..line.clone()
                        })
                        .collect();
                    rows.push(Row {
                        from: row,
                        cells: v,
                        locs,
                    });
                }
                _ => {
                    let msg = format!(
                        "table row `{row}`: expected {} cells, each `.` (allowed) or `X` (denied)",
                        columns.len()
                    );
                    diags.push(Diagnostic::new(at(n), msg));
                    return None;
                }
            }
        }
        Some(Table {
            targets,
            columns,
            rows,
            loc: loc.clone(),
        })
    }

    /// Rows and columns are each exactly `ids`, without repeats; the diagonal is `.`.
    pub(super) fn check(&self, ids: &BTreeSet<&WorkloadId>, diags: &mut Diagnostics) {
        let rows: Vec<&WorkloadId> = self.rows.iter().map(|r| &r.from).collect();
        for (what, list) in [
            ("columns", self.columns.iter().collect::<Vec<_>>()),
            ("rows", rows),
        ] {
            let set: BTreeSet<&WorkloadId> = list.iter().copied().collect();
            if set.len() != list.len() || &set != ids {
                let msg =
                    format!("table {what}: expected each of the lab's workloads exactly once");
                diags.push(Diagnostic::new(self.loc.clone(), msg));
            }
        }
        for row in &self.rows {
            let diag = self.columns.iter().position(|c| c == &row.from);
            if let Some(i) = diag.filter(|i| !row.cells[*i]) {
                let msg = format!(
                    "table row `{}`: a workload always reaches itself; write `.`",
                    row.from
                );
                diags.push(Diagnostic::new(row.locs[i].clone(), msg));
            }
        }
    }

    /// Every cell, once per target.
    pub fn cells(&self) -> impl Iterator<Item = Expected> + '_ {
        self.targets.iter().flat_map(move |&(port, protocol)| {
            self.rows.iter().flat_map(move |row| {
                let cells = self.columns.iter().zip(&row.cells).zip(&row.locs);
                cells.map(move |((to, allowed), loc)| Expected {
                    from: Endpoint::Workload(row.from.clone()),
                    to: Endpoint::Workload(to.clone()),
                    port,
                    protocol,
                    allowed: *allowed,
                    loc: loc.clone(),
                })
            })
        })
    }
}

/// Whitespace-separated tokens, each with its 0-based column (tables are ASCII).
fn tokens(line: &str) -> impl Iterator<Item = (usize, &str)> {
    let starts = line.char_indices().filter(|&(i, c)| {
        !c.is_whitespace() && (i == 0 || line[..i].ends_with(char::is_whitespace))
    });
    starts.map(move |(i, _)| {
        let len = line[i..]
            .find(char::is_whitespace)
            .unwrap_or(line.len() - i);
        (i, &line[i..i + len])
    })
}

fn target(text: &str) -> Option<(u16, Protocol)> {
    let (port, proto) = text.split_once('/')?;
    Some((port.parse().ok().filter(|p| *p > 0)?, proto.parse().ok()?))
}

fn ids<'a>(
    tokens: impl IntoIterator<Item = &'a str>,
    loc: &Location,
    diags: &mut Diagnostics,
) -> Option<Vec<WorkloadId>> {
    let mut out = Vec::new();
    for t in tokens {
        match t.parse::<WorkloadId>() {
            Ok(id) if t.contains('/') => out.push(id),
            _ => {
                let msg = format!("table: `{t}` is not a workload id (namespace/name)");
                diags.push(Diagnostic::new(loc.clone(), msg));
                return None;
            }
        }
    }
    if out.is_empty() {
        diags.push(Diagnostic::new(
            loc.clone(),
            "table: a line without workload ids",
        ));
        return None;
    }
    Some(out)
}

/// `{from: x/a | 10.0.0.1, to: ..., port: 80, protocol: TCP, allowed: true}`.
pub(super) fn flow(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Expected> {
    let m = report(
        diags,
        node.map(path, &["from", "to", "port", "protocol", "allowed"]),
    )?;
    let endpoint = |key: &str, diags: &mut Diagnostics| -> Option<Endpoint> {
        let n = report(diags, m.require(key, path))?;
        let text = report(diags, n.string(&format!("{path}.{key}")))?;
        if let Ok(ip) = text.parse::<Ipv4Addr>() {
            return Some(Endpoint::Address(ip));
        }
        match text.parse::<WorkloadId>() {
            Ok(id) if text.contains('/') => Some(Endpoint::Workload(id)),
            _ => {
                let msg =
                    format!("{path}.{key}: `{text}` is neither a workload id nor an IPv4 address");
                diags.push(error(n, msg));
                None
            }
        }
    };
    let from = endpoint("from", diags);
    let to = endpoint("to", diags);
    let port = report(diags, m.require("port", path))
        .and_then(|p| crate::read::port_number(p, &format!("{path}.port"), diags));
    let protocol = report(diags, m.require("protocol", path)).and_then(|p| {
        let text = report(diags, p.string(&format!("{path}.protocol")))?;
        text.parse::<Protocol>()
            .map_err(|e| diags.push(error(p, format!("{path}.protocol: {e}"))))
            .ok()
    });
    let allowed = report(diags, m.require("allowed", path))
        .and_then(|a| report(diags, a.boolean(&format!("{path}.allowed"))));
    Some(Expected {
        from: from?,
        to: to?,
        port: port?,
        protocol: protocol?,
        allowed: allowed?,
        loc: node.loc.clone(),
    })
}
