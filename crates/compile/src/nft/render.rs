//! [`Ruleset`] → `nft -f` text. The output is accepted by `nft -c -f` (a privileged test
//! checks it), so a user can read, diff and even load exactly what Bulkhead applies.

use super::ir::{
    AddrField, Chain, ChainName, Dir, Element, ElementKey, Kind, Level, LogMark, MapId, Rule,
    Ruleset, Value, Verdict,
};
use super::{BASE_PRIORITY, TABLE};
use std::fmt::Write;

/// The ruleset as one `table inet bulkhead { ... }` block: the identity numbers as
/// comments, base chains, maps and the other chains in name order, one element per line
/// so that diffs stay readable.
pub fn render(rs: &Ruleset) -> String {
    let mut s = String::new();
    // Writing into a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(s, "table inet {TABLE} {{");
    let _ = writeln!(s, "\tcomment \"bulkhead generation {}\"", rs.generation);
    let mut ids: Vec<&(u32, String)> = rs.identities.iter().collect();
    ids.sort();
    for (n, description) in ids {
        let _ = writeln!(s, "\t# identity {n}: {}", description.replace('\n', " "));
    }
    let (base, other): (Vec<_>, Vec<_>) = rs.chains.iter().partition(|(_, c)| c.hook.is_some());
    for (name, chain) in &base {
        chain_block(&mut s, **name, chain);
    }
    for (&id, map) in &rs.maps {
        map_block(&mut s, id, map.size, &rs.elements(id));
    }
    for (name, chain) in &other {
        chain_block(&mut s, **name, chain);
    }
    s.push_str("}\n");
    s
}

/// The key type of a map, in `nft` type names.
fn key_type(id: MapId) -> &'static str {
    match id {
        MapId::Enforced
        | MapId::Unknown
        | MapId::Ipcache
        | MapId::IpcacheExact
        | MapId::Default(_) => "ipv4_addr",
        MapId::Verdicts => "mark",
        MapId::Check(_, level, kind) => match (level, kind) {
            (Level::Peer, Kind::Port | Kind::Masked(_)) => {
                "ipv4_addr . mark . inet_proto . inet_service"
            }
            (Level::Peer, Kind::Proto) => "ipv4_addr . mark . inet_proto",
            (Level::Peer, Kind::Other) => "ipv4_addr . mark",
            (Level::Any, Kind::Port | Kind::Masked(_)) => "ipv4_addr . inet_proto . inet_service",
            (Level::Any, Kind::Proto) => "ipv4_addr . inet_proto",
            (Level::Any, Kind::Other) => "ipv4_addr",
        },
    }
}

fn map_block(s: &mut String, id: MapId, size: u32, elements: &[&Element]) {
    let (word, data) = match id {
        MapId::Enforced | MapId::Unknown => ("set", ""),
        MapId::Verdicts => ("map", " : verdict"),
        _ => ("map", " : mark"),
    };
    let _ = writeln!(s, "\n\t{word} {id} {{");
    let _ = writeln!(s, "\t\ttype {}{data}", key_type(id));
    if matches!(id, MapId::Ipcache | MapId::Unknown) {
        s.push_str("\t\tflags interval\n");
    }
    if size > 0 {
        let _ = writeln!(s, "\t\tsize {size}");
    }
    if !elements.is_empty() {
        s.push_str("\t\telements = {\n");
        for (i, e) in elements.iter().enumerate() {
            let sep = if i + 1 == elements.len() { "" } else { "," };
            let _ = writeln!(s, "\t\t\t{}{sep}", element(id, e));
        }
        s.push_str("\t\t}\n");
    }
    s.push_str("\t}\n");
}

fn mark(m: u32) -> String {
    format!("0x{m:08x}")
}

