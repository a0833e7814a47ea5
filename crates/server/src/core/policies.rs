//! Policies: apply (validate, then create or update), delete, read.
//!
//! Validation is the same code as `bulkhead policy check` (`bulkhead_policy`), so a user
//! sees the same `file:line:col: message` lines from the CLI and from the server; and it
//! runs on the *whole* set that would be in force (stored policies plus the applied
//! ones), so a stored set is always one the agents can compile.

use super::Core;
use super::auth::audit;
use super::split::split_documents;
use crate::error::ServerError;
use crate::store::{self, StoredPolicy};
use bulkhead_api::{
    ApplyRequest, Change, ChangeResult, Event, PolicyChange, PolicyDocument, PolicyFile,
    PolicyInfo, Timestamp,
};
use bulkhead_policy::ir::Policy;
use bulkhead_policy::{Diagnostics, PolicySet};
use std::collections::{BTreeMap, BTreeSet};

/// A policy read from an applied file, with the text to store for it.
pub(super) struct Parsed {
    pub(super) policy: Policy,
    file: String,
    source: String,
}

impl Core {
    pub(super) fn policies(&self) -> Result<Vec<PolicyInfo>, ServerError> {
        store::load_policies(self.lock().store.conn())
    }

    pub(super) fn policy(&self, name: &str) -> Result<PolicyInfo, ServerError> {
        self.policies()?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| ServerError::NotFound(format!("no policy named `{name}`")))
    }

    pub(super) fn apply(
        &self,
        actor: &str,
        req: ApplyRequest,
    ) -> Result<ChangeResult, ServerError> {
        if req.files.is_empty() {
            return Err(ServerError::invalid(
                "files: at least one policy file is needed",
            ));
        }
        let parsed = parse_files(&req.files)?;
        let mut state = self.lock();
        let stored: BTreeMap<String, StoredPolicy> = store::load_policies(state.store.conn())?
            .into_iter()
            .map(|p| (p.name.clone(), p))
            .collect();
        check_set(&stored, &parsed)?;

        let now = Timestamp::now();
        let mut changes = Vec::new();
        let mut writes = Vec::new();
        for p in &parsed {
            let name = p.policy.name.to_string();
            let old = stored.get(&name);
            let change = match old {
                // The version follows the content: the same text from another path is unchanged.
                Some(o) if o.source == p.source && o.kind == p.policy.kind => Change::Unchanged,
                Some(_) => Change::Updated,
                None => Change::Created,
            };
            let version = match (change, old) {
                (Change::Unchanged, Some(o)) => o.version,
                _ => store::last_version(state.store.conn(), &name)? + 1,
            };
            if change != Change::Unchanged {
                writes.push(PolicyInfo {
                    name: name.clone(),
                    kind: p.policy.kind,
                    version,
                    source: p.source.clone(),
                    file: p.file.clone(),
                    created_at: old.map_or(now, |o| o.created_at),
                    updated_at: now,
                    author: actor.into(),
                });
            }
            changes.push(PolicyChange {
                name,
                change,
                version,
            });
        }
        if req.dry_run || writes.is_empty() {
            return Ok(ChangeResult {
                revision: self.current_revision(),
                policies: changes,
            });
        }

        let tx = state.store.transaction()?;
        let revision = store::bump_revision(&tx)?;
        for w in &writes {
            store::save_policy(&tx, w, revision)?;
            let action = if stored.contains_key(&w.name) {
                "policy.update"
            } else {
                "policy.create"
            };
            let mut entry = audit(
                actor,
                action,
                &w.name,
                format!("version {} from {}", w.version, w.file),
            );
            entry.revision = Some(revision);
            store::insert_audit(&tx, &entry)?;
        }
        tx.commit()?;
        drop(state);
        self.changed_policies(revision, &changes);
        Ok(ChangeResult {
            revision,
            policies: changes,
        })
    }

    pub(super) fn delete(
        &self,
        actor: &str,
        names: &[String],
    ) -> Result<ChangeResult, ServerError> {
        if names.is_empty() {
            return Err(ServerError::invalid(
                "names: at least one policy name is needed",
            ));
        }
        let names: BTreeSet<&String> = names.iter().collect();
        let mut state = self.lock();
        let stored: BTreeMap<String, StoredPolicy> = store::load_policies(state.store.conn())?
            .into_iter()
            .map(|p| (p.name.clone(), p))
            .collect();
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !stored.contains_key(n.as_str()))
            .map(|n| format!("`{n}`"))
            .collect();
        if !missing.is_empty() {
            return Err(ServerError::NotFound(format!(
                "no policy named {}",
                missing.join(", ")
            )));
        }
        let now = Timestamp::now();
        let tx = state.store.transaction()?;
        let revision = store::bump_revision(&tx)?;
        let mut changes = Vec::new();
        for name in names {
            let Some(p) = stored.get(name.as_str()) else {
                continue;
            };
            store::delete_policy(&tx, p, now, actor, revision)?;
            let mut entry = audit(
                actor,
                "policy.delete",
                name,
                format!("version {}", p.version),
            );
            entry.revision = Some(revision);
            store::insert_audit(&tx, &entry)?;
            changes.push(PolicyChange {
                name: name.clone(),
                change: Change::Deleted,
                version: p.version,
            });
        }
        tx.commit()?;
        drop(state);
        self.changed_policies(revision, &changes);
        Ok(ChangeResult {
            revision,
            policies: changes,
        })
    }

    fn changed_policies(&self, revision: u64, changes: &[PolicyChange]) {
        self.moved_to(revision);
        self.metrics.policy_changes(
            changes
                .iter()
                .filter(|c| c.change != Change::Unchanged)
                .count(),
        );
        self.publish(Event::Policies {
            revision,
            changes: changes.to_vec(),
        });
    }
}

