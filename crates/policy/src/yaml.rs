//! A YAML tree that remembers where every node came from.
//!
//! serde-based YAML loaders only know locations for syntax errors; a firewall
//! must also say *which field* of *which line* holds a bad CIDR. So files are
//! first read into this small spanned tree (with `saphyr-parser`), and the
//! typed readers (the private `k8s` and `native` modules, and [`crate::lab`]) walk
//! it, reporting problems at the node they concern.

use crate::diag::{Diagnostic, Location};
use saphyr_parser::{Event, Parser, ScalarStyle, Span, SpannedEventReceiver};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A YAML node with the location of its first character.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub loc: Location,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing at all.
    Null,
    /// A scalar; `plain` is false for quoted and block scalars, which are always strings.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Keys in file order; duplicate keys are rejected while loading.
    Map(Vec<(Node, Node)>),
}

/// Reads every document of a (possibly multi-document) YAML text.
/// Empty documents (for example a trailing `---`) are skipped.
pub fn load_documents(file: &str, text: &str) -> Result<Vec<Node>, Diagnostic> {
    let mut builder = Builder {
        file,
        stack: Vec::new(),
        docs: Vec::new(),
        anchors: BTreeMap::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        let m = e.marker();
        let loc = Location {
            file: file.to_string(),
            line: m.line(),
            col: m.col() + 1,
        };
        return Err(Diagnostic::new(loc, format!("invalid YAML: {}", e.info())));
    }
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder
        .docs
        .into_iter()
        .filter(|d| d.value != Value::Null)
        .collect())
}

enum Frame {
    Seq(Node, usize),
    /// The map node, its anchor, and a key waiting for its value.
    Map(Node, usize, Option<Node>),
}

struct Builder<'f> {
    file: &'f str,
    stack: Vec<Frame>,
    docs: Vec<Node>,
    anchors: BTreeMap<usize, Node>,
    error: Option<Diagnostic>,
}

impl Builder<'_> {
    fn loc(&self, span: Span) -> Location {
        Location {
            file: self.file.to_string(),
            line: span.start.line(),
            col: span.start.col() + 1,
        }
    }

    /// Attaches a finished node to its parent (or makes it a document).
    fn attach(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, _, pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if let Value::Map(entries) = &mut map.value {
                        let dup = entries.iter().any(|(k, _)| k.value == key.value);
                        if dup && self.error.is_none() {
                            let what = key.as_str().unwrap_or("?").to_string();
                            self.error =
                                Some(Diagnostic::new(key.loc, format!("duplicate key `{what}`")));
                            return;
                        }
                        entries.push((key, node));
                    }
                }
            },
        }
    }
}

impl<'input> SpannedEventReceiver<'input> for Builder<'_> {
    fn on_event(&mut self, ev: Event<'input>, span: Span) {
        let loc = self.loc(span);
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = matches!(style, ScalarStyle::Plain);
                let value = if plain && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL")
                {
                    Value::Null
                } else {
                    Value::Scalar {
                        text: Cow::into_owned(text),
                        plain,
                    }
                };
                self.attach(Node { value, loc }, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                let node = Node {
                    value: Value::Seq(Vec::new()),
                    loc,
                };
                self.stack.push(Frame::Seq(node, anchor));
            }
            Event::MappingStart(anchor, _) => {
                let node = Node {
                    value: Value::Map(Vec::new()),
                    loc,
                };
                self.stack.push(Frame::Map(node, anchor, None));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    let (node, anchor) = match frame {
                        Frame::Seq(n, a) => (n, a),
                        Frame::Map(n, a, _) => (n, a),
                    };
                    self.attach(node, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => self.attach(node, 0),
                None => {
                    if self.error.is_none() {
                        self.error = Some(Diagnostic::new(loc, "alias to an unknown anchor"));
                    }
                }
            },
            Event::DocumentStart(_) => {
                self.anchors.clear();
            }
            Event::DocumentEnd => {
                // A document with no content at all produces no node: record it as null
                // so that the number of documents stays right for callers that count them.
                if self.stack.is_empty() && self.docs.is_empty() {
                    // Nothing to do: empty leading documents are simply skipped.
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }
}

impl Node {
    /// A short name of this node's type, for messages ("expected a map, found a list").
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    pub fn is_null(&self) -> bool {
        self.value == Value::Null
    }

    /// The scalar's text, whatever its style.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.loc.clone(), message)
    }

    /// A string field: any scalar (numbers included, as YAML writes `80` for a name too).
    pub fn string(&self, what: &str) -> Result<String, Diagnostic> {
        self.as_str().map(str::to_string).ok_or_else(|| {
            self.error(format!(
                "{what}: expected a string, found {}",
                self.type_name()
            ))
        })
    }

    /// An unsigned integer field (plain scalars only: `"80"` in quotes is a string).
    pub fn integer(&self, what: &str) -> Result<u64, Diagnostic> {
        match &self.value {
            Value::Scalar { text, plain: true } => text.parse::<u64>().map_err(|_| {
                self.error(format!(
                    "{what}: expected a non-negative integer, found `{text}`"
                ))
            }),
            _ => Err(self.error(format!(
                "{what}: expected an integer, found {}",
                self.type_name()
            ))),
        }
    }

    pub fn boolean(&self, what: &str) -> Result<bool, Diagnostic> {
        match &self.value {
            Value::Scalar { text, plain: true } if text == "true" => Ok(true),
            Value::Scalar { text, plain: true } if text == "false" => Ok(false),
            _ => Err(self.error(format!("{what}: expected true or false"))),
        }
    }

    /// The items of a list field; `null` reads as an empty list.
    pub fn seq(&self, what: &str) -> Result<&[Node], Diagnostic> {
        match &self.value {
            Value::Seq(items) => Ok(items),
            Value::Null => Ok(&[]),
            _ => Err(self.error(format!(
                "{what}: expected a list, found {}",
                self.type_name()
            ))),
        }
    }

    /// Views this node as a map whose keys must all be among `known`.
    /// Unknown keys are errors: a typo must never silently weaken a firewall rule.
    pub fn map<'a>(&'a self, what: &str, known: &[&str]) -> Result<Map<'a>, Diagnostic> {
        let entries: &'a [(Node, Node)] = match &self.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            _ => {
                return Err(self.error(format!(
                    "{what}: expected a map, found {}",
                    self.type_name()
                )));
            }
        };
        for (k, _) in entries {
            let key = k.as_str().unwrap_or("");
            if !known.contains(&key) {
                let mut msg = format!("{what}: unknown field `{key}`");
                if !known.is_empty() {
                    msg.push_str(&format!(", expected one of: {}", known.join(", ")));
                }
                return Err(k.error(msg));
            }
        }
        Ok(Map {
            node: self,
            entries,
        })
    }

    /// A map of string to string (labels), checked key by key.
    pub fn string_map(&self, what: &str) -> Result<BTreeMap<String, String>, Diagnostic> {
        let entries: &[(Node, Node)] = match &self.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            _ => {
                return Err(self.error(format!(
                    "{what}: expected a map, found {}",
                    self.type_name()
                )));
            }
        };
        let mut out = BTreeMap::new();
        for (k, v) in entries {
            let key = k.string(what)?;
            let value = match &v.value {
                Value::Null => String::new(),
                _ => v.string(&format!("{what}.{key}"))?,
            };
            out.insert(key, value);
        }
        Ok(out)
    }
}

