//! An index over the inventory that answers "which workloads does this selector pick?"
//! in time proportional to the answer, not to the inventory.
//!
//! Policies over many workloads mostly select by one distinctive label (`app=w123`), so
//! each selector starts from the smallest posting list among its `matchLabels` pairs and
//! only then checks the whole selector. Namespaces are grouped by (name, labels): the
//! inventory carries namespace labels per workload, and grouping on both keeps the
//! answer exact even if two workloads disagree about their namespace's labels.

use super::hash::FastMap;
use bulkhead_policy::Workload;
use bulkhead_policy::ir::NamespaceMatch;
use bulkhead_policy::model::Labels;
use bulkhead_policy::selector::LabelSelector;

/// Workload positions refer to [`Selector::workloads`], which is sorted by workload id.
pub(crate) struct Selector<'a> {
    pub workloads: Vec<&'a Workload>,
    /// `position[i]`: where `inventory.workloads[i]` sits in [`Selector::workloads`].
    pub position: Vec<u32>,
    group_of: Vec<u32>,
    groups: Vec<Group<'a>>,
    /// (label key, label value) → workloads with that label, ascending.
    postings: FastMap<(&'a str, &'a str), Vec<u32>>,
}

/// Which groups a namespace match covers, computed once per distinct match. Kept by
/// each caller rather than inside the [`Selector`], so that stages running on
/// different threads can share one selector read-only.
pub(crate) type Scopes<'a> = FastMap<(Option<&'a str>, Option<&'a LabelSelector>), Vec<bool>>;

struct Group<'a> {
    namespace: &'a str,
    labels: &'a Labels,
    members: Vec<u32>,
}

impl<'a> Selector<'a> {
    pub fn new(inventory: &'a [Workload]) -> Self {
        let mut order: Vec<usize> = (0..inventory.len()).collect();
        order.sort_by(|&a, &b| inventory[a].id.cmp(&inventory[b].id));
        let mut position = vec![0; inventory.len()];
        let mut group_ids: FastMap<(&str, &Labels), u32> = FastMap::default();
        let mut groups: Vec<Group<'a>> = Vec::new();
        let mut group_of = Vec::with_capacity(order.len());
        // Most workloads carry a label of their own (`app: w123`): sized for one list
        // per workload up front rather than rehashed a dozen times on the way there.
        let mut postings: FastMap<(&str, &str), Vec<u32>> =
            FastMap::with_capacity_and_hasher(inventory.len(), Default::default());
        let mut workloads = Vec::with_capacity(order.len());
        for (pos, &i) in order.iter().enumerate() {
            let w = &inventory[i];
            let pos = pos as u32;
            position[i] = pos;
            workloads.push(w);
            let key = (w.id.namespace.as_str(), &w.namespace_labels);
            // In id order a namespace's workloads are neighbours: try the last group
            // before hashing the labels.
            let g = match groups.last() {
                Some(last) if last.namespace == key.0 && last.labels == key.1 => {
                    (groups.len() - 1) as u32
                }
                _ => *group_ids.entry(key).or_insert_with(|| {
                    groups.push(Group {
                        namespace: key.0,
                        labels: key.1,
                        members: Vec::new(),
                    });
                    (groups.len() - 1) as u32
                }),
            };
            groups[g as usize].members.push(pos);
            group_of.push(g);
            for (k, v) in &w.labels {
                postings.entry((k, v)).or_default().push(pos);
            }
        }
        Self {
            workloads,
            position,
            group_of,
            groups,
            postings,
        }
    }

