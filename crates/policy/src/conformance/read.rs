//! Reading a case file (see `tests/conformance/README.md`).

use super::{Case, Step, Table, table};
use crate::diag::Diagnostics;
use crate::model::WorkloadId;
use crate::read::{self, error, report};
use crate::yaml::{self, Node};
use std::collections::BTreeMap;

pub(super) fn read_case(doc: &Node, diags: &mut Diagnostics) -> Option<Case> {
    let m = report(
        diags,
        doc.map("case", &["description", "upstream", "steps"]),
    )?;
    let description = report(
        diags,
        m.require("description", "case")
            .and_then(|d| d.string("description")),
    );
    let upstream = m
        .get_some("upstream")
        .and_then(|u| report(diags, u.string("upstream")));
    let steps_node = report(diags, m.require("steps", "case"))?;
    let mut steps = Vec::new();
    for (i, s) in report(diags, steps_node.seq("steps"))?.iter().enumerate() {
        if let Some(step) = read_step(s, i, diags) {
            steps.push(step);
        }
    }
    if steps.is_empty() {
        diags.push(error(steps_node, "steps: a case needs at least one step"));
    }
    Some(Case {
        description: description?,
        upstream,
        steps,
    })
}

fn read_step(node: &Node, i: usize, diags: &mut Diagnostics) -> Option<Step> {
    let path = format!("steps[{i}]");
    let m = report(
        diags,
        node.map(&path, &["name", "policies", "labels", "expect", "flows"]),
    )?;
    let name = match m.get_some("name") {
        Some(n) => report(diags, n.string(&format!("{path}.name")))?,
        None => format!("{}", i + 1),
    };
    let (policies, policies_loc) = match m.get_some("policies") {
        Some(p) => (
            report(diags, p.string(&format!("{path}.policies")))?,
            p.loc.clone(),
        ),
        None => (String::new(), node.loc.clone()),
    };
    let (mut workload_labels, mut namespace_labels) = (BTreeMap::new(), BTreeMap::new());
    if let Some(l) = m.get_some("labels") {
        let lm = report(
            diags,
            l.map(&format!("{path}.labels"), &["workloads", "namespaces"]),
        )?;
        for (key, target) in [("workloads", true), ("namespaces", false)] {
            let Some(entries) = lm.get_some(key).map(|n| &n.value) else {
                continue;
            };
            let yaml::Value::Map(entries) = entries else {
                diags.push(error(l, format!("{path}.labels.{key}: expected a map")));
                continue;
            };
            for (k, v) in entries {
                let id = report(diags, k.string(&format!("{path}.labels.{key}")))?;
                let labels = read::labels(v, &format!("{path}.labels.{key}.{id}"), diags)?;
                if target {
                    let id = id
                        .parse::<WorkloadId>()
                        .map_err(|e| diags.push(error(k, e)))
                        .ok()?;
                    workload_labels.insert(id, labels);
                } else {
                    namespace_labels.insert(id, labels);
                }
            }
        }
    }
    let mut tables = Vec::new();
    let expect = report(diags, m.require("expect", &path))?;
    for (j, t) in report(diags, expect.seq(&format!("{path}.expect")))?
        .iter()
        .enumerate()
    {
        tables.extend(Table::read(t, &format!("{path}.expect[{j}]"), diags));
    }
    let mut flows = Vec::new();
    if let Some(f) = m.get_some("flows") {
        for (j, item) in report(diags, f.seq(&format!("{path}.flows")))?
            .iter()
            .enumerate()
        {
            flows.extend(table::flow(item, &format!("{path}.flows[{j}]"), diags));
        }
    }
    Some(Step {
        name,
        policies,
        policies_loc,
        workload_labels,
        namespace_labels,
        tables,
        flows,
    })
}