/// A map node whose keys have been checked against a list of known fields.
#[derive(Clone, Copy, Debug)]
pub struct Map<'a> {
    pub node: &'a Node,
    entries: &'a [(Node, Node)],
}

impl<'a> Map<'a> {
    /// The value of `key`, if present (a present `null` is returned as a null node).
    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The value of `key`, treating an explicit `null` like an absent field.
    pub fn get_some(&self, key: &str) -> Option<&'a Node> {
        self.get(key).filter(|v| !v.is_null())
    }

    /// The location of `key` itself (for "missing" or "conflicting" messages); the map's if absent.
    pub fn key_loc(&self, key: &str) -> Location {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, _)| k.loc.clone())
            .unwrap_or_else(|| self.node.loc.clone())
    }

    /// A field that must be present and not null.
    pub fn require(&self, key: &str, what: &str) -> Result<&'a Node, Diagnostic> {
        self.get_some(key).ok_or_else(|| {
            Diagnostic::new(
                self.node.loc.clone(),
                format!("{what}: missing required field `{key}`"),
            )
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.entries.iter().filter_map(|(k, _)| k.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_one_based() {
        let docs = load_documents("f.yaml", "a: 1\nb:\n  - x\n  - 'y'\n").unwrap();
        assert_eq!(docs.len(), 1);
        let m = docs[0].map("root", &["a", "b"]).unwrap();
        let b = m.get("b").unwrap().seq("b").unwrap();
        assert_eq!((b[1].loc.line, b[1].loc.col), (4, 5));
        assert_eq!(m.get("a").unwrap().integer("a").unwrap(), 1);
    }

    #[test]
    fn unknown_field_is_reported_at_the_key() {
        let docs = load_documents("f.yaml", "a: 1\nbogus: 2\n").unwrap();
        let err = docs[0].map("spec", &["a"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.yaml:2:1: spec: unknown field `bogus`, expected one of: a"
        );
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let err = load_documents("f.yaml", "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.to_string().starts_with("f.yaml:"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let err = load_documents("f.yaml", "a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.to_string(), "f.yaml:2:1: duplicate key `a`");
    }

    #[test]
    fn multi_document_and_empty_documents() {
        let docs = load_documents("f.yaml", "---\na: 1\n---\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn quoted_numbers_are_strings() {
        let docs = load_documents("f.yaml", "p: '80'\n").unwrap();
        let m = docs[0].map("x", &["p"]).unwrap();
        assert!(m.get("p").unwrap().integer("p").is_err());
        assert_eq!(m.get("p").unwrap().string("p").unwrap(), "80");
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let docs = load_documents("f.yaml", "a: &l {x: 1}\nb: *l\n").unwrap();
        let m = docs[0].map("x", &["a", "b"]).unwrap();
        assert_eq!(m.get("b").unwrap().value, m.get("a").unwrap().value);
    }
}
