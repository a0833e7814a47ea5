//! A lab back to YAML, so a runner that edits a lab in memory (a conformance step's
//! label changes) can hand `lab up`/`enforce` a file. Every string is double-quoted: a
//! label value such as `true` or `1` must come back as the same string.

use super::{DEFAULT_NODE, LabFile};
use crate::model::{Labels, NAMESPACE_NAME_LABEL};
use std::fmt::Write;

impl LabFile {
    /// The lab as a lab file; [`LabFile::parse`] reads it back to an equal lab
    /// (source locations aside).
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_yaml(&mut out);
        out
    }

    fn write_yaml(&self, out: &mut String) -> std::fmt::Result {
        writeln!(out, "name: {}", quote(&self.name))?;
        writeln!(out, "subnet: {}", self.subnet)?;
        let single_default = matches!(self.nodes.as_slice(), [n] if n.name == DEFAULT_NODE);
        if !single_default {
            writeln!(out, "nodes:")?;
            for n in &self.nodes {
                writeln!(out, "  - name: {}", quote(&n.name))?;
            }
        }
        writeln!(out, "namespaces:")?;
        for (ns, labels) in &self.namespaces {
            // The name label is implied (and always re-added on parse).
            let mut labels = labels.clone();
            labels.remove(NAMESPACE_NAME_LABEL);
            writeln!(out, "  {}: {{labels: {}}}", quote(ns), map(&labels))?;
        }
        writeln!(out, "workloads:")?;
        for w in &self.workloads {
            writeln!(out, "  - name: {}", quote(&w.id.name))?;
            writeln!(out, "    namespace: {}", quote(&w.id.namespace))?;
            writeln!(out, "    labels: {}", map(&w.labels))?;
            writeln!(out, "    ip: {}", w.ip)?;
            if !single_default {
                writeln!(out, "    node: {}", quote(&w.node))?;
            }
            writeln!(out, "    ports:")?;
            for p in &w.ports {
                let name = match &p.name {
                    Some(n) => format!("name: {}, ", quote(n)),
                    None => String::new(),
                };
                writeln!(
                    out,
                    "      - {{{name}port: {}, protocol: {}}}",
                    p.port, p.protocol
                )?;
            }
        }
        Ok(())
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn map(labels: &Labels) -> String {
    let items: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{}: {}", quote(k), quote(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}
