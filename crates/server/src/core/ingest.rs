//! Flow ingest: a batch is aggregated per edge and per minute in memory, written in one
//! transaction (durable before the agent gets its answer), then added to the graph.
//!
//! Aggregating first is what makes ingest fast: a batch of a million records over a few
//! thousand edges costs a few thousand row writes, and the per-record work is one hash
//! lookup with borrowed keys (no allocation).

use super::Core;
use super::inventory::{check_node, empty_agent};
use crate::error::ServerError;
use crate::store::{self, Counters, EdgeRow, FlowWrite};
use bulkhead_api::{Event, FlowBatch, FlowRecord, IngestResult, IpProtocol, Timestamp, Verdict};
use foldhash::{HashMap, HashMapExt};
use petgraph::stable_graph::EdgeIndex;

/// An edge's key, borrowed from the batch.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key<'a> {
    source: &'a str,
    destination: &'a str,
    protocol: IpProtocol,
    port: u16,
    verdict: Verdict,
    rule: Option<&'a str>,
}

/// An edge's counters over the batch, and per minute (a batch rarely spans more than two).
struct Sums {
    /// Where the key first appears in the batch: new edges get ids in that order.
    first: usize,
    total: Counters,
    minutes: Vec<(i64, Counters)>,
}

const MINUTE_MS: i64 = 60_000;

/// What the batch does to one edge, kept to update the graph after the commit.
enum Planned {
    Existing(EdgeIndex, Counters),
    /// Index into `FlowWrite::new_edges` (pushed in id order, so sorting keeps it).
    New(usize),
}

