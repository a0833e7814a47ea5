//! Hand-built programs for the privileged tests, independent of the compiler: each
//! test checks the kernel against [`Program::check`], the reference both backends share.
#![allow(dead_code)]

use bulkhead_compile::program::{
    DirectionProgram, Endpoint, Identity, PortEntry, PortTable, Program,
};
use bulkhead_policy::ir::{PolicyName, Reason};
use bulkhead_policy::{Action, Direction, Mode, WorkloadId};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

pub fn entry(protocol: u8, first: u16, last: u16, action: Action, rule: u32) -> PortEntry {
    PortEntry {
        protocol,
        first,
        last,
        action,
        rule,
    }
}

fn table(entries: Vec<PortEntry>) -> PortTable {
    PortTable { entries }
}

fn rule(name: &str, direction: Direction, index: usize, action: Action) -> Reason {
    Reason::Rule {
        policy: PolicyName {
            namespace: Some("t".into()),
            name: name.into(),
        },
        direction,
        index,
        action,
    }
}

/// Identities: 1 world, 2 + i workload i, then host. Rules:
/// 1 w0 ingress default deny, 2 allow w1→w0 TCP 80, 3 w2 egress default deny,
/// 4 allow w2→w0 TCP 80-81, 5 allow w2 egress UDP 53 anywhere, 6 deny w1 egress TCP 81 anywhere,
/// 7 allow host → w0 on TCP 81.
pub fn sample(ips: &[Ipv4Addr], host: Ipv4Addr, mode: Mode) -> Program {
    let deny_default = |d| Reason::DefaultDeny {
        direction: d,
        policies: vec![PolicyName {
            namespace: Some("t".into()),
            name: "p".into(),
        }],
    };
    let rules = vec![
        Reason::NotIsolated,
        deny_default(Direction::Ingress),
        rule("p", Direction::Ingress, 0, Action::Allow),
        deny_default(Direction::Egress),
        rule("p", Direction::Egress, 0, Action::Allow),
        rule("p", Direction::Egress, 1, Action::Allow),
        rule("q", Direction::Egress, 0, Action::Deny),
        rule("p", Direction::Ingress, 1, Action::Allow),
    ];
    let host_id = 2 + ips.len() as u32;
    let mut identities = vec![
        Identity {
            description: "any".into(),
            workloads: vec![],
        },
        Identity {
            description: "world".into(),
            workloads: vec![],
        },
    ];
    let mut ipcache = vec![];
    for (i, ip) in ips.iter().enumerate() {
        let id = WorkloadId::new("t", format!("w{i}"));
        identities.push(Identity {
            description: id.to_string(),
            workloads: vec![id],
        });
        ipcache.push((Ipv4Net::new_assert(*ip, 32), 2 + i as u32));
    }
    identities.push(Identity {
        description: "host".into(),
        workloads: vec![],
    });
    ipcache.push((Ipv4Net::new_assert(host, 32), host_id));
    ipcache.push((Ipv4Net::default(), 1));

    let mut endpoints: Vec<Endpoint> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| Endpoint {
            workload: WorkloadId::new("t", format!("w{i}")),
            index: i as u32,
            ips: vec![*ip],
            interface: None,
            identity: 2 + i as u32,
            mode,
            ingress: DirectionProgram::default(),
            egress: DirectionProgram::default(),
            fingerprint: 0,
        })
        .collect();
    // w0: ingress isolated; w1 may reach TCP 80, w2 TCP 80-81, the host TCP 81.
    let w0 = &mut endpoints[0].ingress;
    w0.isolated = true;
    w0.default_rule = 1;
    w0.peers
        .insert(3, table(vec![entry(6, 80, 80, Action::Allow, 2)]));
    w0.peers
        .insert(4, table(vec![entry(6, 80, 81, Action::Allow, 4)]));
    w0.peers
        .insert(host_id, table(vec![entry(6, 81, 81, Action::Allow, 7)]));
    // w1: egress not isolated, but denies TCP 81 to everyone.
    endpoints[1]
        .egress
        .any
        .entries
        .push(entry(6, 81, 81, Action::Deny, 6));
    // w2: egress isolated; to w0 on TCP 80-81, UDP 53 anywhere.
    let w2 = &mut endpoints[2].egress;
    w2.isolated = true;
    w2.default_rule = 3;
    w2.peers.insert(
        2,
        table(vec![
            entry(6, 80, 81, Action::Allow, 4),
            entry(17, 53, 53, Action::Allow, 5),
        ]),
    );
    w2.any.entries.push(entry(17, 53, 53, Action::Allow, 5));
    ipcache.sort_by(|a, b| b.0.prefix_len().cmp(&a.0.prefix_len()).then(a.0.cmp(&b.0)));
    let mut p = Program {
        rules,
        identities,
        ipcache,
        endpoints,
    };
    // As the compiler would: the backend reuses what it applied by fingerprint.
    p.refresh_fingerprints();
    p
}

/// The same program with every workload open (nothing isolated).
pub fn open(ips: &[Ipv4Addr], host: Ipv4Addr) -> Program {
    let mut p = sample(ips, host, Mode::Enforce);
    for e in &mut p.endpoints {
        e.ingress = DirectionProgram::default();
        e.egress = DirectionProgram::default();
    }
    p.refresh_fingerprints();
    p
}
