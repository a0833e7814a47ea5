//! Cutting a multi-document YAML file into its documents, so each stored policy keeps
//! the text of the document that defines it (what a user wrote, comments included).
//!
//! In YAML a line starting with `---` followed by a space or the line's end is always a
//! document marker, even inside a block scalar, so cutting at such lines (and at `...`
//! end markers) needs no YAML parser. Text that holds no content (only comments or
//! directives) is joined to the document after it.

/// The documents of `text` with content, in order.
pub fn split_documents(text: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut current = String::new();
    // Comments seen since the last document with content, kept for the next one.
    let mut pending = String::new();
    for line in text.split_inclusive('\n') {
        let start = is_marker(line, "---");
        if start || is_marker(line, "...") {
            if has_content(&current) {
                docs.push(std::mem::take(&mut current));
            } else {
                for l in std::mem::take(&mut current).split_inclusive('\n') {
                    if !is_marker(l, "---") {
                        pending.push_str(l);
                    }
                }
            }
            if start {
                current = std::mem::take(&mut pending);
                current.push_str(line);
            }
            continue;
        }
        current.push_str(line);
    }
    if has_content(&current) {
        docs.push(current);
    }
    docs
}

fn is_marker(line: &str, marker: &str) -> bool {
    let t = line.trim_end_matches(['\n', '\r']);
    t.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// Whether a piece of YAML holds anything but blanks, comments, directives and markers.
fn has_content(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim();
        let after_marker = t.strip_prefix("---").map(str::trim_start);
        !(t.is_empty()
            || t.starts_with('#')
            || t.starts_with('%')
            || t == "..."
            || after_marker.is_some_and(|r| r.is_empty() || r.starts_with('#')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_document_is_kept_whole() {
        let text = "# policy\napiVersion: v1\nkind: Policy\n";
        assert_eq!(split_documents(text), vec![text.to_string()]);
    }

    #[test]
    fn documents_are_cut_at_markers() {
        let text = "a: 1\n---\n# second\nb: 2\n--- # third\nc: |\n  x\n...\n";
        let docs = split_documents(text);
        assert_eq!(
            docs,
            vec![
                "a: 1\n",
                "---\n# second\nb: 2\n",
                "--- # third\nc: |\n  x\n"
            ]
        );
    }

    #[test]
    fn empty_documents_vanish_and_leading_comments_join_the_next() {
        let text = "# header\n---\n---\nname: x\n";
        assert_eq!(split_documents(text), vec!["# header\n---\nname: x\n"]);
        assert!(split_documents("").is_empty());
        assert!(split_documents("# only a comment\n---\n").is_empty());
    }

    #[test]
    fn dashes_inside_lines_are_not_markers() {
        let text = "a: \"---\"\nb: ---x\n----\n";
        assert_eq!(split_documents(text).len(), 1);
    }
}
