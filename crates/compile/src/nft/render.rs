//! [`Ruleset`] → `nft -f` text. The output is accepted by `nft -c -f` (a privileged test
//! checks it), so a user can read, diff and even load exactly what Bulkhead applies.

use super::{
    AddrField, BASE_PRIORITY, Chain, Element, ElementKey, Map, MapKey, Rule, Ruleset, TABLE,
    Verdict,
};
use std::fmt::Write;

/// The ruleset as one `table inet bulkhead { ... }` block. Base chains come first, then
/// maps and chains in name order, one element per line so diffs stay readable.
pub fn render(rs: &Ruleset) -> String {
    let mut s = String::new();
    // Writing into a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(s, "table inet {TABLE} {{");
    let _ = writeln!(s, "\tcomment \"bulkhead generation {}\"", rs.generation);
    let (base, other): (Vec<_>, Vec<_>) = rs.chains.iter().partition(|(_, c)| c.hook.is_some());
    let mut base = base;
    base.sort_by_key(|(_, c)| c.hook);
    for (name, chain) in &base {
        chain_block(&mut s, name, chain);
    }
    for (name, map) in &rs.maps {
        map_block(&mut s, name, map);
    }
    for (name, chain) in &other {
        chain_block(&mut s, name, chain);
    }
    s.push_str("}\n");
    s
}

fn map_block(s: &mut String, name: &str, map: &Map) {
    let _ = writeln!(s, "\n\tmap {name} {{");
    let (key, interval) = match map.key {
        MapKey::Addr => ("ipv4_addr", false),
        MapKey::AddrInterval => ("ipv4_addr", true),
        MapKey::AddrProtoPort => ("ipv4_addr . inet_proto . inet_service", true),
        MapKey::ProtoPort => ("inet_proto . inet_service", true),
    };
    let _ = writeln!(s, "\t\ttype {key} : verdict");
    if interval {
        s.push_str("\t\tflags interval\n");
    }
    if !map.elements.is_empty() {
        s.push_str("\t\telements = {\n");
        for (i, e) in map.elements.iter().enumerate() {
            let sep = if i + 1 == map.elements.len() { "" } else { "," };
            let _ = writeln!(s, "\t\t\t{}{sep}", element(e));
        }
        s.push_str("\t\t}\n");
    }
    s.push_str("\t}\n");
}

fn element(e: &Element) -> String {
    let key = match e.key {
        ElementKey::Addr(a) => a.to_string(),
        ElementKey::AddrRange(a, b) => range(a, b),
        ElementKey::Concat {
            addrs,
            protocol,
            ports,
        } => format!(
            "{} . {} . {}",
            range(addrs.0, addrs.1),
            protocol_name(protocol),
            range(ports.0, ports.1)
        ),
        ElementKey::ProtoPort { protocol, ports } => {
            format!("{} . {}", protocol_name(protocol), range(ports.0, ports.1))
        }
    };
    format!("{key} : {}", verdict(&e.verdict))
}

fn range<T: PartialEq + std::fmt::Display>(a: T, b: T) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}-{b}")
    }
}

fn protocol_name(p: u8) -> String {
    match p {
        6 => "tcp".into(),
        17 => "udp".into(),
        132 => "sctp".into(),
        n => n.to_string(),
    }
}

fn chain_block(s: &mut String, name: &str, chain: &Chain) {
    let _ = writeln!(s, "\n\tchain {name} {{");
    if let Some(hook) = chain.hook {
        let _ = writeln!(
            s,
            "\t\ttype filter hook {} priority filter - {}; policy accept;",
            hook.name(),
            -BASE_PRIORITY
        );
    }
    for r in &chain.rules {
        let _ = writeln!(s, "\t\t{}", rule(r));
    }
    s.push_str("\t}\n");
}

fn rule(r: &Rule) -> String {
    let addr = |f: AddrField| format!("ip {}", f.name());
    match r {
        Rule::AcceptEstablished => "ct state established,related accept".into(),
        Rule::AddrVmap { field, map } => format!("{} vmap @{map}", addr(*field)),
        Rule::PortVmap { field, map } => {
            format!("{} . meta l4proto . th dport vmap @{map}", addr(*field))
        }
        Rule::OtherVmap { field, map } => format!(
            "meta l4proto != {{ tcp, udp, sctp }} {} vmap @{map}",
            addr(*field)
        ),
        Rule::AnyPortVmap { map } => format!("meta l4proto . th dport vmap @{map}"),
        Rule::OtherVerdict(v) => format!("meta l4proto != {{ tcp, udp, sctp }} {}", verdict(v)),
        Rule::Log {
            prefix,
            group,
            verdict: v,
        } => format!("log prefix \"{prefix}\" group {group} {}", verdict(v)),
        Rule::Verdict(v) => verdict(v),
    }
}

fn verdict(v: &Verdict) -> String {
    match v {
        Verdict::Accept => "accept".into(),
        Verdict::Drop => "drop".into(),
        Verdict::Return => "return".into(),
        Verdict::Jump(c) => format!("jump {c}"),
        Verdict::Goto(c) => format!("goto {c}"),
    }
}
