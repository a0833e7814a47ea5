//! [`EbpfFlows`]: the ring buffer of flow events, as a [`FlowSource`].

use crate::Error;
use crate::pins::PinDir;
use aya::maps::{Map, MapData, PerCpuArray, RingBuf};
use bulkhead_compile::Outcome;
use bulkhead_dataplane::{FlowEvent, FlowKind, FlowSource};
use bulkhead_ebpf_common::{EVENT_NEW, OUTCOME_DENIED, OUTCOME_WOULD_DENY, RawEvent, names};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::time::{ClockId, clock_gettime};
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Reads one node's flow events. Any number of readers may exist, but each event goes
/// to one of them: run one per node.
pub struct EbpfFlows {
    ring: RingBuf<MapData>,
    lost: PerCpuArray<MapData, u64>,
    /// The last loss count read, reported if the map cannot be read.
    last_lost: AtomicU64,
}

fn open_map(dir: &PinDir, name: &str) -> Result<Map, Error> {
    let path = dir.map(name);
    let data =
        MapData::from_pin(&path).map_err(|e| Error::map(format!("open {}", path.display()), e))?;
    Map::from_map_data(data).map_err(|e| Error::map(format!("open {}", path.display()), e))
}

impl EbpfFlows {
    /// Opens the event ring of the node whose namespace is `/run/netns/{netns}`, as
    /// pinned by [`EbpfDataplane`](crate::EbpfDataplane).
    pub fn open(netns: &str) -> Result<EbpfFlows, Error> {
        let dir = PinDir::for_netns(netns);
        let ring = open_map(&dir, names::EVENTS)?
            .try_into()
            .map_err(|e| Error::map("BH_EVENTS", e))?;
        let lost = open_map(&dir, names::LOST)?
            .try_into()
            .map_err(|e| Error::map("BH_LOST", e))?;
        Ok(EbpfFlows {
            ring,
            lost,
            last_lost: AtomicU64::new(0),
        })
    }

    /// Appends every event available now; returns how many.
    pub fn drain(&mut self, out: &mut Vec<FlowEvent>) -> usize {
        let clock = Clock::now();
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            if let Some(raw) = decode(&item) {
                out.push(clock.event(&raw));
                n += 1;
            }
        }
        n
    }

    /// Like [`drain`](Self::drain), but hands out the raw events (no allocation per
    /// event): for aggregating at full speed.
    pub fn drain_raw(&mut self, mut f: impl FnMut(&RawEvent)) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            if let Some(raw) = decode(&item) {
                f(&raw);
                n += 1;
            }
        }
        n
    }

    /// Waits until events are available or `timeout` passes.
    pub fn wait(&self, timeout: Duration) -> Result<(), Error> {
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.ring.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
            Err(e) => Err(Error::io("poll the event ring", e.into())),
        }
    }

    fn read_lost(&self) -> Result<u64, Error> {
        let values = self
            .lost
            .get(&0, 0)
            .map_err(|e| Error::map("read BH_LOST", e))?;
        Ok(values.iter().sum())
    }
}

/// A ring-buffer record as the programs wrote it; `None` if it is too short.
pub fn decode(bytes: &[u8]) -> Option<RawEvent> {
    if bytes.len() < size_of::<RawEvent>() {
        return None;
    }
    // SAFETY: `RawEvent` is plain old data (any bit pattern is valid) and the slice
    // holds at least `size_of::<RawEvent>()` bytes; the read does not assume alignment.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<RawEvent>()) })
}

/// Converts the kernel's CLOCK_MONOTONIC stamps to wall-clock time.
struct Clock {
    boot: SystemTime,
}

impl Clock {
    fn now() -> Clock {
        let wall = SystemTime::now();
        let mono = clock_gettime(ClockId::CLOCK_MONOTONIC)
            .map(|t| Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32))
            .unwrap_or_default();
        Clock {
            boot: wall.checked_sub(mono).unwrap_or(wall),
        }
    }

    fn event(&self, raw: &RawEvent) -> FlowEvent {
        FlowEvent {
            kind: if raw.kind == EVENT_NEW {
                FlowKind::New
            } else {
                FlowKind::Verdict
            },
            outcome: match raw.outcome {
                OUTCOME_DENIED => Outcome::Denied,
                OUTCOME_WOULD_DENY => Outcome::WouldDeny,
                _ => Outcome::Allowed,
            },
            protocol: raw.protocol,
            src: Ipv4Addr::from(raw.saddr),
            src_port: raw.sport,
            dst: Ipv4Addr::from(raw.daddr),
            dst_port: raw.dport,
            rule: raw.rule,
            generation: raw.generation,
            packets: 1,
            bytes: u64::from(raw.bytes),
            time: self.boot + Duration::from_nanos(raw.time_ns),
        }
    }
}

impl FlowSource for EbpfFlows {
    fn poll(
        &mut self,
        out: &mut Vec<FlowEvent>,
        timeout: Duration,
    ) -> Result<(), bulkhead_dataplane::Error> {
        if self.drain(out) > 0 {
            return Ok(());
        }
        self.wait(timeout)?;
        self.drain(out);
        Ok(())
    }

    fn lost(&self) -> u64 {
        match self.read_lost() {
            Ok(n) => {
                self.last_lost.store(n, Ordering::Relaxed);
                n
            }
            Err(e) => {
                tracing::warn!("{e}; reporting the last count read");
                self.last_lost.load(Ordering::Relaxed)
            }
        }
    }
}
