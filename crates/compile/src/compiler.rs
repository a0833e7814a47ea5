//! `PolicySet` + `Inventory` → [`Program`].
//!
//! The stages, each in its own module:
//! 1. `rules`: policies in name order, rules numbered globally, peers interned.
//! 2. `select`: an index over the inventory answering selectors by posting lists.
//! 3. `identity`: addresses cut into atoms, atoms with equal signatures merged into
//!    identities, and the ipcache.
//! 4. `numbering`: the rule table, numbered as soon as it is known which policies
//!    isolate which local endpoints, so tables are written with final ids.
//! 5. `endpoint`: one endpoint's resolved port table for one direction; `tables`:
//!    all of them, shared between endpoints isolated alike, on several threads for
//!    large nodes.
//!
//! `incremental` keeps a whole compile's inner state ([`Compiler`]) so that a change of
//! a few policies' actions or port numbers rebuilds only the tables they touch.
//!
//! Everything is sorted by content, never by hash order, so one input gives one output.

mod assemble;
mod csr;
mod endpoint;
mod hash;
pub(crate) use hash::FastMap;
mod identity;
mod incremental;
pub use incremental::Compiler;
mod intern;
mod numbering;
mod par;
mod peer_sets;
mod port_items;
mod ports;
mod rules;
mod select;
mod subjects;
mod tables;

use crate::program::Program;
use bulkhead_policy::ir::PolicySet;
use bulkhead_policy::{Inventory, Mode, WorkloadId};
use std::collections::BTreeMap;
use std::sync::OnceLock;

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

/// Identity ids are `u32` map keys and 0 is the wildcard.
pub const MAX_IDENTITIES: usize = u32::MAX as usize;
/// Rule numbers share a `u32` with the allow/deny bit while compiling.
pub const MAX_RULES: usize = (ports::ALLOW_BIT - 1) as usize;
/// Endpoint indexes are `u32`.
pub const MAX_WORKLOADS: usize = u32::MAX as usize;

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error(
        "the compiled program needs {needed} identities, more than the {max} a map key can hold"
    )]
    TooManyIdentities { needed: usize, max: usize },
    #[error("the policies hold {needed} rules, more than the {max} a rule id can number")]
    TooManyRules { needed: usize, max: usize },
    #[error(
        "the inventory holds {needed} workloads, more than the {max} an endpoint index can number"
    )]
    TooManyWorkloads { needed: usize, max: usize },
}

/// Compiles what `input.node` must enforce.
///
/// - Identities: addresses share one iff every peer of every rule (selectors with their
///   namespaces, CIDRs and excepts, `world`, `host`) and every egress named port treats
///   them alike. The ipcache lists every workload and host address, every CIDR and
///   except, every cluster CIDR and `0.0.0.0/0`, minus prefixes no address can land on.
/// - Endpoints: the workloads on the node (every workload if `node` is `None`), by id.
/// - Tables: per endpoint and direction, `any` holds the verdicts that hold for every
///   identity and `peers[id]` the fully resolved entries where `id` decides otherwise
///   (deny beats allow; the first deny, else the first allow, by policy name and rule
///   index, names the rule). A rule without ports covers TCP, UDP and SCTP on every port
///   and protocol 0 (every other protocol) on port 0.
/// - Rules: `rules[0]` is "not isolated"; then every rule of every policy that isolates
///   some local endpoint in its direction, then the default denies, in [`Reason`] order.
///
/// The same input always gives the same program. Work grows with the input and the
/// program's size (entries), not with workloads × identities.
///
/// [`Reason`]: bulkhead_policy::ir::Reason
pub fn compile(input: &Input<'_>) -> Result<Program, CompileError> {
    compile_keeping(input, |_| ()).map(|(program, ())| program)
}