impl Core {
    pub(super) fn ingest(&self, node: &str, batch: FlowBatch) -> Result<IngestResult, ServerError> {
        check_node(node)?;
        let mut sums: Vec<(Key<'_>, Sums)> = aggregate(&batch.records)?.into_iter().collect();
        sums.sort_unstable_by_key(|(_, s)| s.first);
        let records = batch.records.len() as u64;

        let mut state = self.lock();
        let mut agent = state
            .agents
            .get(node)
            .cloned()
            .unwrap_or_else(|| empty_agent(node, Timestamp::now()));
        if let (Some(i), Some(s)) = (&batch.instance, batch.sequence) {
            if agent.instance.as_ref() == Some(i)
                && agent.last_sequence.is_some_and(|last| s <= last)
            {
                self.metrics.duplicate_batch();
                return Ok(IngestResult {
                    accepted: 0,
                    duplicate: true,
                    edges: 0,
                });
            }
            agent.instance = Some(i.clone());
            agent.last_sequence = Some(s);
        }
        agent.dropped_records = agent.dropped_records.saturating_add(batch.dropped_records);
        agent.lost_events = agent.lost_events.saturating_add(batch.lost_events);

        // Plan: which edges exist (and where), which are new (and their ids).
        let mut write = FlowWrite {
            node: node.to_string(),
            ..FlowWrite::default()
        };
        let mut found: Vec<Planned> = Vec::with_capacity(sums.len());
        let mut next_id = state.graph.next_id();
        for (k, s) in &sums {
            let hit = state.graph.find(
                k.source,
                k.destination,
                k.protocol,
                k.port,
                k.verdict,
                k.rule,
            );
            let id = match hit {
                Some((edge, id)) => {
                    write.updates.push((id, s.total));
                    found.push(Planned::Existing(edge, s.total));
                    id
                }
                None => {
                    let id = next_id;
                    next_id += 1;
                    write.new_edges.push(EdgeRow {
                        id,
                        source: k.source.to_string(),
                        destination: k.destination.to_string(),
                        protocol: k.protocol,
                        port: k.port,
                        verdict: k.verdict,
                        rule: k.rule.map(str::to_string),
                        node: Some(node.to_string()),
                        counters: s.total,
                    });
                    found.push(Planned::New(write.new_edges.len() - 1));
                    id
                }
            };
            write
                .buckets
                .extend(s.minutes.iter().map(|(m, c)| (id, *m, *c)));
        }

        let tx = state.store.transaction()?;
        store::write_flows(&tx, &mut write)?;
        store::save_agent(&tx, &agent)?;
        tx.commit()?;

        // Committed: now the caches. Collect the touched edges for live updates.
        let mut touched = Vec::with_capacity(found.len());
        for planned in &found {
            match planned {
                Planned::Existing(e, counters) => {
                    state.graph.add(*e, counters, node);
                    touched.push(*e);
                }
                Planned::New(i) => {
                    let row = &write.new_edges[*i];
                    touched.push(state.graph.insert(row));
                }
            }
        }
        state.agents.insert(node.to_string(), agent);
        for ((k, s), planned) in sums.iter().zip(&found) {
            let new_edge = matches!(planned, Planned::New(_));
            self.metrics
                .violation(k.verdict, s.total.connections, new_edge);
        }
        self.metrics
            .ingested(records, batch.dropped_records, batch.lost_events);
        self.metrics
            .set_graph(state.graph.node_count(), state.graph.edge_count());
        self.metrics.set_agents(&state.agents);
        let wanted = self.events.receiver_count() > 0;
        let edges = if wanted {
            touched
                .iter()
                .filter_map(|e| state.graph.edge_view(*e))
                .collect()
        } else {
            Vec::new()
        };
        drop(state);

        if wanted {
            let records = sums
                .iter()
                .map(|(k, s)| record(k, &s.total, node))
                .collect();
            self.publish(Event::Flows {
                node: node.to_string(),
                records,
            });
            self.publish(Event::Edges { edges });
        }
        Ok(IngestResult {
            accepted: records,
            duplicate: false,
            edges: found.len() as u64,
        })
    }
}

/// Sums the batch per edge and minute; rejects records that make no sense, naming them.
fn aggregate(records: &[FlowRecord]) -> Result<HashMap<Key<'_>, Sums>, ServerError> {
    let mut sums: HashMap<Key<'_>, Sums> = HashMap::with_capacity(records.len().min(1 << 16));
    for (i, r) in records.iter().enumerate() {
        if r.source.is_empty() || r.destination.is_empty() {
            let field = if r.source.is_empty() {
                "source"
            } else {
                "destination"
            };
            return Err(ServerError::invalid(format!(
                "records[{i}].{field}: must not be empty"
            )));
        }
        if r.last_seen < r.first_seen {
            return Err(ServerError::invalid(format!(
                "records[{i}].last_seen: is before first_seen"
            )));
        }
        let key = Key {
            source: &r.source,
            destination: &r.destination,
            protocol: r.protocol,
            port: r.port,
            verdict: r.verdict,
            rule: r.rule.as_deref(),
        };
        let c = Counters {
            packets: r.packets,
            bytes: r.bytes,
            connections: r.connections,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
        };
        let minute = r.last_seen.millis().div_euclid(MINUTE_MS);
        let s = sums.entry(key).or_insert_with(|| Sums {
            first: i,
            total: c,
            minutes: Vec::new(),
        });
        // A new entry already holds `c` as its total; only later records add to it.
        if !s.minutes.is_empty() {
            s.total.add(&c);
        }
        match s.minutes.iter_mut().find(|(m, _)| *m == minute) {
            Some((_, m)) => m.add(&c),
            None => s.minutes.push((minute, c)),
        }
    }
    Ok(sums)
}

fn record(k: &Key<'_>, c: &Counters, node: &str) -> FlowRecord {
    FlowRecord {
        source: k.source.to_string(),
        destination: k.destination.to_string(),
        protocol: k.protocol,
        port: k.port,
        verdict: k.verdict,
        rule: k.rule.map(str::to_string),
        packets: c.packets,
        bytes: c.bytes,
        connections: c.connections,
        first_seen: c.first_seen,
        last_seen: c.last_seen,
        node: Some(node.to_string()),
    }
}
