//! Docker's JSON → Bulkhead workloads: which fields are read, and how a container gets
//! its identity.
//!
//! - **namespace**: the compose project (`com.docker.compose.project`), else the
//!   configured default; **name**: the container's name. Both are made DNS labels
//!   (lower case, `_`/`.` → `-`), because workload ids follow Kubernetes' rules.
//! - **labels**: every container label that is a valid Kubernetes label, plus
//!   `app` = the compose service (`com.docker.compose.service`) unless `app` is set.
//!   Labels Kubernetes would refuse (a 64-character config hash, say) are left out:
//!   no selector could name them.
//! - **ips**: the container's address on each bridge network, the primary network's
//!   first (networks by name).

use bulkhead_policy::model::NAMESPACE_NAME_LABEL;
use bulkhead_policy::names::{dns_label_error, label_key_error, label_value_error};
use bulkhead_policy::{Labels, NamedPort, Protocol, Workload, WorkloadId};
use ipnet::Ipv4Net;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";

/// An item of `GET /containers/json`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Container {
    pub id: String,
    pub names: Vec<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub state: String,
    pub ports: Vec<Port>,
    pub network_settings: Option<NetworkSettings>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Port {
    pub private_port: u16,
    #[serde(rename = "Type")]
    pub kind: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkSettings {
    pub networks: Option<BTreeMap<String, Endpoint>>,
    /// Only in `GET /containers/{id}/json`: the container's network namespace.
    pub sandbox_key: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Endpoint {
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    pub mac_address: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
}

/// What is read of `GET /containers/{id}/json`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Inspect {
    pub network_settings: Option<NetworkSettings>,
}

/// An item of `GET /networks`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub driver: String,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipam {
    pub config: Option<Vec<IpamConfig>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamConfig {
    pub subnet: String,
    pub gateway: String,
}

impl Network {
    /// IPv4 subnets and gateways of a bridge network (others yield nothing). A network
    /// created with `--subnet` alone lists no gateway: Docker's default IPAM then gives
    /// the bridge the subnet's first host address, which is what is returned.
    pub fn bridge_ranges(&self) -> Vec<(Ipv4Net, Ipv4Addr)> {
        if self.driver != "bridge" {
            return Vec::new();
        }
        let configs = self.ipam.config.as_deref().unwrap_or_default();
        configs
            .iter()
            .filter_map(|c| {
                let subnet: Ipv4Net = c.subnet.parse().ok()?;
                let first = Ipv4Addr::from(u32::from(subnet.network()).saturating_add(1));
                Some((subnet, c.gateway.parse().unwrap_or(first)))
            })
            .collect()
    }
}

/// Makes `s` a DNS label, or `None` if nothing usable is left.
pub fn dns_label(s: &str) -> Option<String> {
    let mapped: String = s
        .chars()
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'a'..='z' | '0'..='9' | '-' => c,
            _ => '-',
        })
        .collect();
    let trimmed = mapped.trim_matches('-');
    let cut: String = trimmed.chars().take(63).collect();
    let cut = cut.trim_end_matches('-').to_string();
    dns_label_error(&cut).is_none().then_some(cut)
}

/// A container attached to the bridge networks in `bridges` (network id → name).
pub struct Found {
    pub workload: Workload,
    /// Per attached bridge network, in the order of `workload.ips`: (endpoint, MAC).
    pub endpoints: Vec<Endpoint>,
}

/// The workload a container stands for, or `None` if it has no address on a bridge
/// network (host or none networking, not started, or already stopped).
pub fn workload(
    c: &Container,
    bridges: &BTreeMap<String, String>,
    default_namespace: &str,
    node: &str,
) -> Option<Found> {
    let nets = c.network_settings.as_ref()?.networks.as_ref()?;
    let mut endpoints: Vec<(&String, &Endpoint)> = nets
        .iter()
        .filter(|(_, e)| bridges.contains_key(&e.network_id) && !e.ip_address.is_empty())
        .collect();
    endpoints.sort_by(|a, b| a.0.cmp(b.0));
    let ips: Vec<Ipv4Addr> = endpoints
        .iter()
        .filter_map(|(_, e)| e.ip_address.parse().ok())
        .collect();
    if ips.is_empty() {
        return None;
    }
    let docker_labels = c.labels.clone().unwrap_or_default();
    let namespace = docker_labels
        .get(COMPOSE_PROJECT)
        .and_then(|p| dns_label(p))
        .unwrap_or_else(|| default_namespace.to_string());
    let raw_name = c.names.first().map(|n| n.trim_start_matches('/'));
    let name = raw_name
        .and_then(dns_label)
        .unwrap_or_else(|| c.id.chars().take(12).collect());
    let mut labels: Labels = docker_labels
        .iter()
        .filter(|(k, v)| label_key_error(k).is_none() && label_value_error(v).is_none())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(service) = docker_labels.get(COMPOSE_SERVICE)
        && label_value_error(service).is_none()
    {
        labels
            .entry("app".to_string())
            .or_insert_with(|| service.clone());
    }
    let mut namespace_labels = Labels::new();
    namespace_labels.insert(NAMESPACE_NAME_LABEL.to_string(), namespace.clone());
    let mut ports: Vec<NamedPort> = c
        .ports
        .iter()
        .filter_map(|p| {
            let protocol = match p.kind.as_str() {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                _ => return None,
            };
            Some(NamedPort {
                name: None,
                port: p.private_port,
                protocol,
            })
        })
        .collect();
    ports.sort_by_key(|p| (p.port, p.protocol));
    ports.dedup();
    Some(Found {
        workload: Workload {
            id: WorkloadId::new(namespace, name),
            labels,
            namespace_labels,
            ips,
            ports,
            node: Some(node.to_string()),
        },
        endpoints: endpoints.into_iter().map(|(_, e)| e.clone()).collect(),
    })
}

#[cfg(test)]
mod tests;
