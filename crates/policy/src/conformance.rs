//! The conformance case format (`tests/conformance/README.md` is the user's guide).
//!
//! A case is a list of steps run against one lab; each step gives the complete set of
//! policy documents in force, optional label replacements, and the expected verdict of
//! every ordered pair of workloads per port/protocol, as a truth table. The same files are
//! run through the reference evaluator (in milliseconds) and, by privileged tests, through
//! `enforce` + `lab probe` on both kernel backends, so everything a step needs is in it.

mod read;
mod table;

use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::ir::Policy;
use crate::lab::LabFile;
use crate::model::{Labels, NAMESPACE_NAME_LABEL, Protocol, WorkloadId};
use crate::yaml;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

pub use table::{Row, Table};

#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub description: String,
    /// The upstream Kubernetes e2e test this case mirrors, if any.
    pub upstream: Option<String>,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub name: String,
    /// The policy documents in force during this step (multi-document YAML, possibly
    /// empty): write them to a file and pass it to `enforce --policy`.
    pub policies: String,
    /// Where `policies` starts in the case file, to report its errors there.
    pub policies_loc: Location,
    /// Replacement labels for this step only (relative to the lab file, not cumulative).
    pub workload_labels: BTreeMap<WorkloadId, Labels>,
    pub namespace_labels: BTreeMap<String, Labels>,
    pub tables: Vec<Table>,
    pub flows: Vec<Expected>,
}

/// One end of an expected flow.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Workload(WorkloadId),
    /// An address that is not necessarily a workload's (the lab's host address, the world).
    Address(Ipv4Addr),
}

/// One expected verdict, in the shape `lab probe` and `policy eval` print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub from: Endpoint,
    pub to: Endpoint,
    pub port: u16,
    pub protocol: Protocol,
    pub allowed: bool,
    /// Where the expectation is written (a table cell or a `flows` item).
    pub loc: Location,
}

impl Case {
    pub fn parse(file: &str, text: &str) -> Result<Case, Diagnostics> {
        let docs = yaml::load_documents(file, text).map_err(Diagnostics::from)?;
        let [doc] = docs.as_slice() else {
            let loc = Location {
                file: file.to_string(),
                line: 1,
                col: 1,
            };
            return Err(Diagnostic::new(loc, "a case file holds exactly one YAML document").into());
        };
        let mut diags = Diagnostics::default();
        let case = read::read_case(doc, &mut diags);
        match case {
            Some(c) => diags.into_result(c),
            None => Err(diags),
        }
    }

    /// Checks the case against its lab: every id exists, and every step's tables cover
    /// each port/protocol the lab listens on exactly once, with all workloads as rows and columns.
    pub fn check(&self, lab: &LabFile) -> Result<(), Diagnostics> {
        let mut diags = Diagnostics::default();
        let ids: BTreeSet<&WorkloadId> = lab.workloads.iter().map(|w| &w.id).collect();
        let listened: BTreeSet<(u16, Protocol)> = lab
            .workloads
            .iter()
            .flat_map(|w| w.ports.iter().map(|p| (p.port, p.protocol)))
            .collect();
        for step in &self.steps {
            let mut covered = BTreeMap::new();
            for t in &step.tables {
                t.check(&ids, &mut diags);
                for target in &t.targets {
                    if covered.insert(*target, ()).is_some() || !listened.contains(target) {
                        let msg = format!(
                            "step `{}`: {}/{} is not a port the lab listens on, or has two tables",
                            step.name, target.0, target.1
                        );
                        diags.push(Diagnostic::new(t.loc.clone(), msg));
                    }
                }
            }
            for missing in listened.iter().filter(|t| !covered.contains_key(t)) {
                let msg = format!(
                    "step `{}`: no table for {}/{}",
                    step.name, missing.0, missing.1
                );
                diags.push(Diagnostic::new(step.policies_loc.clone(), msg));
            }
            for id in step.workload_labels.keys().filter(|id| !ids.contains(id)) {
                let msg = format!("step `{}`: labels for unknown workload `{id}`", step.name);
                diags.push(Diagnostic::new(step.policies_loc.clone(), msg));
            }
            for ns in step
                .namespace_labels
                .keys()
                .filter(|ns| !lab.namespaces.contains_key(*ns))
            {
                let msg = format!("step `{}`: labels for unknown namespace `{ns}`", step.name);
                diags.push(Diagnostic::new(step.policies_loc.clone(), msg));
            }
        }
        diags.into_result(())
    }
}

impl Step {
    /// The lab as this step sees it: `lab` with the step's labels put in place.
    pub fn apply(&self, lab: &LabFile) -> LabFile {
        let mut out = lab.clone();
        for w in &mut out.workloads {
            if let Some(l) = self.workload_labels.get(&w.id) {
                w.labels = l.clone();
            }
        }
        for (ns, labels) in &mut out.namespaces {
            if let Some(l) = self.namespace_labels.get(ns) {
                *labels = l.clone();
                labels.insert(NAMESPACE_NAME_LABEL.to_string(), ns.clone());
            }
        }
        out
    }

    /// The step's policies, with every location pointing into the case file.
    pub fn parse_policies(&self) -> Result<Vec<Policy>, Diagnostics> {
        let (dl, dc) = (self.policies_loc.line - 1, self.policies_loc.col - 1);
        let shift = |mut l: Location| {
            l.file.clone_from(&self.policies_loc.file);
            l.line += dl;
            l.col += dc;
            l
        };
        crate::parse_documents(&self.policies_loc.file, &self.policies)
            .map(|ps| {
                ps.into_iter()
                    .map(|mut p| {
                        p.source = shift(p.source);
                        for r in p.ingress.iter_mut().chain(p.egress.iter_mut()).flatten() {
                            r.source = shift(r.source.clone());
                        }
                        p
                    })
                    .collect()
            })
            .map_err(|d| {
                Diagnostics(
                    d.0.into_iter()
                        .map(|d| Diagnostic::new(shift(d.location), d.message))
                        .collect(),
                )
            })
    }

    /// Every expected verdict of the step: each table cell off the diagonal whose
    /// destination listens on the cell's port, then the `flows`.
    pub fn expected(&self, lab: &LabFile) -> Vec<Expected> {
        let listens = |id: &WorkloadId, target: (u16, Protocol)| {
            lab.workload(id)
                .is_some_and(|w| w.ports.iter().any(|p| (p.port, p.protocol) == target))
        };
        let mut out: Vec<Expected> = self
            .tables
            .iter()
            .flat_map(|t| t.cells())
            .filter(|e| match (&e.from, &e.to) {
                (Endpoint::Workload(f), Endpoint::Workload(t)) => {
                    f != t && listens(t, (e.port, e.protocol))
                }
                _ => true,
            })
            .collect();
        out.extend(self.flows.iter().cloned());
        out
    }
}
