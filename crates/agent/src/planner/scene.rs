//! The compile inputs that are not policies: inventory, modes, interfaces (the node is
//! the planner's own). `Compiler::update` requires them exactly as they were, so the
//! planner must know whether they moved.

use crate::context::Workloads;
use crate::enforce::inputs;
use bulkhead_api::DesiredState;
use bulkhead_policy::{Inventory, Mode, Workload, WorkloadId};
use bulkhead_runtime::Snapshot;
use ipnet::Ipv4Net as Net;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The derived inputs, with copies of what they were derived from. Comparing the
/// sources again on each revision costs no allocation; deriving again would copy every
/// workload.
pub(super) struct Scene {
    from_desired: Inventory,
    from_snapshot: (Vec<Workload>, Vec<Net>, Vec<std::net::Ipv4Addr>),
    /// The desired state's modes, as the flow context reads them.
    pub modes: Arc<BTreeMap<WorkloadId, Mode>>,
    pub default_mode: Mode,
    pub workloads: Arc<Workloads>,
    /// Every workload's mode, spelled out for the compiler.
    pub every_mode: BTreeMap<WorkloadId, Mode>,
    pub interfaces: BTreeMap<WorkloadId, String>,
}

impl Scene {
    pub fn new(node: &str, d: &DesiredState, snap: &Snapshot) -> Scene {
        let (inventory, every_mode) = inputs(node, d, snap);
        Scene {
            from_desired: d.inventory.clone(),
            from_snapshot: (
                snap.workloads.clone(),
                snap.cluster_cidrs.clone(),
                snap.host_ips.clone(),
            ),
            modes: Arc::new(d.modes.clone()),
            default_mode: d.default_mode,
            workloads: Arc::new(Workloads::new(inventory)),
            every_mode,
            interfaces: snap.interfaces.clone(),
        }
    }

    /// Whether `d` and `snap` give exactly this scene.
    pub fn matches(&self, d: &DesiredState, snap: &Snapshot) -> bool {
        let (workloads, cidrs, hosts) = &self.from_snapshot;
        d.default_mode == self.default_mode
            && *self.modes == d.modes
            && self.interfaces == snap.interfaces
            && *workloads == snap.workloads
            && *cidrs == snap.cluster_cidrs
            && *hosts == snap.host_ips
            && self.from_desired == d.inventory
    }
}
