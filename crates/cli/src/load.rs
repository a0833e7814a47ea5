//! Reading the user's files. Parsing is pure (in `bulkhead-policy`); this module only
//! reads bytes and turns diagnostics into the CLI's error.

use anyhow::Context;
use bulkhead_policy::lab::LabFile;
use bulkhead_policy::{Diagnostics, PolicySet, parse_documents};
use std::path::{Path, PathBuf};

/// Reads and validates a lab file; errors are `file:line:col: message` lines.
pub fn lab(path: &Path) -> anyhow::Result<LabFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read lab file", path.display()))?;
    LabFile::parse(&path.display().to_string(), &text).map_err(|d| anyhow::anyhow!("{d}"))
}

/// Reads every policy document of `paths` (files, or directories searched recursively
/// for `*.yaml`/`*.yml`, in sorted order) into the set in force. Every problem of every
/// file is reported, one `file:line:col: message` line each. No paths: an empty set.
pub fn policies(paths: &[PathBuf]) -> anyhow::Result<PolicySet> {
    let mut files = Vec::new();
    for path in paths {
        policy_files(path, &mut files)?;
    }
    let mut all = Vec::new();
    let mut diags = Diagnostics::default();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("{}: cannot read policy file", file.display()))?;
        match parse_documents(&file.display().to_string(), &text) {
            Ok(policies) => all.extend(policies),
            Err(d) => diags.extend(d),
        }
    }
    if !diags.is_empty() {
        anyhow::bail!("{diags}");
    }
    PolicySet::new(all).map_err(|d| anyhow::anyhow!("{d}"))
}

/// A path named on the command line is read whatever its extension; inside directories
/// only YAML files are, so a README next to the policies is not an error.
fn policy_files(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("{}: cannot read policy path", path.display()))?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("{}: cannot list directory", path.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}: cannot list directory", path.display()))?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            policy_files(&entry, out)?;
        } else if entry.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(entry);
        }
    }
    Ok(())
}
