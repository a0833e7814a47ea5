//! [`Context`]: what the flow thread needs to turn kernel events into flow records,
//! rebuilt after every apply and shared read-only.
//!
//! Verdicts come from the kernel: a drop event is `denied`, with the rule the kernel
//! names; an admitted connection is `allowed` (or `would-deny` when a monitoring check
//! let it through). The *deciding rule* of an admitted connection is not carried by
//! every backend (conntrack knows nothing of rules), so it is named by the reference
//! evaluator over the desired state in force — the same answer `policy eval` gives,
//! which both backends are tested to match.

use bulkhead_api::Verdict;
use bulkhead_policy::eval::{Flow, evaluate};
use bulkhead_policy::ir::Reason;
use bulkhead_policy::{Inventory, Mode, PolicySet, Workload, WorkloadId};
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// How many applied generations' rule tables are kept to name the rules of late events.
const HISTORY: usize = 64;

/// The inventory in force and its address index. Shared (not copied) by the contexts of
/// every revision that left the inventory alone: at 10,000 workloads a copy costs more
/// than the incremental compile it would sit next to.
pub struct Workloads {
    pub inventory: Inventory,
    by_ip: HashMap<Ipv4Addr, usize>,
}

impl Workloads {
    pub fn new(inventory: Inventory) -> Workloads {
        let mut by_ip = HashMap::new();
        for (i, w) in inventory.workloads.iter().enumerate() {
            for ip in &w.ips {
                by_ip.insert(*ip, i);
            }
        }
        Workloads { inventory, by_ip }
    }
}

/// Everything large is behind an `Arc` for the same reason as [`Workloads`].
pub struct Context {
    pub node: String,
    pub workloads: Arc<Workloads>,
    pub policies: Arc<PolicySet>,
    pub modes: Arc<BTreeMap<WorkloadId, Mode>>,
    pub default_mode: Mode,
    /// Rule tables of recent generations, by generation.
    pub rules: BTreeMap<u32, Arc<Vec<Reason>>>,
    pub generation: u32,
}

/// The rule as flow records name it: a policy rule or a default deny; null for
/// "not isolated" and the other non-rules.
pub fn rule_name(r: &Reason) -> Option<String> {
    match r {
        Reason::Rule { .. } | Reason::DefaultDeny { .. } => Some(r.to_string()),
        Reason::NotIsolated | Reason::NotAWorkload | Reason::SelfTraffic => None,
    }
}

impl Context {
    pub fn new(
        node: &str,
        workloads: Arc<Workloads>,
        policies: Arc<PolicySet>,
        modes: Arc<BTreeMap<WorkloadId, Mode>>,
        default_mode: Mode,
    ) -> Context {
        Context {
            node: node.to_string(),
            workloads,
            policies,
            modes,
            default_mode,
            rules: BTreeMap::new(),
            generation: 0,
        }
    }

    /// Records the rule table of a newly applied generation (and of the ones before it,
    /// carried over from the previous context).
    pub fn with_rules(
        mut self,
        prev: Option<&Context>,
        generation: u32,
        rules: Arc<Vec<Reason>>,
    ) -> Self {
        if let Some(p) = prev {
            self.rules = p.rules.clone();
        }
        self.rules.insert(generation, rules);
        while self.rules.len() > HISTORY {
            self.rules.pop_first();
        }
        self.generation = generation;
        self
    }

    pub fn inventory(&self) -> &Inventory {
        &self.workloads.inventory
    }

    pub fn workload(&self, ip: Ipv4Addr) -> Option<&Workload> {
        let w = &self.workloads;
        w.by_ip.get(&ip).map(|&i| &w.inventory.workloads[i])
    }

    /// A flow endpoint: the workload id, or the address for anything outside.
    pub fn endpoint(&self, ip: Ipv4Addr) -> String {
        match self.workload(ip) {
            Some(w) => w.id.to_string(),
            None => ip.to_string(),
        }
    }

    pub fn mode_of(&self, id: &WorkloadId) -> Mode {
        self.modes.get(id).copied().unwrap_or(self.default_mode)
    }

    /// The rule a drop event names: rule `rule` of the program of `generation` (the
    /// current one if that generation is no longer known).
    pub fn denied_rule(&self, generation: u32, rule: u32) -> Option<String> {
        let table = self
            .rules
            .get(&generation)
            .or_else(|| self.rules.get(&self.generation))?;
        table.get(rule as usize).and_then(rule_name)
    }

    /// Whether this node reports a connection its kernel admitted. Each admitted
    /// connection is reported once in the cluster: by the destination's node (the last
    /// check it passes), or, when the destination is no workload, by the source's node.
    /// Drops are always reported by the node that dropped.
    pub fn reports_admitted(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let node_of = |ip| self.workload(ip).and_then(|w| w.node.as_deref());
        match node_of(dst).or_else(|| node_of(src)) {
            Some(n) => n == self.node,
            None => true,
        }
    }

    /// Verdict and deciding rule of a connection the kernel admitted.
    /// `kernel_would_deny`: a monitoring check of this node reported it.
    pub fn admitted(
        &self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: u8,
        port: u16,
        kernel_would_deny: bool,
    ) -> (Verdict, Option<String>) {
        let flow = Flow {
            src,
            dst,
            protocol,
            port,
        };
        let v = evaluate(&self.policies, self.inventory(), &flow);
        let rule = rule_name(v.deciding());
        let passed = if kernel_would_deny {
            Verdict::WouldDeny
        } else {
            Verdict::Allowed
        };
        if v.allowed {
            return (passed, rule);
        }
        // Denied by the policies, yet it passed: the denying side monitors or learns
        // (or a remote node has not caught up yet: then the kernel's word stands).
        let side = if v.egress.allows() { dst } else { src };
        let verdict = match self.workload(side).map(|w| self.mode_of(&w.id)) {
            Some(Mode::Monitor) => Verdict::WouldDeny,
            Some(Mode::Learn) => Verdict::Allowed,
            _ => passed,
        };
        (verdict, rule)
    }
}
