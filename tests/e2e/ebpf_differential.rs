//! Random policies and labels from fixed seeds (reproducible: the seed is in every
//! failure message): the reference evaluator (`policy eval`), the nft backend and the
//! eBPF backend must give the very same verdict for every probe.
//!
//! Two labs of the same shape are up side by side, one enforced by each backend; per
//! seed only the lab files' labels and port names and the policy files change, so no
//! lab is rebuilt. `BULKHEAD_E2E_SEEDS=N` runs N seeds (default 12);
//! `BULKHEAD_E2E_SEED=S` runs only seed S.

use crate::ebpf::write;
use crate::harness::{LabGuard, TempDir, TestLab, bulkhead, diff, parse_probe};

/// splitmix64: a tiny deterministic generator, enough to pick among alternatives.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T: ?Sized>(&mut self, xs: &[&'a T]) -> &'a T {
        xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const WORKLOADS: [(&str, &str, &str); 5] = [
    ("x", "a", "10.0.1.10"),
    ("x", "b", "10.0.1.11"),
    ("y", "a", "10.0.2.10"),
    ("y", "c", "10.0.2.12"),
    ("z", "b", "10.0.3.11"),
];

/// The lab: fixed workloads and listeners, random labels and port names.
fn lab(r: &mut Rng) -> String {
    let mut out = String::from("subnet: 10.0.0.0/16\nnamespaces:\n");
    for ns in ["x", "y", "z"] {
        let team = r.pick(&["red", "blue"]);
        out.push_str(&format!("  {ns}: {{labels: {{ns: {ns}, team: {team}}}}}\n"));
    }
    out.push_str("workloads:\n");
    for (ns, name, ip) in WORKLOADS {
        let app = r.pick(&["a", "b", "c"]);
        let tier = r.pick(&["web", "db"]);
        // `http` names 80 on most workloads and 81 on some: named ports resolve per
        // destination.
        let (n80, n81) = if r.chance(25) {
            ("web", "http")
        } else {
            ("http", "alt")
        };
        out.push_str(&format!(
            "  - {{name: {name}, namespace: {ns}, labels: {{app: {app}, tier: {tier}}}, ip: {ip}, ports: [{{name: {n80}, port: 80, protocol: TCP}}, {{name: {n81}, port: 81, protocol: TCP}}, {{port: 80, protocol: UDP}}, {{name: dns, port: 53, protocol: UDP}}]}}\n"
        ));
    }
    out
}

fn selector(r: &mut Rng) -> String {
    match r.below(5) {
        0 => "{}".into(),
        1 => format!("{{matchLabels: {{app: {}}}}}", r.pick(&["a", "b", "c"])),
        2 => format!("{{matchLabels: {{tier: {}}}}}", r.pick(&["web", "db"])),
        3 => "{matchExpressions: [{key: app, operator: In, values: [a, b]}]}".into(),
        _ => "{matchExpressions: [{key: tier, operator: NotIn, values: [db]}]}".into(),
    }
}

fn k8s_peer(r: &mut Rng) -> String {
    match r.below(6) {
        0 => format!("{{podSelector: {}}}", selector(r)),
        1 => format!(
            "{{namespaceSelector: {{matchLabels: {{ns: {}}}}}}}",
            r.pick(&["x", "y", "z"])
        ),
        2 => format!(
            "{{namespaceSelector: {{matchLabels: {{team: {}}}}}, podSelector: {}}}",
            r.pick(&["red", "blue"]),
            selector(r)
        ),
        3 => format!(
            "{{ipBlock: {{cidr: {}}}}}",
            r.pick(&["10.0.2.0/24", "10.0.1.8/29", "10.0.0.0/8"])
        ),
        4 => "{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}".into(),
        _ => "{namespaceSelector: {}}".into(),
    }
}

fn k8s_port(r: &mut Rng) -> String {
    r.pick(&[
        "{port: 80}",
        "{port: 81}",
        "{port: http}",
        "{port: 80, endPort: 81}",
        "{port: 80, protocol: UDP}",
        "{port: dns, protocol: UDP}",
        "{protocol: UDP}",
    ])
    .to_string()
}

fn k8s_rules(r: &mut Rng, key: &str) -> String {
    let mut out = String::new();
    for _ in 0..=r.below(2) {
        out.push_str("    - {");
        let mut parts = Vec::new();
        if r.chance(75) {
            let peers: Vec<String> = (0..=r.below(2)).map(|_| k8s_peer(r)).collect();
            parts.push(format!("{key}: [{}]", peers.join(", ")));
        }
        if r.chance(60) {
            let ports: Vec<String> = (0..=r.below(2)).map(|_| k8s_port(r)).collect();
            parts.push(format!("ports: [{}]", ports.join(", ")));
        }
        out.push_str(&parts.join(", "));
        out.push_str("}\n");
    }
    out
}

