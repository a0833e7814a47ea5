//! `policy eval`'s records and tables, and `load::policies`, on small real files.

use super::*;
use std::path::Path;

const LAB: &str = "\
name: t
subnet: 10.9.0.0/24
workloads:
  - {name: a, namespace: x, labels: {pod: a}, ip: 10.9.0.10, ports: [{port: 80}]}
  - {name: b, namespace: x, labels: {pod: b}, ip: 10.9.0.11, ports: [{port: 80}, {port: 53, protocol: UDP}]}
  - {name: c, namespace: y, labels: {pod: c}, ip: 10.9.0.12}
";

const DENY_X: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress: [{ports: [{port: 53, protocol: UDP}]}]
";

fn lab() -> LabFile {
    LabFile::parse("lab.yaml", LAB).unwrap()
}

fn set(text: &str) -> PolicySet {
    PolicySet::new(bulkhead_policy::parse_documents("p.yaml", text).unwrap()).unwrap()
}

fn explained(opts: &ProbeOptions) -> Vec<Explained> {
    explain(&lab(), &set(DENY_X), opts).unwrap()
}

#[test]
fn eval_covers_every_pair_on_the_destinations_ports_in_probe_order() {
    let r = explained(&ProbeOptions::default());
    let got: Vec<String> = r
        .iter()
        .map(|e| {
            let r = &e.result;
            format!(
                "{}>{} {}/{} {}",
                r.from, r.to, r.port, r.protocol, r.allowed
            )
        })
        .collect();
    let want = [
        "x/a>x/b 80/TCP false",
        "x/a>x/b 53/UDP true",
        "x/b>x/a 80/TCP true",
        "y/c>x/a 80/TCP true",
        "y/c>x/b 80/TCP false",
        "y/c>x/b 53/UDP true",
    ];
    assert_eq!(got, want);
    assert_eq!(r[0].reason, "x/deny default-deny ingress");
    assert_eq!(r[1].reason, "x/deny ingress[0] (allow)");
    assert_eq!(r[2].egress, "not isolated");
}

#[test]
fn filters_narrow_the_records() {
    let opts = ProbeOptions {
        to: Some("x/b".parse().unwrap()),
        protocol: Some(Protocol::Udp),
        ..ProbeOptions::default()
    };
    let pairs: Vec<(String, u16)> = explained(&opts)
        .iter()
        .map(|e| (e.result.from.to_string(), e.result.port))
        .collect();
    assert_eq!(pairs, [("x/a".to_string(), 53), ("y/c".to_string(), 53)]);
    let opts = ProbeOptions {
        from: Some("x/a".parse().unwrap()),
        port: Some(80),
        ..ProbeOptions::default()
    };
    assert_eq!(explained(&opts).len(), 1);
    let opts = ProbeOptions {
        from: Some("x/zz".parse().unwrap()),
        ..ProbeOptions::default()
    };
    assert!(explain(&lab(), &set(DENY_X), &opts).is_err());
}

#[test]
fn json_without_explain_is_exactly_the_probe_shape() {
    let results: Vec<ProbeResult> = explained(&ProbeOptions::default())
        .into_iter()
        .map(|e| e.result)
        .collect();
    let json = bulkhead_lab::to_json(&results);
    assert!(json.starts_with("[\n{\"from\":\"x/a\",\"to\":\"x/b\",\"port\":80,\"protocol\":\"TCP\",\"allowed\":false},\n"), "{json}");
    let text = bulkhead_lab::to_table(&lab(), &results);
    assert!(
        text.starts_with("80/TCP\n-   x/a x/b\nx/a .   X\n"),
        "{text}"
    );
}

/// A directory tree removed when the test ends, however it ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("bulkhead-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn names(set: &PolicySet) -> Vec<String> {
    set.policies.iter().map(|p| p.name.to_string()).collect()
}

#[test]
fn load_reads_directories_recursively_and_only_yaml_inside_them() {
    let dir = TempDir::new("load");
    dir.write("b.yaml", &DENY_X.replace("name: deny", "name: b"));
    dir.write("sub/a.yml", &DENY_X.replace("name: deny", "name: a"));
    dir.write("sub/README.md", "not a policy");
    let explicit = dir.write("other.txt", &DENY_X.replace("name: deny", "name: c"));
    let set = load::policies(std::slice::from_ref(&dir.0)).unwrap();
    assert_eq!(names(&set), ["x/a", "x/b"]);
    let set = load::policies(&[dir.0.join("sub"), explicit]).unwrap();
    assert_eq!(names(&set), ["x/a", "x/c"]);
    assert!(load::policies(&[]).unwrap().policies.is_empty());
}

#[test]
fn load_reports_every_file_and_duplicates() {
    let dir = TempDir::new("errors");
    let one = dir.write("1.yaml", &DENY_X.replace("podSelector", "podSelectr"));
    let two = dir.write("2.yaml", &DENY_X.replace("port: 53", "port: 0"));
    let err = load::policies(std::slice::from_ref(&dir.0))
        .unwrap_err()
        .to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with(&format!(
            "{}:5:3: spec: unknown field `podSelectr`",
            one.display()
        )),
        "{err}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "{}:6:29: spec.ingress[0].ports[0].port: 0",
            two.display()
        )),
        "{err}"
    );
    std::fs::write(&two, DENY_X).unwrap();
    std::fs::write(&one, DENY_X).unwrap();
    let err = load::policies(std::slice::from_ref(&dir.0))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "{}:1:1: policy `x/deny` is defined twice (first at {}:1:1)",
            two.display(),
            one.display()
        )
    );
    let missing = load::policies(&[Path::new("/nonexistent/bulkhead").to_path_buf()]).unwrap_err();
    assert!(format!("{missing:#}").starts_with("/nonexistent/bulkhead: cannot read policy path"));
}
