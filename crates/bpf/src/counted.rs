//! [`CountedFlows`]: the event ring plus the connections' counters, as one
//! [`FlowSource`].
//!
//! The ring says when a connection is admitted or a packet dropped, carrying the first
//! packet only; the programs count the rest in the conntrack map. Sweeping that map at
//! a steady pace turns the counters into `End` events (totals so far), which the agent
//! turns into per-edge deltas. A connection checked at both ends of one node has two
//! entries with equal counts; readers keep the larger total per connection, so nothing
//! is counted twice.

use crate::{EbpfFlows, Error, conntrack};
use bulkhead_compile::Outcome;
use bulkhead_dataplane::{FlowEvent, FlowKind, FlowSource};
use bulkhead_ebpf_common::OUTCOME_WOULD_DENY;
use std::time::{Duration, Instant, SystemTime};

pub struct CountedFlows {
    ring: EbpfFlows,
    netns: String,
    every: Duration,
    next_sweep: Instant,
}

impl CountedFlows {
    /// The flows of the node whose namespace is `/run/netns/{netns}`; counters are read
    /// every `every`.
    pub fn open(netns: &str, every: Duration) -> Result<CountedFlows, Error> {
        Ok(CountedFlows {
            ring: EbpfFlows::open(netns)?,
            netns: netns.to_string(),
            every,
            next_sweep: Instant::now() + every,
        })
    }

    fn sweep(&mut self, out: &mut Vec<FlowEvent>) -> Result<(), Error> {
        let now = SystemTime::now();
        for c in conntrack::connections(&self.netns)? {
            let s = &c.state;
            out.push(FlowEvent {
                kind: FlowKind::End,
                outcome: if s.outcome == OUTCOME_WOULD_DENY {
                    Outcome::WouldDeny
                } else {
                    Outcome::Allowed
                },
                protocol: c.protocol,
                src: c.src,
                src_port: c.src_port,
                dst: c.dst,
                dst_port: c.dst_port,
                rule: s.rule,
                generation: s.generation,
                packets: s.packets + s.reply_packets,
                bytes: s.bytes + s.reply_bytes,
                time: now,
            });
        }
        Ok(())
    }
}

impl FlowSource for CountedFlows {
    fn poll(
        &mut self,
        out: &mut Vec<FlowEvent>,
        timeout: Duration,
    ) -> Result<(), bulkhead_dataplane::Error> {
        let until_sweep = self.next_sweep.saturating_duration_since(Instant::now());
        self.ring.poll(out, timeout.min(until_sweep))?;
        if Instant::now() >= self.next_sweep {
            self.next_sweep = Instant::now() + self.every;
            self.sweep(out)?;
        }
        Ok(())
    }

    fn lost(&self) -> u64 {
        self.ring.lost()
    }
}
