//! The lab file (see `shared/CONTRACT.md`): workloads in their own network namespaces on
//! one or more nodes. Only the model and its validation live here; creating the
//! namespaces is the `bulkhead-lab` crate's job.

use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::model::{
    Inventory, Labels, NAMESPACE_NAME_LABEL, NamedPort, Protocol, Workload, WorkloadId,
};
use crate::names;
use crate::yaml::{self, Node};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// The longest lab name: it prefixes interface names, which the kernel caps at 15 bytes.
pub const MAX_LAB_NAME: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabFile {
    pub name: String,
    pub subnet: Ipv4Net,
    /// Labels of each namespace, `kubernetes.io/metadata.name` included; every namespace a
    /// workload uses is present.
    pub namespaces: BTreeMap<String, Labels>,
    pub workloads: Vec<LabWorkload>,
    /// At least one; a file without `nodes:` has a single node named `node`.
    pub nodes: Vec<LabNode>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabWorkload {
    pub id: WorkloadId,
    pub labels: Labels,
    pub ip: Ipv4Addr,
    pub ports: Vec<NamedPort>,
    /// The name of the node the workload runs on.
    pub node: String,
    /// Where the workload and its `ip` field are written, for later checks.
    pub loc: Location,
    pub ip_loc: Location,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabNode {
    pub name: String,
    /// The node's address on the lab subnet (its bridge): the `host` entity.
    pub host_ip: Ipv4Addr,
}

/// The name a lab without `nodes:` gives its single node.
pub const DEFAULT_NODE: &str = "node";

impl LabFile {
    /// Reads and validates a lab file; every problem found is reported, each at its place.
    pub fn parse(file: &str, text: &str) -> Result<LabFile, Diagnostics> {
        let docs = yaml::load_documents(file, text).map_err(Diagnostics::from)?;
        let [doc] = docs.as_slice() else {
            let loc = Location {
                file: file.to_string(),
                line: 1,
                col: 1,
            };
            return Err(Diagnostic::new(loc, "a lab file holds exactly one YAML document").into());
        };
        let mut diags = Diagnostics::default();
        let lab = read_lab(doc, &mut diags);
        match lab {
            Some(lab) => diags.into_result(lab),
            None => diags.into_result(LabFile::empty()),
        }
    }

    fn empty() -> LabFile {
        LabFile {
            name: String::new(),
            subnet: Ipv4Net::default(),
            namespaces: BTreeMap::new(),
            workloads: Vec::new(),
            nodes: Vec::new(),
        }
    }

    pub fn workload(&self, id: &WorkloadId) -> Option<&LabWorkload> {
        self.workloads.iter().find(|w| &w.id == id)
    }

    pub fn node(&self, name: &str) -> Option<&LabNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The network namespace of a node: `{lab}-{node}`, under `/run/netns`.
    pub fn node_netns(&self, node: &str) -> String {
        format!("{}-{node}", self.name)
    }

    /// The network namespace of a workload: `{lab}-{namespace}-{name}`.
    pub fn workload_netns(&self, id: &WorkloadId) -> String {
        format!("{}-{}-{}", self.name, id.namespace, id.name)
    }

    /// The name of each workload's host-side veth, inside its node's namespace.
    ///
    /// Names derive from a hash of the workload id rather than its position in the file,
    /// so editing the file never renames (and so never cuts off) another workload. The
    /// rare hash collision is resolved by probing, in workload-id order, per node.
    pub fn host_interfaces(&self) -> BTreeMap<WorkloadId, String> {
        let mut ids: Vec<&LabWorkload> = self.workloads.iter().collect();
        ids.sort_by(|a, b| a.id.cmp(&b.id));
        let mut taken: BTreeSet<(String, u32)> = BTreeSet::new();
        let mut out = BTreeMap::new();
        for w in ids {
            let mut h = fnv1a(w.id.to_string().as_bytes());
            while !taken.insert((w.node.clone(), h)) {
                h = h.wrapping_add(1);
            }
            out.insert(w.id.clone(), format!("v{h:08x}"));
        }
        out
    }

    /// The policy view of the lab: every workload with its namespace's labels.
    pub fn inventory(&self) -> Inventory {
        let workloads = self
            .workloads
            .iter()
            .map(|w| Workload {
                id: w.id.clone(),
                labels: w.labels.clone(),
                namespace_labels: self
                    .namespaces
                    .get(&w.id.namespace)
                    .cloned()
                    .unwrap_or_default(),
                ips: vec![w.ip],
                ports: w.ports.clone(),
                node: Some(w.node.clone()),
            })
            .collect();
        Inventory {
            workloads,
            cluster_cidrs: vec![self.subnet],
            host_ips: self.nodes.iter().map(|n| n.host_ip).collect(),
        }
    }
}

fn read_lab(doc: &Node, diags: &mut Diagnostics) -> Option<LabFile> {
    let root = report(
        diags,
        doc.map(
            "lab",
            &["name", "subnet", "namespaces", "workloads", "nodes"],
        ),
    )?;
    let name_node = report(diags, root.require("name", "lab"))?;
    let name = report(diags, name_node.string("name"))?;
    let ok_name = !name.is_empty()
        && name.len() <= MAX_LAB_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !ok_name {
        diags.push(Diagnostic::new(
            name_node.loc.clone(),
            format!("name: `{name}` must be 1 to {MAX_LAB_NAME} lower-case letters or digits, starting with a letter"),
        ));
    }
    let subnet_node = report(diags, root.require("subnet", "lab"))?;
    let subnet = report(diags, parse_net(subnet_node, "subnet"))?;
    if subnet.prefix_len() > 29 {
        diags.push(Diagnostic::new(
            subnet_node.loc.clone(),
            "subnet: must be a /29 or larger",
        ));
        return None;
    }

    let nodes = read_nodes(root.get_some("nodes"), subnet, diags);
    let mut namespaces = read_namespaces(root.get_some("namespaces"), diags);

    let mut workloads = Vec::new();
    let mut seen_ids = BTreeSet::new();
    let mut seen_ips = BTreeMap::new();
    if let Some(list) = root
        .get_some("workloads")
        .and_then(|n| report(diags, n.seq("workloads")))
    {
        for item in list {
            let Some(w) = read_workload(item, &nodes, diags) else {
                continue;
            };
            check_address(&w, subnet, &nodes, &mut seen_ips, diags);
            if !seen_ids.insert(w.id.clone()) {
                diags.push(Diagnostic::new(
                    w.loc.clone(),
                    format!("workloads: duplicate workload `{}`", w.id),
                ));
            }
            workloads.push(w);
        }
    }
    for w in &workloads {
        namespaces.entry(w.id.namespace.clone()).or_default();
    }
    for (ns, labels) in namespaces.iter_mut() {
        labels.insert(NAMESPACE_NAME_LABEL.to_string(), ns.clone());
    }
    Some(LabFile {
        name,
        subnet,
        namespaces,
        workloads,
        nodes,
    })
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

fn report<T>(diags: &mut Diagnostics, r: Result<T, Diagnostic>) -> Option<T> {
    r.map_err(|d| diags.push(d)).ok()
}

fn parse_net(node: &Node, what: &str) -> Result<Ipv4Net, Diagnostic> {
    let text = node.string(what)?;
    let net: Ipv4Net = text.parse().map_err(|_| {
        Diagnostic::new(
            node.loc.clone(),
            format!("{what}: `{text}` is not an IPv4 CIDR"),
        )
    })?;
    if net.trunc() != net {
        return Err(Diagnostic::new(
            node.loc.clone(),
            format!(
                "{what}: `{text}` has host bits set (did you mean {}?)",
                net.trunc()
            ),
        ));
    }
    Ok(net)
}

/// Nodes get the first addresses of the subnet for their bridges: they are the `host` entity.
fn read_nodes(node: Option<&Node>, subnet: Ipv4Net, diags: &mut Diagnostics) -> Vec<LabNode> {
    let base = u32::from(subnet.network());
    let host = |i: usize| Ipv4Addr::from(base + 1 + i as u32);
    let Some(list) = node.and_then(|n| report(diags, n.seq("nodes"))) else {
        return vec![LabNode {
            name: DEFAULT_NODE.to_string(),
            host_ip: host(0),
        }];
    };
    let mut nodes: Vec<LabNode> = Vec::new();
    for item in list {
        let Some(m) = report(diags, item.map("nodes[]", &["name"])) else {
            continue;
        };
        let Some(name) = report(
            diags,
            m.require("name", "nodes[]").and_then(|n| n.string("name")),
        ) else {
            continue;
        };
        let bad = name.is_empty()
            || name.len() > 4
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if bad {
            let msg = format!("nodes[].name: `{name}` must be 1 to 4 lower-case letters or digits");
            diags.push(Diagnostic::new(m.key_loc("name"), msg));
            continue;
        }
        if nodes.iter().any(|n| n.name == name) {
            diags.push(Diagnostic::new(
                m.key_loc("name"),
                format!("nodes: duplicate node `{name}`"),
            ));
            continue;
        }
        nodes.push(LabNode {
            host_ip: host(nodes.len()),
            name,
        });
    }
    if nodes.is_empty() {
        nodes.push(LabNode {
            name: DEFAULT_NODE.to_string(),
            host_ip: host(0),
        });
    }
    nodes
}

fn read_namespaces(node: Option<&Node>, diags: &mut Diagnostics) -> BTreeMap<String, Labels> {
    let mut out = BTreeMap::new();
    let Some(node) = node else { return out };
    let yaml::Value::Map(entries) = &node.value else {
        diags.push(Diagnostic::new(
            node.loc.clone(),
            "namespaces: expected a map of namespace name to {labels: ...}",
        ));
        return out;
    };
    for (k, v) in entries {
        let Some(ns) = report(diags, k.string("namespaces")) else {
            continue;
        };
        if let Some(e) = names::dns_label_error(&ns) {
            diags.push(Diagnostic::new(
                k.loc.clone(),
                format!("namespaces: `{ns}` {e}"),
            ));
        }
        let Some(fields) = report(diags, v.map(&format!("namespaces.{ns}"), &["labels"])) else {
            continue;
        };
        let labels = fields
            .get_some("labels")
            .and_then(|l| read_labels(l, &format!("namespaces.{ns}.labels"), diags))
            .unwrap_or_default();
        out.insert(ns, labels);
    }
    out
}

pub(crate) fn read_labels(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<Labels> {
    let labels = report(diags, node.string_map(what))?;
    for (k, v) in &labels {
        if let Some(e) = names::label_key_error(k).or_else(|| names::label_value_error(v)) {
            diags.push(Diagnostic::new(node.loc.clone(), format!("{what}: {e}")));
        }
    }
    Some(labels)
}

fn read_workload(item: &Node, nodes: &[LabNode], diags: &mut Diagnostics) -> Option<LabWorkload> {
    let what = "workloads[]";
    let m = report(
        diags,
        item.map(
            what,
            &["name", "namespace", "labels", "ip", "ports", "node"],
        ),
    )?;
    let name = report(
        diags,
        m.require("name", what).and_then(|n| n.string("name")),
    )?;
    if let Some(e) = names::dns_label_error(&name) {
        diags.push(Diagnostic::new(
            m.key_loc("name"),
            format!("name: `{name}` {e}"),
        ));
    }
    let namespace = match m.get_some("namespace") {
        Some(n) => report(diags, n.string("namespace"))?,
        None => "default".to_string(),
    };
    if let Some(e) = names::dns_label_error(&namespace) {
        diags.push(Diagnostic::new(
            m.key_loc("namespace"),
            format!("namespace: `{namespace}` {e}"),
        ));
    }
    let labels = match m.get_some("labels") {
        Some(l) => read_labels(l, "labels", diags).unwrap_or_default(),
        None => Labels::new(),
    };
    let ip_node = report(diags, m.require("ip", what))?;
    let ip_text = report(diags, ip_node.string("ip"))?;
    let Ok(ip) = ip_text.parse::<Ipv4Addr>() else {
        diags.push(Diagnostic::new(
            ip_node.loc.clone(),
            format!("ip: `{ip_text}` is not an IPv4 address"),
        ));
        return None;
    };
    let node = match m.get_some("node") {
        Some(n) => {
            let name = report(diags, n.string("node"))?;
            if !nodes.iter().any(|x| x.name == name) {
                let known: Vec<_> = nodes.iter().map(|x| x.name.as_str()).collect();
                let msg = format!(
                    "node: unknown node `{name}`, the lab's nodes are: {}",
                    known.join(", ")
                );
                diags.push(Diagnostic::new(n.loc.clone(), msg));
            }
            name
        }
        None if nodes.len() > 1 => {
            diags.push(Diagnostic::new(
                item.loc.clone(),
                "workloads[]: missing `node` (the lab has several nodes)",
            ));
            return None;
        }
        None => nodes.first().map(|n| n.name.clone()).unwrap_or_default(),
    };
    let ports = m
        .get_some("ports")
        .map(|p| read_ports(p, diags))
        .unwrap_or_default();
    Some(LabWorkload {
        id: WorkloadId::new(namespace, name),
        labels,
        ip,
        ports,
        node,
        loc: item.loc.clone(),
        ip_loc: ip_node.loc.clone(),
    })
}

fn read_ports(node: &Node, diags: &mut Diagnostics) -> Vec<NamedPort> {
    let mut out: Vec<NamedPort> = Vec::new();
    let Some(items) = report(diags, node.seq("ports")) else {
        return out;
    };
    for item in items {
        let Some(m) = report(diags, item.map("ports[]", &["name", "port", "protocol"])) else {
            continue;
        };
        let Some(port_node) = report(diags, m.require("port", "ports[]")) else {
            continue;
        };
        let port = match report(diags, port_node.integer("port")) {
            Some(p) if (1..=65535).contains(&p) => p as u16,
            Some(p) => {
                diags.push(Diagnostic::new(
                    port_node.loc.clone(),
                    format!("port: {p} is not in 1..65535"),
                ));
                continue;
            }
            None => continue,
        };
        let protocol = match m.get_some("protocol") {
            None => Protocol::Tcp,
            Some(p) => {
                let Some(text) = report(diags, p.string("protocol")) else {
                    continue;
                };
                match text.parse::<Protocol>() {
                    Ok(Protocol::Sctp) => {
                        let msg = "protocol: the lab cannot listen on SCTP (this kernel has no SCTP sockets); use TCP or UDP";
                        diags.push(Diagnostic::new(p.loc.clone(), msg));
                        continue;
                    }
                    Ok(proto) => proto,
                    Err(e) => {
                        diags.push(Diagnostic::new(p.loc.clone(), format!("protocol: {e}")));
                        continue;
                    }
                }
            }
        };
        let name = match m.get_some("name") {
            Some(n) => {
                let Some(text) = report(diags, n.string("name")) else {
                    continue;
                };
                if let Some(e) = names::port_name_error(&text) {
                    diags.push(Diagnostic::new(n.loc.clone(), format!("name: {e}")));
                }
                Some(text)
            }
            None => None,
        };
        if out.iter().any(|p| p.port == port && p.protocol == protocol) {
            diags.push(Diagnostic::new(
                item.loc.clone(),
                format!("ports: {port}/{protocol} is listed twice"),
            ));
            continue;
        }
        if name.is_some() && out.iter().any(|p| p.name == name && p.protocol == protocol) {
            let msg = format!(
                "ports: the name `{}` is used twice for {protocol}",
                name.as_deref().unwrap_or("")
            );
            diags.push(Diagnostic::new(item.loc.clone(), msg));
            continue;
        }
        out.push(NamedPort {
            name,
            port,
            protocol,
        });
    }
    out
}

fn check_address(
    w: &LabWorkload,
    subnet: Ipv4Net,
    nodes: &[LabNode],
    seen: &mut BTreeMap<Ipv4Addr, WorkloadId>,
    diags: &mut Diagnostics,
) {
    let loc = w.ip_loc.clone();
    if !subnet.contains(&w.ip) {
        diags.push(Diagnostic::new(
            loc,
            format!("ip: {} is outside the lab subnet {subnet}", w.ip),
        ));
    } else if w.ip == subnet.network() || w.ip == subnet.broadcast() {
        diags.push(Diagnostic::new(
            loc,
            format!("ip: {} is the subnet's network or broadcast address", w.ip),
        ));
    } else if let Some(n) = nodes.iter().find(|n| n.host_ip == w.ip) {
        let msg = format!(
            "ip: {} is reserved for node `{}` (the host address)",
            w.ip, n.name
        );
        diags.push(Diagnostic::new(loc, msg));
    } else if let Some(other) = seen.insert(w.ip, w.id.clone()) {
        diags.push(Diagnostic::new(
            loc,
            format!("ip: {} is already used by `{other}`", w.ip),
        ));
    }
}

mod render;

#[cfg(test)]
mod tests;
