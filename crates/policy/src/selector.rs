//! Kubernetes label selectors: `matchLabels` AND every `matchExpressions` requirement.

use crate::model::Labels;
use std::collections::BTreeSet;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelSelector {
    pub match_labels: Labels,
    pub match_expressions: Vec<Requirement>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    /// Non-empty for `In`/`NotIn`, empty for `Exists`/`DoesNotExist` (validated on parse).
    pub values: BTreeSet<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl Operator {
    pub fn parse(s: &str) -> Option<Operator> {
        match s {
            "In" => Some(Operator::In),
            "NotIn" => Some(Operator::NotIn),
            "Exists" => Some(Operator::Exists),
            "DoesNotExist" => Some(Operator::DoesNotExist),
            _ => None,
        }
    }
}

impl LabelSelector {
    /// The empty selector `{}`: it matches every label set.
    pub fn everything() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }
}

impl Requirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.contains(v)),
            // As upstream: a missing key satisfies NotIn.
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, operator: Operator, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn empty_selector_matches_everything() {
        assert!(LabelSelector::everything().matches(&Labels::new()));
    }

    #[test]
    fn labels_and_expressions_are_anded() {
        let sel = LabelSelector {
            match_labels: labels(&[("pod", "a")]),
            match_expressions: vec![req("ns", Operator::NotIn, &["y"])],
        };
        assert!(sel.matches(&labels(&[("pod", "a")])));
        assert!(sel.matches(&labels(&[("pod", "a"), ("ns", "x")])));
        assert!(!sel.matches(&labels(&[("pod", "a"), ("ns", "y")])));
        assert!(!sel.matches(&labels(&[("pod", "b")])));
    }

    #[test]
    fn operators() {
        let l = labels(&[("k", "v")]);
        assert!(req("k", Operator::In, &["v", "w"]).matches(&l));
        assert!(!req("k", Operator::In, &["w"]).matches(&l));
        assert!(!req("x", Operator::In, &["v"]).matches(&l));
        assert!(req("k", Operator::Exists, &[]).matches(&l));
        assert!(req("x", Operator::DoesNotExist, &[]).matches(&l));
        assert!(!req("k", Operator::DoesNotExist, &[]).matches(&l));
    }
}