/// Parses every file (reporting all problems of all files), and finds the document text
/// of each policy.
pub(super) fn parse_files(files: &[PolicyFile]) -> Result<Vec<Parsed>, ServerError> {
    let mut diags = Diagnostics::default();
    let mut out = Vec::new();
    for f in files {
        match bulkhead_policy::parse_documents(&f.name, &f.text) {
            Ok(policies) => {
                let sources = document_sources(f, &policies);
                for policy in policies {
                    let name = policy.name.to_string();
                    let source = sources
                        .get(&name)
                        .cloned()
                        .unwrap_or_else(|| f.text.clone());
                    out.push(Parsed {
                        policy,
                        file: f.name.clone(),
                        source,
                    });
                }
            }
            Err(d) => diags.extend(d),
        }
    }
    diags.into_result(out).map_err(invalid)
}

/// The document text defining each policy of a file. If cutting the file changes what
/// a piece means (it should not), every policy keeps the whole file instead: stored
/// documents are parsed back by name, so that is still exact.
fn document_sources(f: &PolicyFile, policies: &[Policy]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for doc in split_documents(&f.text) {
        let Ok(found) = bulkhead_policy::parse_documents(&f.name, &doc) else {
            return BTreeMap::new();
        };
        for p in found {
            out.insert(p.name.to_string(), doc.clone());
        }
    }
    let same = policies.len() == out.len()
        && policies
            .iter()
            .all(|p| out.contains_key(&p.name.to_string()));
    if same { out } else { BTreeMap::new() }
}

/// The set that would be in force must be valid as a whole (names unique, ...).
fn check_set(
    stored: &BTreeMap<String, StoredPolicy>,
    parsed: &[Parsed],
) -> Result<(), ServerError> {
    let applied: BTreeSet<String> = parsed.iter().map(|p| p.policy.name.to_string()).collect();
    let mut all: Vec<Policy> = parsed.iter().map(|p| p.policy.clone()).collect();
    for p in stored.values().filter(|p| !applied.contains(&p.name)) {
        let doc = PolicyDocument {
            name: p.name.clone(),
            kind: p.kind,
            version: p.version,
            file: p.file.clone(),
            source: p.source.clone(),
        };
        let policy = doc
            .parse()
            .map_err(|d| ServerError::Corrupt(format!("stored policy `{}`: {d}", p.name)))?;
        all.push(policy);
    }
    PolicySet::new(all).map(|_| ()).map_err(invalid)
}

pub(super) fn invalid(d: Diagnostics) -> ServerError {
    ServerError::Invalid {
        message: format!("invalid policies:\n{d}"),
        details: d.0.iter().map(ToString::to_string).collect(),
    }
}
