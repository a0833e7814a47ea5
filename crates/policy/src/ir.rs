//! The normalized policy form both document kinds lower into.
//!
//! Kubernetes NetworkPolicy and the native `bulkhead.dev/v1` Policy differ in syntax and
//! defaults, but after parsing (defaults applied, named things kept symbolic) they are
//! the same thing: a subject selector and, per direction, an ordered list of rules.
//! The evaluator and the compiler read only this form, so both kinds get one semantics.

use crate::diag::Location;
use crate::model::{Action, Direction, Protocol};
use crate::selector::LabelSelector;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which document kind a policy came from (it decides a few semantics, see docs/policy.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// `networking.k8s.io/v1` NetworkPolicy.
    Kubernetes,
    /// `bulkhead.dev/v1` Policy.
    Native,
}

/// A policy's name: `namespace/name`, or a bare `name` for a cluster-wide native policy.
/// Names are unique across both kinds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PolicyName {
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// All policies in force, sorted by name (the order that breaks ties between rules).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicySet {
    pub policies: Vec<Policy>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub name: PolicyName,
    pub kind: PolicyKind,
    /// Where the document starts, for messages and "why" answers.
    pub source: Location,
    pub subject: Subject,
    /// `None`: the policy does not isolate this direction. `Some(rules)`: every selected
    /// workload is default-deny in this direction, except for what the rules allow
    /// (an empty list denies everything). How the rules of all policies isolating a
    /// workload combine (deny beats allow) is written down in [`crate::eval`].
    pub ingress: Option<Vec<Rule>>,
    pub egress: Option<Vec<Rule>>,
}

impl Policy {
    pub fn rules(&self, direction: Direction) -> Option<&[Rule]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }
}

/// Which workloads a policy applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub namespaces: NamespaceMatch,
    pub workloads: LabelSelector,
}

/// Which namespaces a selector looks in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NamespaceMatch {
    /// Exactly this namespace (a Kubernetes `podSelector` alone: the policy's own namespace).
    Named(String),
    /// Namespaces whose labels match.
    Selector(LabelSelector),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Position in its direction's list, as written (the `[i]` of `ingress[i]`).
    pub index: usize,
    pub action: Action,
    /// `None`: every peer, inside or outside the cluster. `Some` of an empty list matches
    /// no peer (a Kubernetes rule whose peers were all IPv6 blocks).
    pub peers: Option<Vec<Peer>>,
    /// `None`: every port of every protocol.
    pub ports: Option<Vec<PortSpec>>,
    pub source: Location,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// Workloads matching `workloads` (all of them if `None`) in the matching namespaces.
    Workloads {
        namespaces: NamespaceMatch,
        workloads: Option<LabelSelector>,
    },
    /// Any address in `net` but not in `except` (workload addresses included).
    Cidr {
        net: Ipv4Net,
        except: Vec<Ipv4Net>,
    },
    Entity(Entity),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    /// Every address outside the cluster's (lab's) subnets.
    World,
    /// The node's own addresses.
    Host,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    pub protocol: Protocol,
    pub port: PortMatch,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortMatch {
    /// Every port of the protocol.
    Any,
    /// `first..=last`; a single port has `first == last`.
    Range(u16, u16),
    /// Resolved on the destination workload; matches nothing where it is not defined.
    Named(String),
}

/// Why a direction's check decided as it did: the answer users ask for most.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// No policy selects the workload for this direction, so nothing is checked.
    NotIsolated,
    /// The peer on this side is not a workload (an outside address): there is nothing to check.
    NotAWorkload,
    /// A workload talking to itself is always allowed.
    SelfTraffic,
    /// A rule matched.
    Rule {
        policy: PolicyName,
        direction: Direction,
        index: usize,
        action: Action,
    },
    /// Isolated by these policies (sorted), and no rule allowed the traffic.
    DefaultDeny {
        direction: Direction,
        policies: Vec<PolicyName>,
    },
}

impl Reason {
    /// Whether the check this reason explains lets the traffic through.
    pub fn allows(&self) -> bool {
        match self {
            Reason::NotIsolated | Reason::NotAWorkload | Reason::SelfTraffic => true,
            Reason::Rule { action, .. } => *action == Action::Allow,
            Reason::DefaultDeny { .. } => false,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotIsolated => f.write_str("not isolated"),
            Reason::NotAWorkload => f.write_str("not a workload"),
            Reason::SelfTraffic => f.write_str("self"),
            Reason::Rule {
                policy,
                direction,
                index,
                action,
            } => write!(f, "{policy} {direction}[{index}] ({action})"),
            Reason::DefaultDeny {
                direction,
                policies,
            } => {
                let names: Vec<String> = policies.iter().map(ToString::to_string).collect();
                write!(f, "{} default-deny {direction}", names.join(","))
            }
        }
    }
}
