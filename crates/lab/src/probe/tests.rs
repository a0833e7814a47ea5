use super::*;

fn lab() -> LabFile {
    let text = "name: pt\nsubnet: 10.9.0.0/24\nworkloads:\n\
  - {name: a, namespace: x, ip: 10.9.0.10, ports: [{port: 80}, {port: 53, protocol: UDP}]}\n\
  - {name: b, namespace: x, ip: 10.9.0.11, ports: [{port: 81, protocol: UDP}, {port: 80}]}\n\
  - {name: c, namespace: a-b, ip: 10.9.0.12}\n";
    match LabFile::parse("t.yaml", text) {
        Ok(l) => l,
        Err(d) => panic!("{d}"),
    }
}

fn id(s: &str) -> WorkloadId {
    match s.parse() {
        Ok(id) => id,
        Err(e) => panic!("{e}"),
    }
}

fn rows(attempts: &[Attempt]) -> Vec<String> {
    attempts
        .iter()
        .map(|a| format!("{} {} {} {}", a.from, a.to, a.protocol, a.port))
        .collect()
}

#[test]
fn plan_covers_ordered_pairs_on_the_destinations_ports_sorted() {
    let got = plan(&lab(), &ProbeOptions::default()).map(|a| rows(&a));
    let want = [
        "a-b/c x/a TCP 80",
        "a-b/c x/a UDP 53",
        "a-b/c x/b TCP 80",
        "a-b/c x/b UDP 81",
        "x/a x/b TCP 80",
        "x/a x/b UDP 81",
        "x/b x/a TCP 80",
        "x/b x/a UDP 53",
    ];
    assert_eq!(got.ok(), Some(want.map(String::from).to_vec()));
}

#[test]
fn filters_narrow_the_plan() {
    let opts = ProbeOptions {
        from: Some(id("x/a")),
        protocol: Some(Protocol::Udp),
        ..ProbeOptions::default()
    };
    assert_eq!(
        plan(&lab(), &opts).map(|a| rows(&a)).ok(),
        Some(vec!["x/a x/b UDP 81".to_string()])
    );
    let opts = ProbeOptions {
        to: Some(id("x/a")),
        port: Some(80),
        ..ProbeOptions::default()
    };
    assert_eq!(
        plan(&lab(), &opts).map(|a| rows(&a)).ok(),
        Some(vec![
            "a-b/c x/a TCP 80".to_string(),
            "x/b x/a TCP 80".to_string()
        ])
    );
    // A port the destination does not list is never probed.
    let opts = ProbeOptions {
        port: Some(9999),
        ..ProbeOptions::default()
    };
    assert_eq!(plan(&lab(), &opts).map(|a| a.len()).ok(), Some(0));
}

#[test]
fn unknown_workloads_are_errors() {
    let opts = ProbeOptions {
        to: Some(id("x/zz")),
        ..ProbeOptions::default()
    };
    let err = plan(&lab(), &opts).err().map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("no workload `x/zz` in lab `pt`"));
}

#[test]
fn json_is_the_contract_shape() {
    let a = Attempt {
        from: id("x/a"),
        to: id("x/b"),
        protocol: Protocol::Tcp,
        port: 80,
    };
    let json = to_json(&[a.result(true), a.result(false)]);
    assert_eq!(
        json,
        "[\n{\"from\":\"x/a\",\"to\":\"x/b\",\"port\":80,\"protocol\":\"TCP\",\"allowed\":true},\n\
         {\"from\":\"x/a\",\"to\":\"x/b\",\"port\":80,\"protocol\":\"TCP\",\"allowed\":false}\n]\n"
    );
    assert_eq!(to_json(&[]), "[]\n");
    let back: Vec<ProbeResult> = match serde_json::from_str(&json) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(back[0], a.result(true));
}

#[test]
fn table_is_the_conformance_format_per_port() {
    let results: Vec<ProbeResult> = match plan(&lab(), &ProbeOptions::default()) {
        Ok(p) => p.iter().map(|a| a.result(a.from.name != "c")).collect(),
        Err(e) => panic!("{e}"),
    };
    let want = "\
80/TCP
-     x/a   x/b
x/a   .     .
x/b   .     .
a-b/c X     X

53/UDP
-     x/a
x/b   .
a-b/c X

81/UDP
-     x/b
x/a   .
a-b/c X

";
    assert_eq!(to_table(&lab(), &results), want);
    // Narrowed: only what was probed appears; an unlisted port is `-`.
    let some: Vec<ProbeResult> = results
        .iter()
        .filter(|r| r.to.name == "a" || r.port == 81)
        .cloned()
        .collect();
    let want = "80/TCP\n-     x/a\nx/b   .\na-b/c X\n\n53/UDP\n-     x/a\nx/b   .\na-b/c X\n\n81/UDP\n-     x/b\nx/a   .\na-b/c X\n\n";
    assert_eq!(to_table(&lab(), &some), want);
    assert_eq!(to_table(&lab(), &[]), "");
}
