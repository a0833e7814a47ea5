use super::*;

const LIST: &str = r#"[{
  "Id": "4f1c0a9e5b7d",
  "Names": ["/Shop_Web.1"],
  "Labels": {"com.docker.compose.project": "Shop", "com.docker.compose.service": "web",
             "com.docker.compose.config-hash": "0123456789012345678901234567890123456789012345678901234567890123",
             "tier": "front"},
  "State": "running",
  "Ports": [{"PrivatePort": 80, "Type": "tcp"}, {"PrivatePort": 80, "Type": "tcp"}, {"PrivatePort": 53, "Type": "udp"}],
  "NetworkSettings": {"Networks": {
     "zeta": {"IPAddress": "10.1.0.5", "MacAddress": "02:42:0a:01:00:05", "EndpointID": "e2", "NetworkID": "n2"},
     "alpha": {"IPAddress": "10.0.0.5", "MacAddress": "02:42:0a:00:00:05", "EndpointID": "e1", "NetworkID": "n1"},
     "host": {"IPAddress": "", "NetworkID": "n3"}}}
}, {
  "Id": "99aa", "Names": ["/lonely"], "Labels": null, "State": "running",
  "NetworkSettings": {"Networks": {"host": {"IPAddress": "", "NetworkID": "n3"}}}
}]"#;

fn bridges() -> BTreeMap<String, String> {
    [("n1", "alpha"), ("n2", "zeta")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn a_compose_container_becomes_a_labelled_workload() {
    let list: Vec<Container> = serde_json::from_str(LIST).unwrap();
    let f = workload(&list[0], &bridges(), "default", "n").unwrap();
    let w = &f.workload;
    assert_eq!(w.id.to_string(), "shop/shop-web-1");
    assert_eq!(w.labels.get("app").map(String::as_str), Some("web"));
    assert_eq!(w.labels.get("tier").map(String::as_str), Some("front"));
    assert_eq!(
        w.labels.get(COMPOSE_PROJECT).map(String::as_str),
        Some("Shop")
    );
    assert!(!w.labels.contains_key("com.docker.compose.config-hash"));
    assert_eq!(
        w.namespace_labels
            .get(NAMESPACE_NAME_LABEL)
            .map(String::as_str),
        Some("shop")
    );
    let ips: Vec<String> = w.ips.iter().map(|i| i.to_string()).collect();
    assert_eq!(ips, vec!["10.0.0.5", "10.1.0.5"], "primary network first");
    assert_eq!(f.endpoints[0].endpoint_id, "e1");
    assert_eq!(w.ports.len(), 2);
    assert_eq!(w.node.as_deref(), Some("n"));
}

#[test]
fn a_plain_container_takes_the_default_namespace_and_host_networking_is_skipped() {
    let list: Vec<Container> = serde_json::from_str(LIST).unwrap();
    assert!(workload(&list[1], &bridges(), "default", "n").is_none());
    let mut plain = list[0].clone();
    plain.labels = None;
    let w = workload(&plain, &bridges(), "docker", "n")
        .unwrap()
        .workload;
    assert_eq!(w.id.namespace, "docker");
    assert!(!w.labels.contains_key("app"));
}

#[test]
fn names_become_dns_labels() {
    assert_eq!(dns_label("My_App.v2").as_deref(), Some("my-app-v2"));
    assert_eq!(dns_label("__").as_deref(), None);
    assert_eq!(dns_label(&"a".repeat(80)).map(|s| s.len()), Some(63));
}

#[test]
fn bridge_networks_give_their_subnets_and_gateways_even_when_docker_lists_none() {
    let nets: Vec<Network> = serde_json::from_str(
        r#"[{"Name":"b","Id":"n1","Driver":"bridge","IPAM":{"Config":[{"Subnet":"10.79.0.0/24","Gateway":"10.79.0.9"},{"Subnet":"fd00::/64"}]}},
            {"Name":"c","Id":"n2","Driver":"bridge","IPAM":{"Config":[{"Subnet":"10.79.1.0/24"}]}},
            {"Name":"host","Id":"n3","Driver":"host","IPAM":{"Config":[]}}]"#,
    )
    .unwrap();
    let r = nets[0].bridge_ranges();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0.to_string(), "10.79.0.0/24");
    assert_eq!(r[0].1, "10.79.0.9".parse::<Ipv4Addr>().unwrap());
    let implicit = nets[1].bridge_ranges();
    assert_eq!(implicit[0].1, "10.79.1.1".parse::<Ipv4Addr>().unwrap());
    assert!(nets[2].bridge_ranges().is_empty());
}
