//! [`DockerSource`]'s snapshot: networks, containers, and each new container's veth.

use super::{DockerSource, RETRY_FIRST, RETRY_MAX, docker, get_json, links, model};
use crate::{Error, Snapshot};
use model::{Container, Network};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

impl DockerSource {
    fn resolve_veth(
        &mut self,
        c: &Container,
        endpoint: &model::Endpoint,
        node_links: &mut Option<Vec<links::Link>>,
    ) -> Result<Option<String>, String> {
        if let Some(v) = self.veths.get(&endpoint.endpoint_id) {
            return Ok(Some(v.clone()));
        }
        let Some(mac) = links::parse_mac(&endpoint.mac_address) else {
            return Err(format!("bad MAC address {:?}", endpoint.mac_address));
        };
        let path = format!("/containers/{}/json", c.id);
        let inspect: model::Inspect =
            get_json(&self.config.socket, &path).map_err(|e| format!("GET {path}: {e}"))?;
        let sandbox = inspect
            .network_settings
            .map(|n| n.sandbox_key)
            .unwrap_or_default();
        if sandbox.is_empty() {
            return Ok(None);
        }
        if node_links.is_none() {
            let dump = links::dump(&self.config.node_netns)
                .map_err(|e| format!("links of {}: {e}", self.config.node_netns.display()))?;
            *node_links = Some(dump);
        }
        let node = node_links.as_deref().unwrap_or_default();
        let veth = links::host_veth(Path::new(&sandbox), mac, node)
            .map_err(|e| format!("links of {sandbox}: {e}"))?;
        if let Some(v) = &veth {
            self.veths.insert(endpoint.endpoint_id.clone(), v.clone());
        }
        Ok(veth)
    }

    pub(super) fn take_snapshot(&mut self) -> Result<Snapshot, Error> {
        let socket = self.config.socket.clone();
        // Read the count first: an event during the reads makes the next wait return.
        self.seen = self.events.count();
        let networks: Vec<Network> =
            get_json(&socket, "/networks").map_err(|e| docker(&socket, "GET /networks", e))?;
        let mut bridges = BTreeMap::new();
        let mut snap = Snapshot::default();
        for n in &networks {
            let ranges = n.bridge_ranges();
            if ranges.is_empty() {
                continue;
            }
            bridges.insert(n.id.clone(), n.name.clone());
            for (subnet, gateway) in ranges {
                snap.cluster_cidrs.push(subnet);
                snap.host_ips.push(gateway);
            }
        }
        snap.cluster_cidrs.sort();
        snap.cluster_cidrs.dedup();
        // Docker assigns every address of its bridges: one the agent does not know is a
        // container it has not heard of yet.
        if self.config.guard {
            snap.guarded = snap.cluster_cidrs.clone();
        }
        snap.host_ips.sort();
        snap.host_ips.dedup();
        let containers: Vec<Container> = get_json(&socket, "/containers/json?all=1")
            .map_err(|e| docker(&socket, "GET /containers/json", e))?;
        let mut node_links = None;
        let mut taken = BTreeSet::new();
        let mut live_endpoints = BTreeSet::new();
        let mut pending = false;
        for c in &containers {
            let Some(found) = model::workload(
                c,
                &bridges,
                &self.config.default_namespace,
                &self.config.node,
            ) else {
                continue;
            };
            let mut w = found.workload;
            live_endpoints.extend(found.endpoints.iter().map(|e| e.endpoint_id.clone()));
            let veth = match self.resolve_veth(c, &found.endpoints[0], &mut node_links) {
                Ok(Some(v)) => v,
                Ok(None) => {
                    pending = true; // not plugged in yet
                    continue;
                }
                Err(e) => {
                    // Typically the sandbox file exists but the namespace is not yet
                    // mounted on it; a container that went away stops being listed.
                    if self.retry.is_some_and(|r| r >= RETRY_MAX) {
                        eprintln!("docker source: container {}: {e}", w.id);
                    }
                    pending = true;
                    continue;
                }
            };
            if !taken.insert(w.id.clone()) {
                // Two names that differ only in case or punctuation: keep both apart.
                let short: String = c.id.chars().take(6).collect();
                w.id.name = format!("{}-{short}", w.id.name.chars().take(56).collect::<String>());
                taken.insert(w.id.clone());
            }
            snap.interfaces.insert(w.id.clone(), veth);
            snap.workloads.push(w);
        }
        self.veths.retain(|id, _| live_endpoints.contains(id));
        self.retry = match (pending, self.retry) {
            (false, _) => None,
            (true, None) => Some(RETRY_FIRST),
            (true, Some(r)) => Some((r * 2).min(RETRY_MAX)),
        };
        snap.workloads.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(snap)
    }
}
