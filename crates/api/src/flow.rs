//! Flow records: what the agents see and ship, what `observe` prints.
//!
//! A record is an *aggregate*: every connection with the same (source, destination,
//! protocol, port, verdict, rule) between `first_seen` and `last_seen`. Agents aggregate
//! before shipping and the server aggregates again, per edge and per minute, so the
//! volume stored grows with the number of distinct edges, not with traffic.

use crate::time::{TimeBound, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// What happened to a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Allowed,
    Denied,
    /// Allowed because the workload is in `monitor` mode, though the policies deny it.
    WouldDeny,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Verdict::Allowed, Verdict::Denied, Verdict::WouldDeny];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Denied => "denied",
            Verdict::WouldDeny => "would-deny",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown verdict `{s}`, expected allowed, denied or would-deny"))
    }
}

/// An IP protocol number, written by name when it has one (`TCP`, `UDP`, `SCTP`, `ICMP`)
/// and as its decimal number otherwise: the kernel reports numbers, users read names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    pub const ICMP: IpProtocol = IpProtocol(1);
    pub const TCP: IpProtocol = IpProtocol(6);
    pub const UDP: IpProtocol = IpProtocol(17);
    pub const SCTP: IpProtocol = IpProtocol(132);

    /// The protocol as policies know it, if it is one they can name.
    pub fn policy_protocol(self) -> Option<bulkhead_policy::Protocol> {
        bulkhead_policy::Protocol::from_number(self.0)
    }
}

impl From<bulkhead_policy::Protocol> for IpProtocol {
    fn from(p: bulkhead_policy::Protocol) -> Self {
        IpProtocol(p.number())
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("ICMP"),
            n => match bulkhead_policy::Protocol::from_number(n) {
                Some(p) => f.write_str(p.as_str()),
                None => write!(f, "{n}"),
            },
        }
    }
}

impl FromStr for IpProtocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "ICMP" {
            return Ok(IpProtocol::ICMP);
        }
        if let Ok(p) = s.parse::<bulkhead_policy::Protocol>() {
            return Ok(p.into());
        }
        s.parse::<u8>().map(IpProtocol).map_err(|_| {
            format!("unknown protocol `{s}`, expected TCP, UDP, SCTP, ICMP or a number 0-255")
        })
    }
}

impl Serialize for IpProtocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpProtocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(crate::time::Parsed::<IpProtocol>(std::marker::PhantomData))
    }
}

/// One aggregated flow record (see CONTRACT.md, `observe`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowRecord {
    /// A workload id (`x/a`), or an address for something outside the inventory.
    pub source: String,
    pub destination: String,
    pub protocol: IpProtocol,
    /// The destination port (0 for protocols without ports).
    pub port: u16,
    pub verdict: Verdict,
    /// The deciding policy and rule (`x/p ingress[0] (allow)`), or null when none applied.
    pub rule: Option<String>,
    pub packets: u64,
    pub bytes: u64,
    /// How many connections (or drop events) this record sums up; 1 when unknown.
    #[serde(default = "one")]
    pub connections: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// The node whose agent reported it; in a batch the server fills it in from the path.
    #[serde(default)]
    pub node: Option<String>,
}

fn one() -> u64 {
    1
}

/// What an agent ships: records aggregated since the last batch, plus what it lost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowBatch {
    /// Identifies the agent process; with `sequence` it makes retries idempotent: the
    /// server ignores a batch whose (instance, sequence) it has already stored.
    #[serde(default)]
    pub instance: Option<String>,
    #[serde(default)]
    pub sequence: Option<u64>,
    pub records: Vec<FlowRecord>,
    /// Records the agent had to drop since its last batch (full buffers, server away).
    #[serde(default)]
    pub dropped_records: u64,
    /// Kernel events lost since the last batch (ring buffer or socket overruns).
    #[serde(default)]
    pub lost_events: u64,
}

/// The answer to a batch, sent once the records are durably stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResult {
    pub accepted: u64,
    /// True when the batch was a retry of one already stored (nothing was counted twice).
    pub duplicate: bool,
    /// How many distinct edges the batch touched.
    pub edges: u64,
}

/// Filters of `GET /api/v1/flows` (and of `/api/v1/events` for flow events).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowQuery {
    /// Records with this workload (or address) as source or destination.
    pub workload: Option<String>,
    /// Records with a workload of this namespace on either side.
    pub namespace: Option<String>,
    pub verdict: Option<Verdict>,
    /// Only traffic seen at or after this time (`15m` back, or RFC 3339); minute granularity.
    pub since: Option<TimeBound>,
    pub until: Option<TimeBound>,
    /// Page size (default 1000, at most 10000).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<u64>,
}

impl FlowQuery {
    /// Whether `r` passes the workload, namespace and verdict filters (not the time ones).
    pub fn matches(&self, r: &FlowRecord) -> bool {
        let in_ns = |ep: &str, ns: &str| ep.split_once('/').is_some_and(|(n, _)| n == ns);
        self.workload
            .as_ref()
            .is_none_or(|w| &r.source == w || &r.destination == w)
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| in_ns(&r.source, ns) || in_ns(&r.destination, ns))
            && self.verdict.is_none_or(|v| v == r.verdict)
    }
}

/// One page of flow records, ordered by edge (stable across pages).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowPage {
    pub records: Vec<FlowRecord>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<u64>,
    /// With `since` or `until`: the time the counters cover (see [`crate::CoveredWindow`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<crate::CoveredWindow>,
}
