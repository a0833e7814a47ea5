//! Network values: CIDRs and ports.

use super::{check, error, report};
use crate::diag::Diagnostics;
use crate::names;
use crate::yaml::{Node, Value};
use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

/// A CIDR as Kubernetes validates it strictly: canonical address, no leading zeros in
/// the prefix length, no host bits. IPv6 is valid syntax but Bulkhead is IPv4-only, so
/// callers learn which family they got and decide.
pub(crate) enum Cidr {
    V4(Ipv4Net),
    V6(Ipv6Net),
}

pub(crate) fn cidr(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<Cidr> {
    let text = report(diags, node.string(path))?;
    let bad = |why: &str| error(node, format!("{path}: `{text}` {why}"));
    let Some((addr, len)) = text.split_once('/') else {
        diags.push(bad(
            "is not a CIDR (expected address/prefix-length, e.g. 10.0.0.0/8)",
        ));
        return None;
    };
    let leading_zero = len.len() > 1 && len.starts_with('0');
    let Some(len) = len.parse::<u8>().ok().filter(|_| !leading_zero) else {
        diags.push(bad("has an invalid prefix length"));
        return None;
    };
    let parsed = if let Ok(a) = addr.parse::<Ipv4Addr>() {
        Ipv4Net::new(a, len).map(|n| (Cidr::V4(n), n.trunc() != n, n.trunc().to_string()))
    } else if let Ok(a) = addr.parse::<Ipv6Addr>() {
        Ipv6Net::new(a, len).map(|n| (Cidr::V6(n), n.trunc() != n, n.trunc().to_string()))
    } else {
        diags.push(bad("is not a CIDR: the address is not a valid IP address"));
        return None;
    };
    match parsed {
        Err(_) => {
            diags.push(bad("has a prefix length too long for its address family"));
            None
        }
        Ok((_, true, canonical)) => {
            diags.push(bad(&format!(
                "has host bits set (did you mean {canonical}?)"
            )));
            None
        }
        Ok((c, false, _)) => Some(c),
    }
}

/// A port number field: an integer in 1..=65535.
pub(crate) fn port_number(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<u16> {
    let n = report(diags, node.integer(path))?;
    match u16::try_from(n) {
        Ok(p) if p >= 1 => Some(p),
        _ => {
            diags.push(error(
                node,
                format!("{path}: {n} is not a valid port number (1..65535)"),
            ));
            None
        }
    }
}

/// A named port: IANA service name syntax (`IsValidPortName`).
pub(crate) fn port_name(node: &Node, text: &str, path: &str, diags: &mut Diagnostics) -> bool {
    check(
        diags,
        node,
        path,
        names::port_name_error(text).map(|e| {
            // `port_name_error` repeats the value; keep the message short and about the rule.
            e.replacen(&format!("port name `{text}` "), "", 1)
        }),
    )
}

/// Whether a node is a plain (unquoted) integer scalar: YAML's int-or-string.
pub(crate) fn is_int(node: &Node) -> bool {
    matches!(&node.value, Value::Scalar { text, plain: true } if text.parse::<i64>().is_ok())
}
