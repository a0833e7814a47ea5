//! The bounded queue between the flow thread and the shipper.
//!
//! Batches wait here while the server is slow or away. The queue holds at most
//! `max_records` records; when a new batch would exceed that, the oldest batches are
//! dropped and their records counted, and the count travels with the next batch (and
//! the agent's status), so the server shows what was lost.

use bulkhead_api::FlowBatch;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

pub struct Queue {
    inner: Mutex<Inner>,
    ready: Condvar,
    max_records: usize,
}

#[derive(Default)]
struct Inner {
    batches: VecDeque<FlowBatch>,
    records: usize,
    /// Records of batches dropped from the queue, not yet reported in a batch.
    carry: u64,
    closed: bool,
}

impl Queue {
    pub fn new(max_records: usize) -> Queue {
        Queue {
            inner: Mutex::new(Inner::default()),
            ready: Condvar::new(),
            max_records,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a batch; returns how many records were dropped to make room.
    pub fn push(&self, mut batch: FlowBatch) -> u64 {
        let mut q = self.lock();
        batch.dropped_records += std::mem::take(&mut q.carry);
        let mut dropped = 0u64;
        while q.records + batch.records.len() > self.max_records {
            let Some(old) = q.batches.pop_front() else {
                // The batch alone is too big: keep its first part.
                let over = batch.records.len() - self.max_records;
                batch.records.truncate(self.max_records);
                dropped += over as u64;
                batch.dropped_records += over as u64;
                break;
            };
            q.records -= old.records.len();
            let lost = old.records.len() as u64;
            dropped += lost;
            // Its own drop counts must still reach the server.
            batch.dropped_records += lost + old.dropped_records;
            batch.lost_events += old.lost_events;
        }
        q.records += batch.records.len();
        q.batches.push_back(batch);
        self.ready.notify_one();
        dropped
    }

    /// The oldest batch, left in the queue until [`done`](Self::done); waits up to
    /// `timeout`. `None` on timeout, or when closed and empty.
    pub fn front(&self, timeout: Duration) -> Option<FlowBatch> {
        let mut q = self.lock();
        if q.batches.is_empty() && !q.closed {
            q = self
                .ready
                .wait_timeout(q, timeout)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        q.batches.front().cloned()
    }

    /// Removes the batch with `sequence` after the server stored it (it may have been
    /// dropped meanwhile to make room).
    pub fn done(&self, sequence: Option<u64>) {
        let mut q = self.lock();
        if q.batches.front().map(|b| b.sequence) == Some(sequence)
            && let Some(b) = q.batches.pop_front()
        {
            q.records -= b.records.len();
        }
    }

    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    pub fn is_closed_and_empty(&self) -> bool {
        let q = self.lock();
        q.closed && q.batches.is_empty()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().batches.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_api::{FlowRecord, IpProtocol, Timestamp, Verdict};

    fn batch(seq: u64, n: usize) -> FlowBatch {
        let r = FlowRecord {
            source: "x/a".into(),
            destination: "x/b".into(),
            protocol: IpProtocol::TCP,
            port: 80,
            verdict: Verdict::Allowed,
            rule: None,
            packets: 1,
            bytes: 60,
            connections: 1,
            first_seen: Timestamp(0),
            last_seen: Timestamp(0),
            node: None,
        };
        FlowBatch {
            sequence: Some(seq),
            records: vec![r; n],
            ..FlowBatch::default()
        }
    }

    #[test]
    fn overflow_drops_the_oldest_and_reports_it_with_the_next_batch() {
        let q = Queue::new(10);
        assert_eq!(q.push(batch(1, 6)), 0);
        assert_eq!(q.push(batch(2, 6)), 6);
        assert_eq!(q.len(), 1);
        let b = q.front(Duration::ZERO).unwrap();
        assert_eq!((b.sequence, b.dropped_records), (Some(2), 6));
        q.done(Some(2));
        assert_eq!(q.push(batch(3, 15)), 5);
        assert_eq!(q.front(Duration::ZERO).unwrap().records.len(), 10);
    }
}
