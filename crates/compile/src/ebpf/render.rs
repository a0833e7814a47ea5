//! A stable text form of [`NodeMaps`](super::NodeMaps), for golden files.
//!
//! ```text
//! ipcache:
//!   10.0.0.10/32 -> 2
//! endpoint x/a interface=v1234abcd id=0 mode=enforce isolated=ingress defaults=3,0
//!   ingress peer=5 TCP 80/16 -> allow 1
//!   egress any other 0/16 -> deny 4
//! ```
//!
//! Ports print as `first/bits`: the prefix of the LPM key.

use super::NodeMaps;
use bulkhead_ebpf_common::{
    ACTION_ALLOW, ANY_IDENTITY, DIR_EGRESS, DIR_INGRESS, MODE_ENFORCE, MODE_MONITOR,
};
use std::fmt::Write;

pub fn render(maps: &NodeMaps) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_maps(&mut out, maps);
    out
}

fn write_maps(out: &mut String, maps: &NodeMaps) -> std::fmt::Result {
    writeln!(out, "ipcache:")?;
    // Longest prefix first, as the program lists them.
    let mut nets: Vec<_> = maps.ipcache.iter().collect();
    nets.sort_by_key(|(n, _)| (std::cmp::Reverse(n.prefix_len()), **n));
    for (net, id) in nets {
        writeln!(out, "  {net} -> {id}")?;
    }
    for e in &maps.endpoints {
        let v = &e.value;
        let mode = match v.mode {
            MODE_ENFORCE => "enforce",
            MODE_MONITOR => "monitor",
            _ => "learn",
        };
        let isolated = match (v.is_isolated(DIR_INGRESS), v.is_isolated(DIR_EGRESS)) {
            (true, true) => "ingress,egress",
            (true, false) => "ingress",
            (false, true) => "egress",
            (false, false) => "-",
        };
        writeln!(
            out,
            "endpoint {} interface={} id={} mode={mode} isolated={isolated} defaults={},{}",
            e.workload, e.interface, v.id, v.default_rule[0], v.default_rule[1]
        )?;
        for (k, p) in &e.policy {
            let dir = if k.direction == DIR_INGRESS {
                "ingress"
            } else {
                "egress"
            };
            let peer = if k.identity == ANY_IDENTITY {
                "any".to_string()
            } else {
                format!("peer={}", k.identity)
            };
            let proto = match k.protocol {
                6 => "TCP".to_string(),
                17 => "UDP".to_string(),
                132 => "SCTP".to_string(),
                0 => "other".to_string(),
                n => n.to_string(),
            };
            let action = if p.action == ACTION_ALLOW {
                "allow"
            } else {
                "deny"
            };
            writeln!(
                out,
                "  {dir} {peer} {proto} {}/{} -> {action} {}",
                k.port, k.port_bits, p.rule
            )?;
        }
    }
    Ok(())
}
