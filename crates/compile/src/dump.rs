//! A stable, line-oriented text form of a [`Program`], for golden files and for
//! reading what the compiler decided.
//!
//! The format only ever prints what the program holds, in the program's own order
//! (which the compiler makes deterministic), so two equal programs print the same text
//! and a diff of two dumps is a diff of the programs. Layout:
//!
//! ```text
//! rules:
//!   0 not isolated
//!   1 x/allow-web ingress[0] (allow)
//! identities:
//!   1 world
//!   2 x/a workloads=x/a
//! ipcache:
//!   10.0.0.10/32 -> 2
//!   0.0.0.0/0 -> 1
//! endpoint x/a index=0 ips=10.0.0.10 identity=2 mode=enforce interface=-
//!   ingress isolated default=3
//!     any TCP 80 allow 1
//!     peer 5 UDP 53-54 deny 2
//!   egress not isolated
//! ```
//!
//! Protocol 0 prints as `other` (every protocol but TCP, UDP and SCTP).

use crate::program::{DirectionProgram, PortEntry, Program};
use std::fmt::Write;

/// The dump of `program`; ends with a newline.
pub fn dump(program: &Program) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail, so the results are deliberately dropped.
    let _ = write_program(&mut out, program);
    out
}

fn write_program(out: &mut String, p: &Program) -> std::fmt::Result {
    writeln!(out, "rules:")?;
    for (id, reason) in p.rules.iter().enumerate() {
        writeln!(out, "  {id} {reason}")?;
    }
    writeln!(out, "identities:")?;
    for (id, identity) in p.identities.iter().enumerate().skip(1) {
        let workloads: Vec<String> = identity.workloads.iter().map(ToString::to_string).collect();
        write!(out, "  {id} {}", identity.description)?;
        if !workloads.is_empty() {
            write!(out, " workloads={}", workloads.join(","))?;
        }
        writeln!(out)?;
    }
    writeln!(out, "ipcache:")?;
    for (net, id) in &p.ipcache {
        writeln!(out, "  {net} -> {id}")?;
    }
    for e in &p.endpoints {
        let ips: Vec<String> = e.ips.iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "endpoint {} index={} ips={} identity={} mode={} interface={}",
            e.workload,
            e.index,
            ips.join(","),
            e.identity,
            e.mode,
            e.interface.as_deref().unwrap_or("-"),
        )?;
        write_direction(out, "ingress", &e.ingress)?;
        write_direction(out, "egress", &e.egress)?;
    }
    Ok(())
}

fn write_direction(out: &mut String, name: &str, d: &DirectionProgram) -> std::fmt::Result {
    if !d.isolated {
        writeln!(out, "  {name} not isolated")?;
    } else {
        writeln!(out, "  {name} isolated default={}", d.default_rule)?;
    }
    for e in &d.any.entries {
        writeln!(out, "    any {}", entry(e))?;
    }
    for (peer, table) in &d.peers {
        for e in &table.entries {
            writeln!(out, "    peer {peer} {}", entry(e))?;
        }
    }
    Ok(())
}

fn entry(e: &PortEntry) -> String {
    let protocol = match e.protocol {
        0 => "other".to_string(),
        6 => "TCP".to_string(),
        17 => "UDP".to_string(),
        132 => "SCTP".to_string(),
        n => n.to_string(),
    };
    let ports = if e.first == e.last {
        e.first.to_string()
    } else {
        format!("{}-{}", e.first, e.last)
    };
    format!("{protocol} {ports} {} {}", e.action, e.rule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::{Endpoint, Identity, PortTable};
    use bulkhead_policy::ir::Reason;
    use bulkhead_policy::{Action, Mode, WorkloadId};

    #[test]
    fn dumps_every_part() {
        let mut ingress = DirectionProgram {
            isolated: true,
            default_rule: 1,
            ..Default::default()
        };
        ingress.any.entries.push(PortEntry {
            protocol: 0,
            first: 0,
            last: 0,
            action: Action::Allow,
            rule: 0,
        });
        ingress.peers.insert(
            2,
            PortTable {
                entries: vec![PortEntry {
                    protocol: 6,
                    first: 80,
                    last: 90,
                    action: Action::Deny,
                    rule: 0,
                }],
            },
        );
        let a = WorkloadId::new("x", "a");
        let p = Program {
            rules: vec![Reason::NotIsolated],
            identities: vec![
                Identity {
                    description: "*".into(),
                    workloads: vec![],
                },
                Identity {
                    description: "x/a".into(),
                    workloads: vec![a.clone()],
                },
            ],
            ipcache: vec![("10.0.0.1/32".parse().unwrap(), 1)],
            endpoints: vec![Endpoint {
                workload: a,
                index: 0,
                ips: vec!["10.0.0.1".parse().unwrap()],
                interface: Some("veth0".into()),
                identity: 1,
                mode: Mode::Monitor,
                ingress,
                egress: DirectionProgram::default(),
                fingerprint: 0,
            }],
        };
        assert_eq!(
            dump(&p),
            "rules:\n  0 not isolated\nidentities:\n  1 x/a workloads=x/a\nipcache:\n  \
             10.0.0.1/32 -> 1\nendpoint x/a index=0 ips=10.0.0.1 identity=1 mode=monitor \
             interface=veth0\n  ingress isolated default=1\n    any other 0 allow 0\n    \
             peer 2 TCP 80-90 deny 0\n  egress not isolated\n"
        );
    }
}