    /// Positions (ascending) of the workloads in the matching namespaces whose labels
    /// match `workloads` (every workload there if `None`).
    pub fn select(
        &self,
        scopes: &mut Scopes<'a>,
        namespaces: &'a NamespaceMatch,
        workloads: Option<&LabelSelector>,
    ) -> Vec<u32> {
        let key = match namespaces {
            NamespaceMatch::Named(n) => (Some(n.as_str()), None),
            NamespaceMatch::Selector(s) => (None, Some(s)),
        };
        let scope: &[bool] = scopes.entry(key).or_insert_with(|| {
            self.groups
                .iter()
                .map(|g| match namespaces {
                    NamespaceMatch::Named(n) => g.namespace == n,
                    NamespaceMatch::Selector(s) => s.matches(g.labels),
                })
                .collect()
        });
        let labels_ok =
            |pos: u32| workloads.is_none_or(|s| s.matches(&self.workloads[pos as usize].labels));
        // A required label's posting list bounds the answer; when one is short, walk it
        // instead of every workload in scope. An absent label means nothing matches.
        let mut shortest: Option<&[u32]> = None;
        for (k, v) in workloads.iter().flat_map(|s| &s.match_labels) {
            match self.postings.get(&(k.as_str(), v.as_str())) {
                Some(list) if shortest.is_none_or(|s| list.len() < s.len()) => {
                    shortest = Some(list)
                }
                Some(_) => {}
                None => return Vec::new(),
            }
        }
        if let Some(list) = shortest {
            return list
                .iter()
                .copied()
                .filter(|&p| scope[self.group_of[p as usize] as usize] && labels_ok(p))
                .collect();
        }
        let mut out: Vec<u32> = self
            .groups
            .iter()
            .zip(scope)
            .filter(|(_, in_scope)| **in_scope)
            .flat_map(|(g, _)| g.members.iter().copied())
            .filter(|&p| labels_ok(p))
            .collect();
        // Groups interleave in id order (one namespace with two label sets), so sort.
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_policy::WorkloadId;
    use bulkhead_policy::selector::{Operator, Requirement};

    fn w(ns: &str, name: &str, labels: &[(&str, &str)], ns_team: &str) -> Workload {
        let l = |p: &[(&str, &str)]| {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Labels>()
        };
        Workload {
            id: WorkloadId::new(ns, name),
            labels: l(labels),
            namespace_labels: l(&[("team", ns_team)]),
            ips: vec![],
            ports: vec![],
            node: None,
        }
    }

    fn sel(pairs: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            match_expressions: vec![],
        }
    }

    #[test]
    fn selects_by_namespace_and_labels() {
        let ws = vec![
            w("y", "b", &[("app", "web")], "t1"),
            w("x", "a", &[("app", "web"), ("tier", "1")], "t1"),
            w("x", "c", &[("app", "db")], "t1"),
            w("z", "d", &[("app", "web")], "t2"),
        ];
        // Namespace matches are memoized by reference, so they outlive the selector.
        let in_x = NamespaceMatch::Named("x".into());
        let team1 = NamespaceMatch::Selector(sel(&[("team", "t1")]));
        let all = NamespaceMatch::Selector(LabelSelector::everything());
        let s = Selector::new(&ws);
        let mut memo = Scopes::default();
        let names: Vec<String> = s.workloads.iter().map(|w| w.id.to_string()).collect();
        let ids =
            |v: Vec<u32>| -> Vec<String> { v.iter().map(|&i| names[i as usize].clone()).collect() };
        let web = sel(&[("app", "web")]);
        assert_eq!(ids(s.select(&mut memo, &in_x, Some(&web))), ["x/a"]);
        assert_eq!(ids(s.select(&mut memo, &team1, Some(&web))), ["x/a", "y/b"]);
        let not_web = LabelSelector {
            match_labels: Labels::new(),
            match_expressions: vec![Requirement {
                key: "app".into(),
                operator: Operator::NotIn,
                values: ["web".to_string()].into(),
            }],
        };
        assert_eq!(ids(s.select(&mut memo, &all, Some(&not_web))), ["x/c"]);
        assert_eq!(ids(s.select(&mut memo, &all, None)).len(), 4);
        assert_eq!(
            ids(s.select(&mut memo, &team1, None)),
            ["x/a", "x/c", "y/b"]
        );
        assert!(
            s.select(&mut memo, &all, Some(&sel(&[("app", "nope")])))
                .is_empty()
        );
        assert_eq!(s.position, [2, 0, 1, 3]);
    }
}
