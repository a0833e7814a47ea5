use super::*;

const GOOD: &str = "\
name: np
subnet: 10.0.0.0/16
namespaces:
  x: {labels: {ns: x}}
workloads:
  - name: a
    namespace: x
    labels: {pod: a}
    ip: 10.0.0.10
    ports:
      - {name: serve-80-tcp, port: 80, protocol: TCP}
      - {port: 81, protocol: UDP}
  - name: b
    labels: {pod: b}
    ip: 10.0.0.11
";

#[test]
fn parses_the_contract_example() {
    let lab = LabFile::parse("lab.yaml", GOOD).unwrap();
    assert_eq!(lab.name, "np");
    assert_eq!(lab.workloads.len(), 2);
    assert_eq!(lab.workloads[1].id.to_string(), "default/b");
    assert_eq!(lab.namespaces["x"]["ns"], "x");
    assert_eq!(lab.namespaces["x"][NAMESPACE_NAME_LABEL], "x");
    assert_eq!(lab.namespaces["default"][NAMESPACE_NAME_LABEL], "default");
    assert_eq!(
        lab.nodes,
        vec![LabNode {
            name: "node".into(),
            host_ip: "10.0.0.1".parse().unwrap()
        }]
    );
    let inv = lab.inventory();
    assert_eq!(
        inv.workloads[0].resolve_named_port("serve-80-tcp", Protocol::Tcp),
        Some(80)
    );
    assert_eq!(inv.host_ips, vec!["10.0.0.1".parse::<Ipv4Addr>().unwrap()]);
}

fn first_error(text: &str) -> String {
    LabFile::parse("lab.yaml", text).unwrap_err().0[0].to_string()
}

#[test]
fn ip_outside_subnet_names_the_field() {
    let bad = GOOD.replace("10.0.0.11", "10.1.0.11");
    assert_eq!(
        first_error(&bad),
        "lab.yaml:15:9: ip: 10.1.0.11 is outside the lab subnet 10.0.0.0/16"
    );
}

#[test]
fn unknown_fields_and_bad_values() {
    let bad = GOOD.replace("    labels: {pod: b}", "    lables: {pod: b}");
    assert!(first_error(&bad).starts_with("lab.yaml:14:5: workloads[]: unknown field `lables`"));
    let bad = GOOD.replace("port: 81", "port: 70000");
    assert_eq!(
        first_error(&bad),
        "lab.yaml:12:16: port: 70000 is not in 1..65535"
    );
    let bad = GOOD.replace("10.0.0.11", "10.0.0.10");
    assert!(first_error(&bad).contains("already used by `x/a`"));
    let bad = GOOD.replace("10.0.0.11", "10.0.0.1");
    assert!(first_error(&bad).contains("reserved for node"));
    let bad = GOOD.replace("subnet: 10.0.0.0/16", "subnet: 10.0.0.1/16");
    assert!(first_error(&bad).contains("host bits set"));
}

#[test]
fn nodes_are_assigned_and_required() {
    let multi = GOOD.replace(
        "namespaces:",
        "nodes: [{name: n1}, {name: n2}]\nnamespaces:",
    );
    let err = LabFile::parse("lab.yaml", &multi).unwrap_err();
    assert!(err.to_string().contains("missing `node`"), "{err}");
    let multi = multi
        .replace("    labels: {pod: a}", "    labels: {pod: a}\n    node: n1")
        .replace("    labels: {pod: b}", "    labels: {pod: b}\n    node: n2");
    let lab = LabFile::parse("lab.yaml", &multi).unwrap();
    assert_eq!(
        lab.nodes[1].host_ip,
        "10.0.0.2".parse::<Ipv4Addr>().unwrap()
    );
    assert_eq!(lab.workloads[1].node, "n2");
}

#[test]
fn names_are_stable_and_short() {
    let lab = LabFile::parse("lab.yaml", GOOD).unwrap();
    assert_eq!(lab.node_netns("node"), "np-node");
    assert_eq!(lab.workload_netns(&WorkloadId::new("x", "a")), "np-x-a");
    let names = lab.host_interfaces();
    assert_eq!(names.len(), 2);
    assert!(names.values().all(|n| n.len() <= 15 && n.starts_with('v')));
    // Adding a workload does not rename the others.
    let more = format!("{GOOD}  - name: c\n    ip: 10.0.0.12\n");
    let lab2 = LabFile::parse("lab.yaml", &more).unwrap();
    let names2 = lab2.host_interfaces();
    for (id, n) in &names {
        assert_eq!(&names2[id], n);
    }
}

/// What a lab means, without the source locations that differ between two texts.
fn meaning(lab: &LabFile) -> impl PartialEq + std::fmt::Debug {
    let workloads: Vec<_> = lab
        .workloads
        .iter()
        .map(|w| {
            (
                w.id.clone(),
                w.labels.clone(),
                w.ip,
                w.ports.clone(),
                w.node.clone(),
            )
        })
        .collect();
    (
        lab.name.clone(),
        lab.subnet,
        lab.namespaces.clone(),
        workloads,
        lab.nodes.clone(),
    )
}

#[test]
fn rendering_round_trips() {
    let tricky = GOOD.replace(
        "labels: {pod: b}",
        "labels: {pod: b, flag: 'true', n: '1', empty: ''}",
    );
    for text in [GOOD.to_string(), tricky] {
        let lab = LabFile::parse("lab.yaml", &text).unwrap();
        let again = LabFile::parse("again.yaml", &lab.to_yaml())
            .unwrap_or_else(|d| panic!("{d}\n{}", lab.to_yaml()));
        assert_eq!(meaning(&again), meaning(&lab));
    }
    let multi = GOOD
        .replace(
            "namespaces:",
            "nodes: [{name: n1}, {name: n2}]\nnamespaces:",
        )
        .replace("    labels: {pod: a}", "    labels: {pod: a}\n    node: n1")
        .replace("    labels: {pod: b}", "    labels: {pod: b}\n    node: n2");
    let lab = LabFile::parse("lab.yaml", &multi).unwrap();
    let again = LabFile::parse("again.yaml", &lab.to_yaml()).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(meaning(&again), meaning(&lab));
    assert_eq!(
        again.workload(&"default/b".parse().unwrap()).unwrap().node,
        "n2"
    );
}
