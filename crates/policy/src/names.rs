//! Syntax rules for names and labels, as Kubernetes enforces them, so that a policy
//! accepted here is also accepted by an API server (and the other way round).

/// `None` if `key` is a valid label key (`[prefix/]name`), otherwise why not.
pub fn label_key_error(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(e) = prefix.and_then(dns_subdomain_error) {
        return Some(format!("label key `{key}`: prefix {e}"));
    }
    qualified_name_error(name).map(|e| format!("label key `{key}`: {e}"))
}

/// `None` if `value` is a valid label value (possibly empty), otherwise why not.
pub fn label_value_error(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    qualified_name_error(value).map(|e| format!("label value `{value}`: {e}"))
}

fn qualified_name_error(s: &str) -> Option<String> {
    if s.is_empty() || s.len() > 63 {
        return Some("must be 1 to 63 characters".into());
    }
    let ok_end = |c: char| c.is_ascii_alphanumeric();
    let ok_mid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let first = s.chars().next().is_some_and(ok_end);
    let last = s.chars().last().is_some_and(ok_end);
    if !first || !last || !s.chars().all(ok_mid) {
        return Some(
            "must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric"
                .into(),
        );
    }
    None
}

/// RFC 1123 DNS label: namespaces and workload names.
pub fn dns_label_error(s: &str) -> Option<String> {
    if s.is_empty() || s.len() > 63 {
        return Some("must be 1 to 63 characters".into());
    }
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let first = s.chars().next().is_some_and(ok);
    let last = s.chars().last().is_some_and(ok);
    if !first || !last || !s.chars().all(|c| ok(c) || c == '-') {
        return Some(
            "must consist of lower-case alphanumerics or '-', and start and end with an alphanumeric"
                .into(),
        );
    }
    None
}

/// RFC 1123 DNS subdomain: policy names, label key prefixes.
pub fn dns_subdomain_error(s: &str) -> Option<String> {
    if s.is_empty() || s.len() > 253 {
        return Some("must be 1 to 253 characters".into());
    }
    if s.split('.').any(|part| dns_label_error(part).is_some()) {
        return Some(
            "must be lower-case alphanumerics, '-' or '.', each part starting and ending with an alphanumeric"
                .into(),
        );
    }
    None
}

/// IANA service name, the syntax of named ports: at most 15 characters, lower-case
/// alphanumerics and '-', at least one letter, no leading, trailing or double '-'.
pub fn port_name_error(s: &str) -> Option<String> {
    let ok_chars = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if s.is_empty()
        || s.len() > 15
        || !ok_chars
        || !s.chars().any(|c| c.is_ascii_lowercase())
        || s.starts_with('-')
        || s.ends_with('-')
        || s.contains("--")
    {
        return Some(format!(
            "port name `{s}` must be 1 to 15 lower-case alphanumerics or '-', with at least one letter"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys() {
        assert!(label_key_error("pod").is_none());
        assert!(label_key_error("kubernetes.io/metadata.name").is_none());
        assert!(label_key_error("app.kubernetes.io/name").is_none());
        assert!(label_key_error("-bad").is_some());
        assert!(label_key_error("Bad_Prefix/x").is_some());
        assert!(label_key_error("").is_some());
    }

    #[test]
    fn label_values() {
        assert!(label_value_error("").is_none());
        assert!(label_value_error("a.b-c_d").is_none());
        assert!(label_value_error("a b").is_some());
    }

    #[test]
    fn port_names() {
        assert!(port_name_error("serve-80-tcp").is_none());
        assert!(port_name_error("80").is_some());
        assert!(port_name_error("a--b").is_some());
        assert!(port_name_error("abcdefghijklmnop").is_some());
    }
}
