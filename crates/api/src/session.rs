//! Who a token is, and what selects a workload: the questions a UI asks before it
//! offers a change.

use crate::token::Role;
use bulkhead_policy::ir::PolicyKind;
use serde::{Deserialize, Serialize};

/// Answer of `GET /api/v1/session`: the caller's token name and role, so a UI can
/// disable what the server would refuse (the server still refuses it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub name: String,
    pub role: Role,
}

/// One entry of `GET /api/v1/workloads/{ns}/{name}/policies`: a stored policy that
/// selects the workload, and the directions it isolates (where the workload becomes
/// default-deny because of it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectingPolicy {
    pub name: String,
    pub kind: PolicyKind,
    pub ingress: bool,
    pub egress: bool,
}
