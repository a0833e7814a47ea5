//! An incremental compiler: keeps a whole compile's inner state, so that when a few
//! policies change only in actions and port numbers, only the tables of the endpoints
//! they isolate are rebuilt, and the result is exactly what a whole compile gives.
//!
//! The fast path needs the changed policies named by the caller: at 10,000 policies even
//! comparing the old and new sets costs more than the update itself. Anything it cannot
//! prove unchanged (a new or removed policy, a changed subject, peer, rule count or
//! named port, other modes, interfaces or node) falls back to a whole compile.

mod kept;

pub(crate) use kept::{Kept, Parts};

use super::endpoint::{Context, Scratch};
use super::{CompileError, Input, compile_keeping};
use crate::program::{DirectionProgram, NO_RULE, Program};
use bulkhead_policy::Direction;
use bulkhead_policy::ir::{PolicyName, Reason};
use kept::{View, shape};

/// Compiles once, then updates: [`Compiler::update`] told which policies changed
/// rebuilds only the tables those policies touch when each keeps its shape (subject,
/// directions, rule count and indexes, peers, egress named ports), and otherwise
/// compiles the whole input. Either way the program equals [`super::compile`]'s.
#[derive(Default)]
pub struct Compiler {
    state: Option<(Program, Kept)>,
    incremental: bool,
}

impl Compiler {
    pub fn new() -> Self {
        Self::default()
    }

    /// A whole compile, kept for later updates.
    pub fn compile(&mut self, input: &Input<'_>) -> Result<&Program, CompileError> {
        self.state = None;
        self.incremental = false;
        let state = compile_keeping(input, Kept::new)?;
        Ok(&self.state.insert(state).0)
    }

    /// The program for `input`, where `changed` names every policy that was added,
    /// removed or edited since the last call; everything else in `input` (inventory
    /// included) must be as it was then. Equal to [`super::compile`] of `input`.
    pub fn update(
        &mut self,
        input: &Input<'_>,
        changed: &[PolicyName],
    ) -> Result<&Program, CompileError> {
        let done = match &mut self.state {
            Some((program, kept)) => patch(program, kept, input, changed),
            None => false,
        };
        if !done {
            return self.compile(input);
        }
        self.incremental = true;
        match self.state {
            Some((ref program, _)) => Ok(program),
            None => self.compile(input),
        }
    }

    /// The last program compiled or updated.
    pub fn program(&self) -> Option<&Program> {
        self.state.as_ref().map(|(p, _)| p)
    }

    /// Whether the last call took the incremental path (for tests and benches).
    pub fn was_incremental(&self) -> bool {
        self.incremental
    }
}

/// Applies `changed` to `program` in place if the fast path holds; otherwise changes
/// nothing and returns false.
fn patch(program: &mut Program, kept: &Kept, input: &Input<'_>, changed: &[PolicyName]) -> bool {
    let set = input.policies;
    if !kept.unique
        || set.policies.len() != kept.names.len()
        || input.inventory.workloads.len() != kept.workloads
        || input.node != kept.node.as_deref()
        || *input.modes != kept.modes
        || *input.interfaces != kept.interfaces
    {
        return false;
    }
    let mut touched: Vec<u32> = Vec::with_capacity(changed.len());
    for name in changed {
        let Ok(p) = kept.names.binary_search(name) else {
            return false;
        };
        match kept.policy(set, p as u32) {
            Some(policy) if shape(policy) == kept.shapes[p] => touched.push(p as u32),
            _ => return false,
        }
    }
    touched.sort_unstable();
    touched.dedup();
    let mut endpoints: Vec<u32> = touched
        .iter()
        .flat_map(|&p| kept.isolates[p as usize].iter().copied())
        .collect();
    endpoints.sort_unstable();
    endpoints.dedup();

    // Every policy a rebuilt table reads must sit where it did, with as many rules.
    let fits = |p: u32| {
        kept.policy(set, p).is_some_and(|policy| {
            [Direction::Ingress, Direction::Egress]
                .iter()
                .zip(&kept.ranges[p as usize])
                .all(|(&d, r)| policy.rules(d).map(<[_]>::len) == r.as_ref().map(|r| r.len()))
        })
    };
    let view = View { kept, set };
    let ctx = Context {
        source: &view,
        id_peer_sets: &kept.id_peer_sets,
        named: &kept.named,
        rule_ids: &kept.rule_ids,
        peer_sets: &kept.peer_sets,
    };
    let mut scratch = Scratch::default();
    let mut rebuilt: Vec<(u32, [Option<DirectionProgram>; 2])> = Vec::new();
    for &l in &endpoints {
        let Some(w) = input
            .inventory
            .workloads
            .get(kept.local_inventory[l as usize] as usize)
            .filter(|w| w.id == program.endpoints[l as usize].workload)
        else {
            return false;
        };
        let mut slots = [None, None];
        for (slot, direction) in [Direction::Ingress, Direction::Egress]
            .into_iter()
            .enumerate()
        {
            let policies = kept.selecting[slot][l as usize].as_slice();
            if !policies.iter().any(|p| touched.binary_search(p).is_ok()) {
                continue;
            }
            if !policies.iter().all(|&p| fits(p)) {
                return false;
            }
            let old = &program.endpoints[l as usize];
            let mut table = ctx.direction(&mut scratch, w, direction, policies);
            table.default_rule = [&old.ingress, &old.egress][slot].default_rule;
            slots[slot] = Some(table);
        }
        rebuilt.push((l, slots));
    }

    // Nothing was changed above; from here on the update cannot fail.
    // A rule's reason names its action; policy, direction and index are in the shape.
    for &p in &touched {
        for range in kept.ranges[p as usize].iter().flatten() {
            for g in range.clone() {
                let id = kept.rule_ids[g as usize];
                if id == NO_RULE {
                    continue;
                }
                if let Some(Reason::Rule { action, .. }) = program.rules.get_mut(id as usize) {
                    *action = view.rule(g).action;
                }
            }
        }
    }
    for (l, [ingress, egress]) in rebuilt {
        let e = &mut program.endpoints[l as usize];
        if let Some(t) = ingress {
            e.ingress = t;
        }
        if let Some(t) = egress {
            e.egress = t;
        }
        e.fingerprint = e.content_fingerprint();
    }
    true
}
