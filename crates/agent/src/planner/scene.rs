//! The compile inputs that are not policies: inventory, modes, interfaces (the node is
//! the planner's own). `Compiler::update` requires them exactly as they were, so the
//! planner must know whether they moved.

use crate::context::Workloads;
use crate::enforce::inputs;
use bulkhead_api::DesiredState;
use bulkhead_policy::{Inventory, Mode, WorkloadId};
use bulkhead_runtime::Snapshot;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The derived inputs, with what they were derived from: comparing the sources again on
/// each revision costs no allocation, where deriving again would copy every workload.
/// The snapshot is shared with the agent, which replaces it only when the workload
/// source reports a change, so it is usually the very same one.
pub(super) struct Scene {
    from_desired: Inventory,
    pub snapshot: Arc<Snapshot>,
    /// The desired state's modes, as the flow context reads them.
    pub modes: Arc<BTreeMap<WorkloadId, Mode>>,
    pub default_mode: Mode,
    pub workloads: Arc<Workloads>,
    /// Every workload's mode, spelled out for the compiler.
    pub every_mode: BTreeMap<WorkloadId, Mode>,
}

impl Scene {
    pub fn new(node: &str, d: &DesiredState, snap: &Arc<Snapshot>) -> Scene {
        let (inventory, every_mode) = inputs(node, d, snap);
        Scene {
            from_desired: d.inventory.clone(),
            snapshot: snap.clone(),
            modes: Arc::new(d.modes.clone()),
            default_mode: d.default_mode,
            workloads: Arc::new(Workloads::new(inventory)),
            every_mode,
        }
    }

    /// Whether `d` and `snap` give exactly this scene.
    pub fn matches(&self, d: &DesiredState, snap: &Arc<Snapshot>) -> bool {
        // `guarded` is no compile input: the agent hands it to the dataplane itself.
        let kept = &self.snapshot;
        let same_snapshot = Arc::ptr_eq(kept, snap)
            || (kept.workloads == snap.workloads
                && kept.cluster_cidrs == snap.cluster_cidrs
                && kept.host_ips == snap.host_ips
                && kept.interfaces == snap.interfaces);
        same_snapshot
            && d.default_mode == self.default_mode
            && *self.modes == d.modes
            && self.from_desired == d.inventory
    }
}
