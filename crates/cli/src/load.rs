//! Reading the user's files. Parsing is pure (in `bulkhead-policy`); this module only
//! reads bytes and turns diagnostics into the CLI's error.

use anyhow::Context;
use bulkhead_policy::lab::LabFile;
use std::path::Path;

/// Reads and validates a lab file; errors are `file:line:col: message` lines.
pub fn lab(path: &Path) -> anyhow::Result<LabFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read lab file", path.display()))?;
    LabFile::parse(&path.display().to_string(), &text).map_err(|d| anyhow::anyhow!("{d}"))
}
