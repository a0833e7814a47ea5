//! A workload's *identity*: the labels that name what it is, not which copy it is.
//!
//! A selector on `pod-template-hash` or on a pod's own name would stop matching at the
//! next rollout; a selector on every label would miss a replica that carries one extra
//! label. So a baseline names workloads by their app-like labels (the well-known keys
//! below that are present), and only when none is present by all their labels except
//! the known per-instance ones. A workload left with no label at all has no identity.

use crate::model::{Labels, Workload};

/// Label keys that say what a workload is, in the order their values name a policy.
pub const IDENTITY_KEYS: &[&str] = &[
    "app.kubernetes.io/name",
    "app",
    "k8s-app",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "component",
    "name",
    "role",
    "tier",
    "com.docker.compose.project",
    "com.docker.compose.service",
];

/// Label keys that differ between copies of one workload, or change on every rollout.
pub const INSTANCE_KEYS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "controller-uid",
    "job-name",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-name",
    "batch.kubernetes.io/job-completion-index",
    "com.docker.compose.container-number",
    "com.docker.compose.config-hash",
    "com.docker.compose.oneoff",
    "com.docker.compose.version",
];

/// The labels a baseline selects `w` by; empty when it has none to offer.
pub fn identity(w: &Workload) -> Labels {
    let known: Labels = w
        .labels
        .iter()
        .filter(|(k, _)| IDENTITY_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !known.is_empty() {
        return known;
    }
    w.labels
        .iter()
        .filter(|(k, _)| !INSTANCE_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `baseline-<values>`: the identity's values, well-known keys first, made a DNS
/// subdomain. Distinct identities of one namespace can still meet on a name (`a-b` from
/// `{app: a-b}` or `{app: a, tier: b}`); the caller numbers those apart.
pub fn policy_name(labels: &Labels) -> String {
    let mut values: Vec<&str> = IDENTITY_KEYS
        .iter()
        .filter_map(|k| labels.get(*k).map(String::as_str))
        .collect();
    values.extend(
        labels
            .iter()
            .filter(|(k, _)| !IDENTITY_KEYS.contains(&k.as_str()))
            .map(|(_, v)| v.as_str()),
    );
    let mut name = String::from("baseline");
    for v in values {
        let part: String = v
            .chars()
            .map(|c| {
                let c = c.to_ascii_lowercase();
                if c.is_ascii_alphanumeric() { c } else { '-' }
            })
            .collect();
        let part = part.trim_matches('-');
        if !part.is_empty() {
            name.push('-');
            name.push_str(part);
        }
    }
    // The name has no dots, so it is one DNS label: at most 63 characters, with room
    // left for the caller's `-N` (everything here is ASCII, so any cut is a boundary).
    name.truncate(56);
    name.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::WorkloadId;

    fn w(labels: &[(&str, &str)]) -> Workload {
        Workload {
            id: WorkloadId::new("x", "a"),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            namespace_labels: Labels::new(),
            ips: vec!["10.0.0.1".parse().unwrap()],
            ports: vec![],
            node: None,
        }
    }

    #[test]
    fn app_like_labels_win_and_instance_labels_never_count() {
        let pod = w(&[
            ("app", "api"),
            ("pod-template-hash", "5d9f"),
            ("version", "3"),
        ]);
        assert_eq!(identity(&pod), w(&[("app", "api")]).labels);
        let other = w(&[("team", "x"), ("pod-template-hash", "5d9f")]);
        assert_eq!(identity(&other), w(&[("team", "x")]).labels);
        assert!(identity(&w(&[("pod-template-hash", "5d9f")])).is_empty());
    }

    #[test]
    fn names_are_dns_subdomains_in_key_order() {
        let l = w(&[("tier", "Web"), ("app", "shop_front"), ("zone", "--")]).labels;
        assert_eq!(policy_name(&l), "baseline-shop-front-web");
        let long = w(&[("app", &"a".repeat(300))]).labels;
        assert!(crate::names::dns_subdomain_error(&policy_name(&long)).is_none());
    }
}
