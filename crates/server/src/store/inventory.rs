//! Workloads as agents report them, the agents themselves, and workload modes.

use crate::error::ServerError;
use bulkhead_api::{AgentStatus, Timestamp};
use bulkhead_policy::{Mode, Workload, WorkloadId};
use ipnet::Ipv4Net;
use rusqlite::{Connection, params};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub fn load_workloads(conn: &Connection) -> Result<Vec<(Workload, Timestamp)>, ServerError> {
    let mut stmt = conn.prepare_cached("SELECT body, last_seen FROM workloads ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (body, seen) = row?;
        out.push((serde_json::from_str(&body)?, Timestamp(seen)));
    }
    Ok(out)
}

pub fn upsert_workload(
    conn: &Connection,
    w: &Workload,
    node: &str,
    seen: Timestamp,
) -> Result<(), ServerError> {
    conn.execute(
        "INSERT INTO workloads (id, node, body, last_seen) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET node = excluded.node, body = excluded.body,
           last_seen = excluded.last_seen",
        params![
            w.id.to_string(),
            node,
            serde_json::to_string(w)?,
            seen.millis()
        ],
    )?;
    Ok(())
}

/// Removes the workloads of `node` not in `keep`; returns how many went.
pub fn delete_workloads_except(
    conn: &Connection,
    node: &str,
    keep: &[WorkloadId],
) -> Result<usize, ServerError> {
    let keep: Vec<String> = keep.iter().map(ToString::to_string).collect();
    let mut stmt = conn.prepare_cached("SELECT id FROM workloads WHERE node = ?1")?;
    let ids = stmt
        .query_map(params![node], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut gone = 0;
    for id in ids.iter().filter(|id| !keep.contains(id)) {
        gone += conn.execute("DELETE FROM workloads WHERE id = ?1", params![id])?;
    }
    Ok(gone)
}

/// An agent's last report, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRow {
    pub node: String,
    pub status: AgentStatus,
    pub cluster_cidrs: Vec<Ipv4Net>,
    pub host_ips: Vec<Ipv4Addr>,
    pub last_seen: Timestamp,
    /// The last flow batch stored, for idempotent retries.
    pub instance: Option<String>,
    pub last_sequence: Option<u64>,
    /// Totals of what the agent's batches said it dropped or lost.
    pub dropped_records: u64,
    pub lost_events: u64,
}

pub fn load_agents(conn: &Connection) -> Result<Vec<AgentRow>, ServerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT node, status, cluster_cidrs, host_ips, last_seen, instance, last_sequence,
                dropped_records, lost_events FROM agents ORDER BY node",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, Option<i64>>(6)?,
            r.get::<_, i64>(7)?,
            r.get::<_, i64>(8)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (node, status, cidrs, ips, seen, instance, seq, dropped, lost) = row?;
        out.push(AgentRow {
            node,
            status: serde_json::from_str(&status)?,
            cluster_cidrs: serde_json::from_str(&cidrs)?,
            host_ips: serde_json::from_str(&ips)?,
            last_seen: Timestamp(seen),
            instance,
            last_sequence: seq.map(|s| s as u64),
            dropped_records: dropped as u64,
            lost_events: lost as u64,
        });
    }
    Ok(out)
}

pub fn save_agent(conn: &Connection, a: &AgentRow) -> Result<(), ServerError> {
    conn.execute(
        "INSERT INTO agents (node, status, cluster_cidrs, host_ips, last_seen, instance,
                             last_sequence, dropped_records, lost_events)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (node) DO UPDATE SET status = excluded.status,
           cluster_cidrs = excluded.cluster_cidrs, host_ips = excluded.host_ips,
           last_seen = excluded.last_seen, instance = excluded.instance,
           last_sequence = excluded.last_sequence, dropped_records = excluded.dropped_records,
           lost_events = excluded.lost_events",
        params![
            a.node,
            serde_json::to_string(&a.status)?,
            serde_json::to_string(&a.cluster_cidrs)?,
            serde_json::to_string(&a.host_ips)?,
            a.last_seen.millis(),
            a.instance,
            a.last_sequence.map(super::to_i64),
            super::to_i64(a.dropped_records),
            super::to_i64(a.lost_events)
        ],
    )?;
    Ok(())
}

pub fn load_modes(conn: &Connection) -> Result<BTreeMap<WorkloadId, Mode>, ServerError> {
    let mut stmt = conn.prepare_cached("SELECT workload, mode FROM modes")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (id, mode) = row?;
        let id: WorkloadId = id.parse().map_err(ServerError::Corrupt)?;
        out.insert(id, mode.parse().map_err(ServerError::Corrupt)?);
    }
    Ok(out)
}

pub fn set_mode(
    conn: &Connection,
    id: &WorkloadId,
    mode: Mode,
    at: Timestamp,
    author: &str,
) -> Result<(), ServerError> {
    conn.execute(
        "INSERT INTO modes (workload, mode, updated_at, author) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workload) DO UPDATE SET mode = excluded.mode,
           updated_at = excluded.updated_at, author = excluded.author",
        params![id.to_string(), mode.to_string(), at.millis(), author],
    )?;
    Ok(())
}
