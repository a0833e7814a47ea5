//! Flow ingest: a batch is aggregated per edge and per minute in memory, written in one
//! transaction (durable before the agent gets its answer), then added to the graph and
//! to the recent buckets.
//!
//! Aggregating first is what makes ingest fast: a batch of a million records over a few
//! thousand edges costs a few thousand row writes, and the per-record work is one hash
//! lookup with borrowed keys (no allocation). A batch writes its buckets (a row per edge
//! and minute); edge rows only when new or changed, their totals folded in once their
//! minutes are past: docs/bench/server.md.

use super::Core;
use super::aggregate::{BatchMeta, Namer, Rec, Summed, aggregate, record};
use super::inventory::{check_node, empty_agent};
use super::json_batch::BatchJson;
use super::retention;
use super::wire::{Resolved, wire_sums};
use crate::error::ServerError;
use crate::graph::recent::MINUTE_MS;
use crate::store::{self, Counters, EdgeData, EdgeUpdate, FlowWrite, StoredEdge};
use bulkhead_api::{Event, FlowBatch, IngestResult, Timestamp};
use foldhash::{HashMap, HashMapExt};
use petgraph::stable_graph::EdgeIndex;

/// Minutes still open for batches: agents ship every few seconds, so a batch holds the
/// current minute and at most the one before; older minutes are folded.
const OPEN_MINUTES: i64 = 2;

/// What the batch does to one edge, kept to update the graph after the commit.
enum Planned {
    Existing(EdgeIndex, EdgeData),
    New(StoredEdge),
}

impl Core {
    pub(super) fn ingest(&self, node: &str, batch: FlowBatch) -> Result<IngestResult, ServerError> {
        let meta = BatchMeta {
            instance: batch.instance,
            sequence: batch.sequence,
            dropped_records: batch.dropped_records,
            lost_events: batch.lost_events,
        };
        let records: Vec<Rec<'_>> = batch.records.iter().map(Rec::from).collect();
        self.ingest_records(node, meta, &records)
    }

    /// A batch as the JSON body of `POST /agents/{node}/flows`, parsed in place (off the
    /// lock, like the aggregation).
    pub(super) fn ingest_json(&self, node: &str, body: &[u8]) -> Result<IngestResult, ServerError> {
        check_node(node)?;
        let batch: BatchJson<'_> = crate::json::parse_json(body)?;
        let records: Vec<Rec<'_>> = batch.records.iter().map(Rec::from).collect();
        self.ingest_records(node, batch.meta(), &records)
    }

    /// A batch in the binary encoding (bulkhead_api::wire), its strings borrowed from
    /// the body: a malformed body is a 422 naming the byte and the field.
    pub(super) fn ingest_wire(&self, node: &str, body: &[u8]) -> Result<IngestResult, ServerError> {
        check_node(node)?;
        let view =
            bulkhead_api::wire::decode(body).map_err(|e| ServerError::invalid(e.to_string()))?;
        let meta = BatchMeta {
            instance: view.instance.map(str::to_string),
            sequence: view.sequence,
            dropped_records: view.dropped_records,
            lost_events: view.lost_events,
        };
        let sums = wire_sums(&view)?;
        self.ingest_sums(node, meta, sums, view.records.len() as u64)
    }