fn element(id: MapId, e: &Element) -> String {
    let key = match e.key {
        ElementKey::Addr(a) => a.to_string(),
        ElementKey::Range(a, b) if a == b => a.to_string(),
        ElementKey::Range(a, b) => format!("{a}-{b}"),
        ElementKey::Mark(m) => mark(m),
        k @ ElementKey::Check { .. } => check_key(id, k),
    };
    let value = match &e.value {
        Value::None => return key,
        Value::Mark(m) => mark(*m),
        Value::Verdict(v) => verdict(v),
    };
    format!("{key} : {value}")
}

fn chain_block(s: &mut String, name: ChainName, chain: &Chain) {
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

const NOT_PORTED: &str = "meta l4proto != { tcp, udp, sctp }";

/// The key expression a check map is looked up with.
pub(super) fn key_expr(id: MapId) -> String {
    let own = |d: Dir| format!("ip {}", d.own().name());
    match id {
        MapId::Default(d) => own(d),
        MapId::Check(d, level, kind) => {
            let mut k = own(d);
            if level == Level::Peer {
                k.push_str(" . ct mark");
            }
            match kind {
                Kind::Port => k.push_str(" . meta l4proto . th dport"),
                Kind::Masked(p) => {
                    let _ = write!(k, " . meta l4proto . (th dport & 0x{:04x})", Kind::mask(p));
                }
                Kind::Proto => k.push_str(" . meta l4proto"),
                Kind::Other => {}
            }
            k
        }
        _ => String::new(),
    }
}

fn rule(r: &Rule) -> String {
    let addr = |f: AddrField| format!("ip {}", f.name());
    match r {
        Rule::AcceptEstablished => "ct state established,related accept".into(),
        Rule::DropUntracked(f) => format!(
            "ct state invalid,untracked {} @{} drop",
            addr(*f),
            MapId::Enforced
        ),
        Rule::DropUnknown(f) => format!("{} @{} drop", addr(*f), MapId::Unknown),
        Rule::MarkPeer { field, map } => format!("ct mark set {} map @{map}", addr(*field)),
        Rule::Check(id) => {
            let cond = match id {
                MapId::Check(_, _, Kind::Other) => format!("{NOT_PORTED} "),
                _ => String::new(),
            };
            format!("{cond}ct mark set {} map @{id}", key_expr(*id))
        }
        Rule::Decide => format!(
            "ct mark & 0x{:08x} vmap @{}",
            super::decision::KIND_MASK,
            MapId::Verdicts
        ),
        Rule::ResetMark => "ct mark set 0x00000000".into(),
        Rule::JumpIpv4(c) => format!("meta nfproto ipv4 jump {c}"),
        Rule::Log {
            prefix,
            group,
            verdict: v,
            mark,
        } => {
            let log = format!("log prefix \"{prefix}\" group {group}");
            let v = verdict(v);
            match mark {
                LogMark::FromCt => format!("meta mark set ct mark {log} {v}"),
                LogMark::FromCtThenClear => {
                    format!("meta mark set ct mark {log} meta mark set 0x00000000 {v}")
                }
                LogMark::OnlyIfMarked => format!("meta mark != 0x00000000 {log} {v}"),
            }
        }
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

/// The printed key of a check map element, given its map.
fn check_key(id: MapId, key: ElementKey) -> String {
    let ElementKey::Check {
        own,
        peer,
        protocol,
        port,
    } = key
    else {
        return String::new();
    };
    let mut k = own.to_string();
    if let MapId::Check(_, level, kind) = id {
        if level == Level::Peer {
            let _ = write!(k, " . {}", mark(peer));
        }
        if kind != Kind::Other {
            let _ = write!(k, " . {}", protocol_name(protocol));
        }
        if matches!(kind, Kind::Port | Kind::Masked(_)) {
            let _ = write!(k, " . {port}");
        }
    }
    k
}

fn protocol_name(p: u8) -> String {
    match p {
        6 => "tcp".into(),
        17 => "udp".into(),
        132 => "sctp".into(),
        n => n.to_string(),
    }
}
