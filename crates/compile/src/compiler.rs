//! `PolicySet` + `Inventory` → [`Program`](crate::Program).

use crate::program::Program;
use bulkhead_policy::ir::PolicySet;
use bulkhead_policy::{Inventory, Mode, WorkloadId};
use std::collections::BTreeMap;

/// Everything one node's program is compiled from.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub policies: &'a PolicySet,
    pub inventory: &'a Inventory,
    /// The node to compile for: its endpoints are the workloads whose `node` equals it.
    /// `None`: every workload is local (a single-node setup).
    pub node: Option<&'a str>,
    /// Per-workload modes; a workload not listed is enforced.
    pub modes: &'a BTreeMap<WorkloadId, Mode>,
    /// Host-side interface of each local workload, when known.
    pub interfaces: &'a BTreeMap<WorkloadId, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error(
        "the compiled program needs {needed} identities, more than the {max} a map key can hold"
    )]
    TooManyIdentities { needed: usize, max: usize },
}

pub fn compile(input: &Input<'_>) -> Result<Program, CompileError> {
    let _ = input;
    Err(CompileError::TooManyIdentities { needed: 0, max: 0 })
}
