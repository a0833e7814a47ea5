//! Stored policies: their documents, versions, and the requests that change them.

use crate::time::Timestamp;
use bulkhead_policy::Diagnostics;
use bulkhead_policy::ir::{Policy, PolicyKind};
use serde::{Deserialize, Serialize};

/// One stored policy, as `GET /api/v1/policies` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyInfo {
    /// `namespace/name`, or `name` for a cluster-wide native policy.
    pub name: String,
    pub kind: PolicyKind,
    /// Grows by one each time the policy's text changes; starts at 1.
    pub version: u64,
    /// The YAML document that defines it (one document of the file it was applied from).
    pub source: String,
    /// The file name given when it was applied.
    pub file: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The name of the token that last changed it.
    pub author: String,
}

/// A policy as agents receive it: enough to parse it again with the same result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    pub name: String,
    pub kind: PolicyKind,
    pub version: u64,
    pub file: String,
    pub source: String,
}

impl PolicyDocument {
    /// Parses the stored document back into the policy it defines. A document holding a
    /// `List` defines several policies; each is stored once under its own name, so only
    /// the one named here is kept.
    pub fn parse(&self) -> Result<Policy, Diagnostics> {
        let policies = bulkhead_policy::parse_documents(&self.file, &self.source)?;
        policies
            .into_iter()
            .find(|p| p.name.to_string() == self.name)
            .ok_or_else(|| {
                let loc = bulkhead_policy::Location {
                    file: self.file.clone(),
                    line: 1,
                    col: 1,
                };
                let msg = format!("stored document does not define policy `{}`", self.name);
                bulkhead_policy::Diagnostic::new(loc, msg).into()
            })
    }
}

/// One file of `PUT /api/v1/policies`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// The name used in error locations (`file:line:col`), usually the path given to the CLI.
    pub name: String,
    /// Multi-document YAML: native Policies and Kubernetes NetworkPolicies, or lists of them.
    pub text: String,
}

/// Body of `PUT /api/v1/policies`: create or update every policy the files define, in one
/// step (all or nothing). Policies not named in the files are left as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    pub files: Vec<PolicyFile>,
    /// Validate and report what would change, store nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
    Deleted,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyChange {
    pub name: String,
    pub change: Change,
    /// The version after the change (the last version for a deleted policy).
    pub version: u64,
}

/// Answer of apply and delete.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeResult {
    /// The desired-state revision after the change.
    pub revision: u64,
    pub policies: Vec<PolicyChange>,
}

/// Body of `DELETE /api/v1/policies`: remove all of them in one step, or none if one is
/// not stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    pub names: Vec<String>,
}

/// Body of `POST /api/v1/replay`: which recorded flows would these policies deny?
/// The files replace the stored policies for the question (nothing is stored).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    pub files: Vec<PolicyFile>,
    /// Only flows recorded since then (`15m` back, or RFC 3339); default: all.
    #[serde(default)]
    pub since: Option<crate::time::TimeBound>,
    /// Only flows from or to this workload.
    #[serde(default)]
    pub workload: Option<String>,
}

/// Answer of replay: the recorded flows the policies would deny, in the `observe` shape
/// (`verdict` is `would-deny`, `rule` the deciding rule of the replayed policies).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayResult {
    pub denied: Vec<crate::flow::FlowRecord>,
    /// How many recorded edges were evaluated.
    pub evaluated: u64,
    /// Edges skipped because an endpoint is a workload no agent reports any more (its
    /// address is unknown, so the policies cannot be evaluated for it).
    pub unresolved: u64,
}