fn k8s(r: &mut Rng, i: usize) -> String {
    let ns = r.pick(&["x", "y", "z"]);
    let mut out = format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: k{i}, namespace: {ns}}}\nspec:\n  podSelector: {}\n",
        selector(r)
    );
    let (ing, eg) = match r.below(4) {
        0 => (true, false),
        1 => (false, true),
        _ => (true, true),
    };
    let types: Vec<&str> = [(ing, "Ingress"), (eg, "Egress")]
        .iter()
        .filter(|t| t.0)
        .map(|t| t.1)
        .collect();
    out.push_str(&format!("  policyTypes: [{}]\n", types.join(", ")));
    if ing && r.chance(80) {
        out.push_str("  ingress:\n");
        out.push_str(&k8s_rules(r, "from"));
    }
    if eg && r.chance(80) {
        out.push_str("  egress:\n");
        out.push_str(&k8s_rules(r, "to"));
    }
    out
}

fn native(r: &mut Rng, i: usize) -> String {
    let scope = if r.chance(50) {
        format!(", namespace: {}", r.pick(&["x", "y", "z"]))
    } else {
        String::new()
    };
    let mut out = format!(
        "apiVersion: bulkhead.dev/v1\nkind: Policy\nmetadata: {{name: n{i}{scope}}}\nspec:\n  selector: {}\n",
        selector(r)
    );
    for (dir, key) in [("ingress", "from"), ("egress", "to")] {
        if !r.chance(60) {
            continue;
        }
        out.push_str(&format!("  {dir}:\n"));
        for _ in 0..=r.below(2) {
            let action = r.pick(&["allow", "allow", "deny"]);
            out.push_str(&format!("    - action: {action}\n"));
            if r.chance(70) {
                let peer = match r.below(4) {
                    0 => format!("{{selector: {}}}", selector(r)),
                    1 => format!("{{cidr: {}}}", r.pick(&["10.0.2.0/24", "10.0.0.0/16"])),
                    2 => "{cidr: 10.0.0.0/16, except: [10.0.3.0/24]}".to_string(),
                    _ => "{entity: host}".to_string(),
                };
                out.push_str(&format!("      {key}: [{peer}]\n"));
            }
            if r.chance(60) {
                let ports = r.pick(&[
                    "[80]",
                    "[81, http]",
                    "[80-81]",
                    "[{port: 53, protocol: UDP}]",
                    "[{port: 80, protocol: UDP}, 81]",
                ]);
                out.push_str(&format!("      ports: {ports}\n"));
            }
        }
    }
    if !out.contains("gress:") {
        out.push_str("  ingress:\n    - action: deny\n      ports: [81]\n");
    }
    out
}

fn policies(r: &mut Rng) -> String {
    let n = 1 + r.below(4);
    let docs: Vec<String> = (0..n)
        .map(|i| {
            if r.chance(60) {
                k8s(r, i)
            } else {
                native(r, i)
            }
        })
        .collect();
    docs.join("---\n")
}

fn seeds() -> Vec<u64> {
    if let Some(s) = std::env::var("BULKHEAD_E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return vec![s];
    }
    let n = std::env::var("BULKHEAD_E2E_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    (0..n).collect()
}

#[test]
fn privileged_ebpf_nft_and_evaluator_agree_on_random_policies() {
    let mut r = Rng(0);
    let shape = lab(&mut r);
    let (nft_lab, ebpf_lab) = (TestLab::new("dn", &shape), TestLab::new("de", &shape));
    let (nft_up, ebpf_up) = (LabGuard::up(&nft_lab), LabGuard::up(&ebpf_lab));
    let dir = TempDir::new("ebpf-diff");
    let mut failures = Vec::new();
    let mut verdicts = (0, 0);
    for seed in seeds() {
        let mut r = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0xb0b);
        let body = lab(&mut r);
        nft_up.rewrite(&body);
        ebpf_up.rewrite(&body);
        let pol = write(&dir, &format!("seed-{seed}.yaml"), &policies(&mut r));
        let eval = bulkhead(&[
            "policy",
            "eval",
            "--lab",
            nft_lab.path_str(),
            "--policy",
            &pol,
            "-o",
            "json",
        ]);
        if eval.code != 0 {
            failures.push(format!(
                "seed {seed}: the generator wrote invalid input:\n{eval}"
            ));
            continue;
        }
        let want = parse_probe(&eval.stdout);
        for (backend, up) in [("nft", &nft_up), ("ebpf", &ebpf_up)] {
            let run = bulkhead(&[
                "enforce",
                "--lab",
                up.path_str(),
                "--backend",
                backend,
                "--policy",
                &pol,
            ]);
            if run.code != 0 {
                failures.push(format!(
                    "seed {seed}: enforce --backend {backend} failed:\n{run}"
                ));
                continue;
            }
            let got = up.probe(&[]);
            if got != want {
                failures.push(format!(
                    "seed {seed} ({}): {backend} ≠ evaluator:\n{}",
                    pol,
                    diff(&got, &want)
                ));
            }
        }
        verdicts.0 += want.values().filter(|a| **a).count();
        verdicts.1 += want.values().filter(|a| !**a).count();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The generator must produce both kinds of verdicts, or agreement proves little.
    assert!(
        verdicts.0 > 0 && verdicts.1 > 0,
        "allowed/denied: {verdicts:?}"
    );
    eprintln!(
        "agreement on {} allowed and {} denied probes",
        verdicts.0, verdicts.1
    );
}
