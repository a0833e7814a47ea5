//! The ruleset IR: a handful of maps (one per role, never one per endpoint), a handful
//! of chains, and the map elements in *parts*, one part per endpoint, so that a part
//! whose endpoint did not change is shared (an `Arc`) between two rulesets and costs
//! nothing to diff.

use super::decision::Decision;
use bulkhead_policy::WorkloadId;
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// A complete ruleset for the Bulkhead table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    /// Stamped into log prefixes and the table comment to tell programs apart.
    pub generation: u32,
    pub maps: BTreeMap<MapId, Map>,
    /// Shared (an `Arc`) with the previous ruleset of a [`super::Builder`] when equal, so
    /// that an update with 20,000 log chains neither rebuilds nor compares them.
    pub chains: Arc<BTreeMap<ChainName, Chain>>,
    /// Every map element, by owner.
    pub parts: BTreeMap<PartKey, Arc<Part>>,
    /// Kernel identity number → description, for the rendered text only.
    pub identities: Arc<Vec<(u32, String)>>,
}

impl Ruleset {
    /// Number of map and set elements, over all maps.
    pub fn element_count(&self) -> usize {
        self.parts.values().map(|p| p.elements.len()).sum()
    }

    /// The elements of one map in key order (for rendering, tests and the interpreter).
    pub fn elements(&self, map: MapId) -> Vec<&Element> {
        let mut v: Vec<&Element> = self
            .parts
            .values()
            .flat_map(|p| p.of(map))
            .map(|(_, e)| e)
            .collect();
        v.sort_by_key(|e| e.key);
        v
    }
}

/// Who owns a part of the elements: the shared maps (ipcache, verdicts) or one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartKey {
    Shared,
    Endpoint(WorkloadId),
    /// The unknown-address guard's ranges.
    Guard,
}

/// Elements sorted by (map, key); `decisions` lists (sorted, once each) the decision
/// codes its elements map to, so the verdict map and log chains can be assembled
/// without reading them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Part {
    pub elements: Vec<(MapId, Element)>,
    pub decisions: Vec<Decision>,
}

impl Part {
    /// The elements of `map` (a contiguous run, the list being sorted by map).
    pub fn of(&self, map: MapId) -> &[(MapId, Element)] {
        let lo = self.elements.partition_point(|(m, _)| *m < map);
        let hi = self.elements.partition_point(|(m, _)| *m <= map);
        &self.elements[lo..hi]
    }
}

/// A map's size hint for the kernel (`NFTA_SET_DESC_SIZE`): hash maps are allocated at
/// this size and never rehash; the kernel also refuses elements beyond it, so a map
/// that outgrows it is recreated (by a full replace). 0: no hint (the interval map).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Map {
    pub size: u32,
}

/// Every map the ruleset may hold. Each role exists once per direction at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MapId {
    /// `ipv4_addr`: the addresses of endpoints whose checks can drop (a set, no data).
    Enforced,
    /// `ipv4_addr : mark`, interval: the ipcache's non-/32 prefixes as disjoint ranges
    /// covering every address, to the identity of each.
    Ipcache,
    /// `ipv4_addr : mark`: the ipcache's /32 entries (they win over `Ipcache`).
    IpcacheExact,
    /// `mark : verdict`: a decision code's kind bits → what to do. The only map with
    /// verdicts, at most three elements.
    Verdicts,
    /// A policy lookup of one direction and level; the key layout follows from `kind`.
    Check(Dir, Level, Kind),
    /// `ipv4_addr : mark`: an isolated endpoint address → its default decision.
    Default(Dir),
    /// `ipv4_addr`, interval (a set, no data): guarded addresses not known yet
    /// ([`super::guard`]).
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dir {
    Egress,
    Ingress,
}

impl Dir {
    pub const BOTH: [Dir; 2] = [Dir::Egress, Dir::Ingress];

    /// The endpoint's own address: the source of what it sends, the destination of
    /// what it receives.
    pub fn own(self) -> AddrField {
        match self {
            Dir::Egress => AddrField::Saddr,
            Dir::Ingress => AddrField::Daddr,
        }
    }

    pub fn peer(self) -> AddrField {
        match self {
            Dir::Egress => AddrField::Daddr,
            Dir::Ingress => AddrField::Saddr,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Dir::Egress => "eg",
            Dir::Ingress => "in",
        }
    }
}

/// `Peer`: keyed by the peer identity too (`peers[identity]`); `Any`: for every peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Peer,
    Any,
}

/// What a check map's key holds after the address (and, at the peer level, identity).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `. meta l4proto . th dport`: one port.
    Port,
    /// `. meta l4proto . th dport & mask`: an aligned block of ports whose first
    /// `prefix` bits (1..=15) are fixed.
    Masked(u8),
    /// `. meta l4proto`: every port of a protocol.
    Proto,
    /// Nothing more, under `meta l4proto != { tcp, udp, sctp }`: protocol 0.
    Other,
}

impl Kind {
    /// The port mask of a masked map.
    pub fn mask(prefix: u8) -> u16 {
        !(u16::MAX >> prefix)
    }
}

