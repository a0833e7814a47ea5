//! A small YAML writer for the documents Bulkhead generates (baselines, exports).
//!
//! It writes only what [`crate::yaml`] reads back to the same values: block style, with
//! maps and lists of scalars kept on one line (`{app: api}`, `[8080, 9090]`) when short,
//! comments before list items (where generated rules carry their evidence), and strings
//! quoted whenever a plain scalar could be read as something else (`"80"`, `"true"`,
//! `"a: b"`). Round-trip tests hold the reader and this writer together.

use std::fmt::Write;

/// A YAML value to write. Map keys keep the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Yaml {
    Str(String),
    Int(i64),
    Map(Vec<(String, Yaml)>),
    Seq(Vec<Item>),
}

/// A list item with the comment lines written above it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub comments: Vec<String>,
    pub value: Yaml,
}

impl From<Yaml> for Item {
    fn from(value: Yaml) -> Item {
        Item {
            comments: Vec::new(),
            value,
        }
    }
}

impl Yaml {
    pub fn str(s: impl Into<String>) -> Yaml {
        Yaml::Str(s.into())
    }

    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Yaml)>) -> Yaml {
        Yaml::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn seq(items: impl IntoIterator<Item = Yaml>) -> Yaml {
        Yaml::Seq(items.into_iter().map(Item::from).collect())
    }

    fn is_scalar(&self) -> bool {
        matches!(self, Yaml::Str(_) | Yaml::Int(_))
    }

    /// Written on one line: scalars, empty collections, and collections of scalars (or of
    /// maps of scalars, in lists) whose one-line form is short.
    fn inline(&self) -> Option<String> {
        let text = match self {
            Yaml::Str(s) => return Some(scalar(s)),
            Yaml::Int(i) => return Some(i.to_string()),
            Yaml::Map(entries) => {
                if !entries.iter().all(|(_, v)| v.is_scalar()) {
                    return None;
                }
                let parts: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", scalar(k), v.inline().unwrap_or_default()))
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            Yaml::Seq(items) => {
                let flat = items.iter().all(|i| {
                    i.comments.is_empty()
                        && (i.value.is_scalar()
                            || matches!(&i.value, Yaml::Map(m) if m.iter().all(|(_, v)| v.is_scalar())))
                });
                if !flat {
                    return None;
                }
                let parts: Vec<String> = items.iter().filter_map(|i| i.value.inline()).collect();
                format!("[{}]", parts.join(", "))
            }
        };
        (text.len() <= 72).then_some(text)
    }
}

/// Writes documents separated by `---`, each preceded by its header comment lines.
pub fn documents(docs: &[(Vec<String>, Yaml)]) -> String {
    let mut out = String::new();
    for (i, (header, doc)) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        for line in header {
            comment(&mut out, 0, line);
        }
        block(&mut out, 0, doc);
    }
    out
}

fn comment(out: &mut String, indent: usize, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "{:indent$}# {line}", "");
    }
}

/// Writes `v` as the content of a block at `indent` (a document, a map value, a list item).
fn block(out: &mut String, indent: usize, v: &Yaml) {
    match v {
        Yaml::Map(entries) if !entries.is_empty() => {
            for (k, val) in entries {
                let _ = write!(out, "{:indent$}", "");
                entry(out, indent, k, val);
            }
        }
        Yaml::Seq(items) if !items.is_empty() => {
            for item in items {
                for c in &item.comments {
                    comment(out, indent, c);
                }
                let _ = write!(out, "{:indent$}- ", "");
                list_item(out, indent + 2, &item.value);
            }
        }
        other => {
            let _ = writeln!(out, "{:indent$}{}", "", other.inline().unwrap_or_default());
        }
    }
}

/// `key: value` with the cursor already indented; nested blocks go two spaces deeper.
fn entry(out: &mut String, indent: usize, key: &str, v: &Yaml) {
    match v.inline() {
        Some(text) => {
            let _ = writeln!(out, "{}: {text}", scalar(key));
        }
        None => {
            let _ = writeln!(out, "{}:", scalar(key));
            block(out, indent + 2, v);
        }
    }
}

