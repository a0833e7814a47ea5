//! A flow batch as JSON, parsed in place: what [`super::aggregate`] sums when an agent
//! (or an older one) sends JSON rather than the binary body.

use super::aggregate::{BatchMeta, Rec};
use crate::store::Counters;
use bulkhead_api::{IpProtocol, Timestamp, Verdict};
use serde::Deserialize;
use std::borrow::Cow;

/// A flow batch as JSON, parsed in place: strings borrow from the request body unless
/// they hold escapes. The same fields, defaults and refusals as [`FlowBatch`](bulkhead_api::FlowBatch).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchJson<'a> {
    #[serde(default)]
    pub instance: Option<String>,
    #[serde(default)]
    pub sequence: Option<u64>,
    #[serde(borrow)]
    pub records: Vec<RecordJson<'a>>,
    #[serde(default)]
    pub dropped_records: u64,
    #[serde(default)]
    pub lost_events: u64,
}

/// A [`FlowRecord`](bulkhead_api::FlowRecord) as JSON, borrowed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordJson<'a> {
    #[serde(borrow)]
    pub source: Cow<'a, str>,
    #[serde(borrow)]
    pub destination: Cow<'a, str>,
    pub protocol: IpProtocol,
    pub port: u16,
    pub verdict: Verdict,
    #[serde(borrow)]
    pub rule: Option<Cow<'a, str>>,
    pub packets: u64,
    pub bytes: u64,
    #[serde(default = "one")]
    pub connections: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Ignored, as in [`FlowRecord`](bulkhead_api::FlowRecord): the server takes the node from the path.
    #[serde(default, borrow, rename = "node")]
    _node: Option<Cow<'a, str>>,
}

fn one() -> u64 {
    1
}

impl<'a> From<&'a RecordJson<'a>> for Rec<'a> {
    fn from(r: &'a RecordJson<'a>) -> Self {
        Rec {
            source: &r.source,
            destination: &r.destination,
            protocol: r.protocol,
            port: r.port,
            verdict: r.verdict,
            rule: r.rule.as_deref(),
            counters: Counters {
                packets: r.packets,
                bytes: r.bytes,
                connections: r.connections,
                first_seen: r.first_seen,
                last_seen: r.last_seen,
            },
        }
    }
}

impl BatchJson<'_> {
    pub fn meta(&self) -> BatchMeta {
        BatchMeta {
            instance: self.instance.clone(),
            sequence: self.sequence,
            dropped_records: self.dropped_records,
            lost_events: self.lost_events,
        }
    }
}
