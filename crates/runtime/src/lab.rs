//! [`LabSource`]: the workloads of one node of a lab, from the lab file and what is up.

use crate::{Error, Snapshot, WorkloadSource};
use bulkhead_policy::lab::{DEFAULT_NODE, LabFile};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the lab file and namespaces are looked at while waiting for a change:
/// labs change when a user edits the file and runs `lab up`, so polling costs little
/// and needs no inotify dependency.
const POLL: Duration = Duration::from_millis(200);

/// A lab node's workloads. A workload counts as running when its network namespace
/// exists (`lab up` made it); the file says which workloads there should be.
pub struct LabSource {
    path: PathBuf,
    node: String,
    lab: LabFile,
    last: Option<Snapshot>,
}

impl LabSource {
    /// Reads the lab file at `path`; `node` may be omitted for a single-node lab.
    pub fn open(path: &Path, node: Option<&str>) -> Result<LabSource, Error> {
        let lab = read(path)?;
        let known = || {
            let names: Vec<&str> = lab.nodes.iter().map(|n| n.name.as_str()).collect();
            names.join(", ")
        };
        let node = match node {
            Some(n) if lab.node(n).is_some() => n.to_string(),
            Some(n) => {
                return Err(Error::UnknownNode {
                    lab: path.display().to_string(),
                    node: n.to_string(),
                    known: known(),
                });
            }
            None if lab.nodes.len() == 1 => lab.nodes[0].name.clone(),
            None if lab.nodes.is_empty() => DEFAULT_NODE.to_string(),
            None => {
                return Err(Error::NodeRequired {
                    lab: path.display().to_string(),
                    known: known(),
                });
            }
        };
        Ok(LabSource {
            path: path.to_path_buf(),
            node,
            lab,
            last: None,
        })
    }

    /// The lab's name (it prefixes every namespace).
    pub fn lab_name(&self) -> &str {
        &self.lab.name
    }

    fn build(&self) -> Snapshot {
        let inventory = self.lab.inventory();
        let interfaces = self.lab.host_interfaces();
        let up = |id: &bulkhead_policy::WorkloadId| {
            Path::new("/run/netns")
                .join(self.lab.workload_netns(id))
                .exists()
        };
        let mut workloads: Vec<_> = inventory
            .workloads
            .into_iter()
            .filter(|w| w.node.as_deref() == Some(self.node.as_str()) && up(&w.id))
            .collect();
        workloads.sort_by(|a, b| a.id.cmp(&b.id));
        let interfaces = interfaces
            .into_iter()
            .filter(|(id, _)| workloads.iter().any(|w| &w.id == id))
            .collect();
        let host_ips = self
            .lab
            .node(&self.node)
            .map(|n| vec![n.host_ip])
            .unwrap_or_default();
        Snapshot {
            workloads,
            cluster_cidrs: inventory.cluster_cidrs,
            host_ips,
            interfaces,
            guarded: Vec::new(),
        }
    }

    /// Re-reads the file; a file that became invalid keeps the last good model (the
    /// user is mid-edit, and `lab up` refuses it too).
    fn refresh(&mut self) {
        match read(&self.path) {
            Ok(lab) if lab.name == self.lab.name => self.lab = lab,
            Ok(_) => tracing_free_warn("the lab file now names another lab; ignoring it"),
            Err(e) => tracing_free_warn(&e.to_string()),
        }
    }
}

/// This crate has no logging dependency; problems that do not stop the source go to
/// stderr, where the agent's own logs go too.
fn tracing_free_warn(msg: &str) {
    eprintln!("lab source: {msg}");
}

fn read(path: &Path) -> Result<LabFile, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.display().to_string(),
        source,
    })?;
    LabFile::parse(&path.display().to_string(), &text).map_err(|d| Error::Invalid(d.to_string()))
}

impl WorkloadSource for LabSource {
    fn node(&self) -> &str {
        &self.node
    }

    fn node_netns(&self) -> PathBuf {
        Path::new("/run/netns").join(self.lab.node_netns(&self.node))
    }

    fn snapshot(&mut self) -> Result<Snapshot, Error> {
        self.refresh();
        let snap = self.build();
        self.last = Some(snap.clone());
        Ok(snap)
    }

    fn wait_change(&mut self, timeout: Duration) -> Result<bool, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            self.refresh();
            let now = self.build();
            if self.last.as_ref() != Some(&now) {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            std::thread::sleep(left.min(POLL));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("lab.yaml");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("bh-runtime-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    const TWO: &str = "name: rtzzq\nsubnet: 10.9.0.0/24\nnodes: [{name: n1}, {name: n2}]\n\
        workloads:\n  - {name: a, ip: 10.9.0.10, node: n1}\n  - {name: b, ip: 10.9.0.11, node: n2}\n";

    #[test]
    fn a_multi_node_lab_needs_a_node_and_knows_its_names() {
        let dir = tmp("nodes");
        let p = write(&dir, TWO);
        let err = LabSource::open(&p, None).err().unwrap();
        assert!(err.to_string().contains("--node"), "{err}");
        let err = LabSource::open(&p, Some("n3")).err().unwrap();
        assert!(err.to_string().contains("n1, n2"), "{err}");
        let src = LabSource::open(&p, Some("n2")).unwrap();
        assert_eq!(src.node(), "n2");
        assert_eq!(src.node_netns(), Path::new("/run/netns/rtzzq-n2"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn only_workloads_whose_namespace_is_up_are_reported() {
        // This lab was never brought up: the file lists workloads, none is running.
        let dir = tmp("up");
        let p = write(&dir, TWO);
        let mut src = LabSource::open(&p, Some("n1")).unwrap();
        let snap = src.snapshot().unwrap();
        assert!(snap.workloads.is_empty());
        assert_eq!(snap.cluster_cidrs, vec!["10.9.0.0/24".parse().unwrap()]);
        assert_eq!(snap.host_ips.len(), 1);
        assert!(!src.wait_change(Duration::from_millis(10)).unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_bad_lab_file_names_its_location() {
        let dir = tmp("bad");
        let p = write(&dir, "name: rtzzq\nsubnet: nope\nworkloads: []\n");
        let err = LabSource::open(&p, None).err().unwrap();
        assert!(err.to_string().contains("lab.yaml:2:"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