/// A list item after its `- `: a map's first entry shares the dash's line.
fn list_item(out: &mut String, indent: usize, v: &Yaml) {
    if let Some(text) = v.inline() {
        let _ = writeln!(out, "{text}");
        return;
    }
    match v {
        Yaml::Map(entries) => {
            for (i, (k, val)) in entries.iter().enumerate() {
                if i > 0 {
                    let _ = write!(out, "{:indent$}", "");
                }
                entry(out, indent, k, val);
            }
        }
        other => {
            out.push('\n');
            block(out, indent, other);
        }
    }
}

/// A string as a YAML scalar: plain when it cannot be read as anything but this string.
pub fn scalar(s: &str) -> String {
    if plain_ok(s) {
        return s.to_string();
    }
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(q, "\\u{:04x}", u32::from(c));
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Plain scalars are limited to a safe alphabet (`[A-Za-z0-9._/-]`), must not start like
/// an indicator or a number, and must not be one of YAML's words for null and booleans.
fn plain_ok(s: &str) -> bool {
    const WORDS: &[&str] = &["null", "true", "false", "yes", "no", "on", "off", "y", "n"];
    let Some(first) = s.chars().next() else {
        return false;
    };
    let safe = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'));
    // A leading digit is only safe when the text cannot be a number: an address or a
    // CIDR (two dots, or a slash).
    let numeric_start = first.is_ascii_digit() && !(s.contains('/') || s.matches('.').count() > 1);
    safe && !numeric_start
        && !matches!(first, '-' | '.')
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Value, load_documents};

    fn read_back(s: &str) -> (String, bool) {
        let text = documents(&[(vec![], Yaml::map([("k", Yaml::str(s))]))]);
        let docs = load_documents("t.yaml", &text).unwrap();
        let Value::Map(entries) = &docs[0].value else {
            panic!("not a map: {text}")
        };
        match &entries[0].1.value {
            Value::Scalar { text, plain } => (text.clone(), *plain),
            other => panic!("{s:?} read back as {other:?} from {text}"),
        }
    }

    #[test]
    fn strings_read_back_as_the_same_strings() {
        for s in [
            "api",
            "80",
            "0x1f",
            "1e3",
            "true",
            "Yes",
            "null",
            "~",
            "",
            "a: b",
            "#x",
            "- x",
            "x #y",
            "'q'",
            "\"dq\"",
            "back\\slash",
            "new\nline",
            "tab\t",
            "é",
            "10.0.0.0/8",
            "10.20.0.1",
            "1.5",
            ".inf",
            "kubernetes.io/metadata.name",
            "2025-01-01",
            "2023-11-14T22:13:20.123Z",
            "{a}",
            "[1]",
            "*x",
            "&y",
            "!t",
            "%p",
            "@a",
            "`b",
        ] {
            let (text, plain) = read_back(s);
            assert_eq!(text, s, "{s:?}");
            // Anything the readers could take for a non-string must have been quoted.
            if plain {
                assert!(
                    s.parse::<f64>().is_err() && !s.is_empty(),
                    "{s:?} left plain"
                );
            }
        }
    }

    #[test]
    fn nested_documents_round_trip() {
        let doc = Yaml::map([
            ("name", Yaml::str("x")),
            (
                "labels",
                Yaml::map([("app", Yaml::str("api")), ("n", Yaml::str("7"))]),
            ),
            ("empty", Yaml::Map(vec![])),
            (
                "rules",
                Yaml::Seq(vec![
                    Item {
                        comments: vec!["evidence: 3 flows".into()],
                        value: Yaml::map([
                            (
                                "ports",
                                Yaml::seq([Yaml::Int(80), Yaml::map([("port", Yaml::Int(53))])]),
                            ),
                            (
                                "deep",
                                Yaml::map([("a", Yaml::map([("b", Yaml::str("c"))]))]),
                            ),
                        ]),
                    },
                    Yaml::seq([]).into(),
                ]),
            ),
        ]);
        let text = documents(&[(vec!["head".into()], doc.clone()), (vec![], doc)]);
        let docs = load_documents("t.yaml", &text).unwrap();
        assert_eq!(docs.len(), 2, "{text}");
        assert!(text.starts_with("# head\nname: x\n"), "{text}");
        assert!(
            text.contains("  # evidence: 3 flows\n  - ports: [80, {port: 53}]\n"),
            "{text}"
        );
        assert!(text.contains("    deep:\n      a: {b: c}\n"), "{text}");
        assert!(text.contains("labels: {app: api, \"n\": \"7\"}"), "{text}");
    }
}
