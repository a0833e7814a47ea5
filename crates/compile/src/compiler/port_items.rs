//! A rule's ports in the compact form the per-endpoint tables read.
//!
//! The tables read every rule of every isolating policy once per distinct table. Going
//! from the flattened rules back into the policy set (rule, then its port list, then a
//! hash lookup of each egress named port) costs a few cache misses per rule, so the
//! whole compile copies the ports out while the rules are read anyway; the incremental
//! view, which rebuilds a handful of tables, converts from the IR as it goes.

use super::rules::NamedId;
use bulkhead_policy::ir::{PortMatch, PortSpec};
use bulkhead_policy::{Direction, Protocol};

/// One port spec of a rule, with what can be resolved before knowing the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PortItem<'a> {
    /// (protocol number, first, last), never empty.
    Range(u8, u16, u16),
    /// An ingress named port: the destination is the endpoint itself.
    Own(&'a str, Protocol),
    /// An egress named port, resolved per peer identity.
    Peer(NamedId, Protocol),
}

impl<'a> PortItem<'a> {
    /// `spec` of a rule in `direction`; `None` where it can match nothing (an empty
    /// range, or an egress name no identity resolves).
    pub fn of(
        spec: &'a PortSpec,
        direction: Direction,
        named_id: impl FnOnce(&'a str, Protocol) -> Option<NamedId>,
    ) -> Option<Self> {
        let n = spec.protocol.number();
        match &spec.port {
            PortMatch::Any => Some(PortItem::Range(n, 0, u16::MAX)),
            PortMatch::Range(a, b) if a <= b => Some(PortItem::Range(n, *a, *b)),
            PortMatch::Range(..) => None,
            PortMatch::Named(name) => match direction {
                Direction::Ingress => Some(PortItem::Own(name, spec.protocol)),
                Direction::Egress => {
                    named_id(name, spec.protocol).map(|id| PortItem::Peer(id, spec.protocol))
                }
            },
        }
    }
}

/// A rule's ports as a [`super::endpoint::RuleSource`] hands them out.
pub(crate) enum RulePorts<'r> {
    /// The rule lists no ports: every port of every protocol.
    All,
    /// Copied out while the rules were flattened.
    Flat(&'r [PortItem<'r>]),
    /// Straight from the IR, converted by [`PortItem::of`] as they are read.
    Specs(&'r [PortSpec]),
}