    pub(super) fn ingest_records(
        &self,
        node: &str,
        meta: BatchMeta,
        records: &[Rec<'_>],
    ) -> Result<IngestResult, ServerError> {
        check_node(node)?;
        let sums = aggregate(records)?;
        self.ingest_sums(node, meta, sums, records.len() as u64)
    }

    /// A batch summed per edge: stored, then added to the graph and the recent buckets.
    fn ingest_sums(
        &self,
        node: &str,
        meta: BatchMeta,
        sums: Summed<'_>,
        count: u64,
    ) -> Result<IngestResult, ServerError> {
        let mut state = self.lock();
        let mut agent = state
            .agents
            .get(node)
            .cloned()
            .unwrap_or_else(|| empty_agent(node, Timestamp::now()));
        if let (Some(i), Some(s)) = (&meta.instance, meta.sequence) {
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
        agent.dropped_records = agent.dropped_records.saturating_add(meta.dropped_records);
        agent.lost_events = agent.lost_events.saturating_add(meta.lost_events);

        // Plan: name numbers (new names get the next ones), the new totals of every
        // touched edge, new edges' ids, the buckets.
        let mut write = FlowWrite::default();
        let mut namer = Namer {
            pending: HashMap::new(),
            next: state.graph.names.next_id(),
        };
        let names = &state.graph.names;
        let node_id = namer.id(names, node, &mut write);
        let mut ids = Vec::with_capacity(sums.len());
        let mut resolved = Resolved::default();
        for (k, s) in &sums {
            let refs = s.refs;
            let mut id = |index, name| resolved.id(&mut namer, names, (index, name), &mut write);
            let src = id(refs.map(|r| r.source), k.source);
            let dst = id(refs.map(|r| r.destination), k.destination);
            let rule = s.rule.map_or(0, |r| id(refs.and_then(|x| x.rule), r));
            ids.push((src, dst, rule));
        }
        let mut found: Vec<Planned> = Vec::with_capacity(sums.len());
        let mut next_id = state.graph.next_id();
        let folded = state.folded;
        let mut newest = i64::MIN;
        for ((k, s), (src, dst, rule)) in sums.iter().zip(ids) {
            // Traffic in minutes already folded into the edge rows (a late batch) goes to
            // the row at once; the rest only to the buckets, folded later.
            let mut late = Counters::EMPTY;
            let mut late_minutes = Vec::new();
            for (m, c) in s.minutes.iter() {
                newest = newest.max(*m);
                if *m <= folded {
                    late.add(c);
                    late_minutes.push((*m, *c));
                }
            }
            let hit = state.graph.find(src, dst, k.protocol, k.port, k.verdict);
            let planned = match hit.and_then(|e| Some((e, *state.graph.get(e)?))) {
                Some((e, before)) => {
                    let mut data = before;
                    data.absorb(&s.total, rule, node_id);
                    if (data.rule, data.node) != (before.rule, before.node) || !late.is_empty() {
                        write.updates.push(EdgeUpdate {
                            id: data.id,
                            rule: data.rule,
                            node: data.node,
                            folded: late,
                        });
                    }
                    Planned::Existing(e, data)
                }
                None => {
                    let data = EdgeData {
                        id: next_id,
                        protocol: k.protocol,
                        port: k.port,
                        verdict: k.verdict,
                        rule,
                        node: node_id,
                        counters: s.total,
                    };
                    next_id += 1;
                    let stored = EdgeData {
                        counters: late,
                        ..data
                    };
                    write.new_edges.push(StoredEdge {
                        src,
                        dst,
                        data: stored,
                    });
                    Planned::New(StoredEdge { src, dst, data })
                }
            };
            let (id, idx) = match &planned {
                Planned::Existing(e, d) => (d.id, Some(*e)),
                Planned::New(row) => (row.data.id, None),
            };
            write
                .late
                .extend(late_minutes.into_iter().map(|(m, c)| (id, m, c)));
            for (m, c) in s.minutes.iter() {
                // A minute memory holds whole: its new value, overwritten in place.
                if state.recent.holds(*m) {
                    let mut v = *c;
                    if let Some(have) = idx.and_then(|e| state.recent.get(e, *m)) {
                        v.add(have);
                    }
                    write.bucket_sets.push((id, *m, v));
                } else {
                    write.buckets.push((id, *m, *c));
                }
            }
            found.push(planned);
        }
        // Minutes before the last two (by the batch, not past the server's clock) are
        // done: fold them into the edge rows with this batch, in its transaction.
        let now = Timestamp::now().millis().div_euclid(MINUTE_MS);
        let fold_to = newest.min(now).saturating_sub(OPEN_MINUTES);
        let fold = (newest > i64::MIN && fold_to > folded).then_some(fold_to);

        // Retention moves with the folded minutes (and the clock).
        let prune = fold.and_then(|to| {
            retention::cutoff(self.options.retention, Timestamp::now(), to, state.pruned)
        });
        state.store.relaxed(|tx| {
            store::write_flows(tx, &mut write)?;
            if let Some(to) = fold {
                store::fold(tx, folded, to)?;
            }
            if let Some(to) = prune {
                store::prune(tx, to)?;
            }
            store::save_agent(tx, &agent)
        })?;
        if let Some(to) = fold {
            state.folded = to;
        }
        if let Some(to) = prune {
            retention::pruned(&mut state, to);
        }

        // Committed: now the caches.
        for (id, name) in &write.names {
            state.graph.names.insert(*id, name);
        }
        let mut touched = Vec::with_capacity(found.len());
        for ((_, s), planned) in sums.iter().zip(&found) {
            let e = match planned {
                Planned::Existing(e, data) => {
                    state.graph.set(*e, *data);
                    *e
                }
                Planned::New(row) => state.graph.insert(row),
            };
            for (m, c) in s.minutes.iter() {
                state.recent.add(e, *m, c);
                state.hours.add(e, m.div_euclid(60), c);
            }
            touched.push(e);
        }
        state.recent.trim();
        state.hours.trim();
        state.agents.insert(node.to_string(), agent);
        for ((k, s), planned) in sums.iter().zip(&found) {
            let new_edge = matches!(planned, Planned::New(_));
            self.metrics
                .violation(k.verdict, s.total.connections, new_edge);
        }
        self.metrics
            .ingested(count, meta.dropped_records, meta.lost_events);
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
            let records = sums.iter().map(|(k, s)| record(k, s, node)).collect();
            self.publish(Event::Flows {
                node: node.to_string(),
                records,
            });
            self.publish(Event::Edges { edges });
        }
        Ok(IngestResult {
            accepted: count,
            duplicate: false,
            edges: found.len() as u64,
        })
    }
}