/// [`compile`], and what `keep` makes of its inner state (for incremental updates).
fn compile_keeping<K>(
    input: &Input<'_>,
    keep: impl FnOnce(incremental::Parts<'_, '_>) -> K,
) -> Result<(Program, K), CompileError> {
    let workloads = &input.inventory.workloads;
    let parallel = input.policies.policies.len().max(workloads.len()) >= par::PARALLEL_FROM;
    // The rules split in two parts, the second built beside the inventory's index: the
    // index costs about a third of the rules, so the helper thread takes the smaller
    // part of the rules.
    let (order, by_name) = rules::name_order(input.policies);
    let split = if parallel {
        by_name.len() * 5 / 8
    } else {
        by_name.len()
    };
    let (mut rules, (later, selector)) = par::both(
        parallel,
        || rules::Rules::part(&by_name[..split], 0),
        || {
            let later = rules::Rules::part(&by_name[split..], split as u32);
            (later, select::Selector::new(workloads))
        },
    );
    rules.append(later);
    rules.order = order;
    if rules.rules.len() > MAX_RULES {
        return Err(CompileError::TooManyRules {
            needed: rules.rules.len(),
            max: MAX_RULES,
        });
    }
    if workloads.len() > MAX_WORKLOADS {
        return Err(CompileError::TooManyWorkloads {
            needed: workloads.len(),
            max: MAX_WORKLOADS,
        });
    }
    let local: Vec<u32> = (0..selector.workloads.len() as u32)
        .filter(|&p| {
            let w = selector.workloads[p as usize];
            input.node.is_none_or(|n| w.node.as_deref() == Some(n))
        })
        .collect();
    // Identities and the isolating policies both read the rules and the index, not
    // each other. The rule table needs the latter and is most of the work on its side,
    // so the ingress default denies are built on the identities' thread once those are
    // done. Both threads ask for the isolating policies; a `OnceLock` computes them once
    // (the other side finds them ready or waits), and a panic there lets the other side
    // try again rather than wait forever.
    let selecting = OnceLock::new();
    let ((book, egress), (ids, ingress)) = {
        let subjects = || selecting.get_or_init(|| subjects::subjects(&rules, &selector, &local));
        par::both(
            parallel,
            || {
                let book = numbering::Book::new(&rules, subjects());
                (book, numbering::Defaults::new(&rules, subjects(), 1))
            },
            || {
                let ids = identity::build(input.inventory, &selector, &rules);
                (ids, numbering::Defaults::new(&rules, subjects(), 0))
            },
        )
    };
    let book = book.with([ingress, egress]);
    let selecting = selecting
        .into_inner()
        .unwrap_or_else(|| subjects::subjects(&rules, &selector, &local));
    if ids.count() > MAX_IDENTITIES {
        return Err(CompileError::TooManyIdentities {
            needed: ids.count(),
            max: MAX_IDENTITIES,
        });
    }

    let peer_sets = peer_sets::peer_sets(&rules, &ids.peer_sets, ids.count(), &book.rule_ids);
    let ctx = endpoint::Context {
        source: &rules,
        id_peer_sets: &ids.peer_sets,
        named: &ids.named,
        rule_ids: &book.rule_ids,
        peer_sets: &peer_sets,
    };
    let endpoints = tables::build(&tables::Inputs {
        ctx: &ctx,
        book: &book,
        rules: &rules,
        local: &local,
        selecting: &selecting,
        shared: &assemble::Shared {
            input,
            selector: &selector,
            local: &local,
            workload_identity: &ids.workload_identity,
        },
    });
    let (reasons, rule_ids) = book.finish();
    let program = Program {
        rules: reasons,
        identities: ids.identities,
        ipcache: ids.ipcache,
        endpoints,
    };
    let kept = keep(incremental::Parts {
        input,
        rules: &rules,
        position: &selector.position,
        local: &local,
        selecting,
        rule_ids,
        peer_sets,
        id_peer_sets: ids.peer_sets,
        named: ids.named,
    });
    Ok((program, kept))
}