impl fmt::Display for MapId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapId::Enforced => f.write_str("enforced"),
            MapId::Ipcache => f.write_str("ipcache"),
            MapId::IpcacheExact => f.write_str("ipcache_exact"),
            MapId::Verdicts => f.write_str("verdicts"),
            MapId::Unknown => f.write_str("unknown"),
            MapId::Default(d) => write!(f, "{}_default", d.prefix()),
            MapId::Check(d, level, kind) => {
                f.write_str(d.prefix())?;
                if *level == Level::Any {
                    f.write_str("_any")?;
                }
                match kind {
                    Kind::Port => f.write_str("_port"),
                    Kind::Masked(p) => write!(f, "_m{p}"),
                    Kind::Proto => f.write_str("_proto"),
                    Kind::Other => f.write_str("_other"),
                }
            }
        }
    }
}

/// One element. Keys are exact except in [`MapId::Ipcache`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub key: ElementKey,
    pub value: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElementKey {
    Addr(Ipv4Addr),
    /// An inclusive address range (the interval map only).
    Range(Ipv4Addr, Ipv4Addr),
    /// A decision code's kind bits (the verdict map).
    Mark(u32),
    /// A check map's key; the fields its map's [`Kind`] and [`Level`] do not use are 0
    /// (`peer` at the any level, `port` in `Proto` maps, both in `Other` maps). In a
    /// masked map `port` is the block's first port (already masked).
    Check {
        own: Ipv4Addr,
        peer: u32,
        protocol: u8,
        port: u16,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A set element: no data.
    None,
    /// A `mark` value: an identity or a decision code.
    Mark(u32),
    Verdict(Verdict),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Accept,
    Drop,
    Return,
    Jump(ChainName),
    Goto(ChainName),
}

/// Chain names are typed, so that elements and rules referring to chains cost no
/// allocation; [`fmt::Display`] spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChainName {
    Base(Hook),
    Egress,
    Ingress,
    /// Log as dropped, then drop (the rule is in the ct mark).
    Deny,
    /// Log as would-deny, then return. (Spelled `monitored`: `monitor` is an nft keyword.)
    Monitor,
}

impl fmt::Display for ChainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainName::Base(h) => f.write_str(h.name()),
            ChainName::Egress => f.write_str("egress"),
            ChainName::Ingress => f.write_str("ingress"),
            ChainName::Deny => f.write_str("deny"),
            ChainName::Monitor => f.write_str("monitored"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    Forward,
    Input,
    Output,
}

impl Hook {
    pub const ALL: [Hook; 3] = [Hook::Forward, Hook::Input, Hook::Output];

    pub fn name(self) -> &'static str {
        match self {
            Hook::Forward => "forward",
            Hook::Input => "input",
            Hook::Output => "output",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chain {
    /// `Some` for base chains (filter type, [`super::BASE_PRIORITY`], policy accept).
    pub hook: Option<Hook>,
    pub rules: Vec<Rule>,
}

/// How a log rule hands the deciding rule to the flow reader. NFLOG sends the packet's
/// mark (`NFULA_MARK`), not the connection's, so the decision code is copied from the
/// ct mark into the packet mark around the `log`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogMark {
    /// `meta mark set ct mark log ...`: the packet is dropped next, so its mark may go.
    FromCt,
    /// `meta mark set ct mark log ... meta mark set 0x00000000`: the packet goes on, so
    /// its mark is put back to what it was, which [`LogMark::OnlyIfMarked`] before it
    /// ensured was 0.
    FromCtThenClear,
    /// `meta mark != 0x00000000 log ...`: a packet with a mark of its own (policy routing,
    /// another firewall) keeps it, and is logged without a rule.
    OnlyIfMarked,
}

/// Which address of the packet a rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddrField {
    Saddr,
    Daddr,
}

impl AddrField {
    pub fn name(self) -> &'static str {
        match self {
            AddrField::Saddr => "saddr",
            AddrField::Daddr => "daddr",
        }
    }
}

/// The rule shapes the ruleset is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// `ct state established,related accept`
    AcceptEstablished,
    /// `ct state invalid,untracked ip <field> @enforced drop` (IPv4 only)
    DropUntracked(AddrField),
    /// `ip <field> @unknown drop` ([`super::guard`]).
    DropUnknown(AddrField),
    /// `ct mark set ip <field> map @<map>` (the ipcache maps).
    MarkPeer { field: AddrField, map: MapId },
    /// `ct mark set <key> map @<map>` for a [`MapId::Check`] or [`MapId::Default`] map;
    /// the key expression follows from the map.
    Check(MapId),
    /// `ct mark & 0x80000003 vmap @verdicts` ([`super::decision::KIND_MASK`])
    Decide,
    /// `ct mark set 0`
    ResetMark,
    /// `meta nfproto ipv4 jump <chain>`: the checks read IPv4 headers only.
    JumpIpv4(ChainName),
    /// `log prefix "<prefix>" group <group>` then the verdict, with the packet mark
    /// handled as `mark` says.
    Log {
        prefix: String,
        group: u16,
        verdict: Verdict,
        mark: LogMark,
    },
    /// A bare verdict.
    Verdict(Verdict),
}
