//! Lab files with names no other test (thread or process) uses, and a guard that takes
//! the lab down whatever happens.

use super::probe::{ProbeMap, parse_probe};
use super::run::bulkhead;
use super::system::{TempDir, random_u64};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A fresh lab name: `prefix` (up to 3 lower-case letters) and 5 random base-36 chars,
/// so at most 8 characters as lab names must be. Never returns a name in use on this
/// machine (a namespace or state directory of that name) or given out before here.
pub fn unique_lab_name(prefix: &str) -> String {
    static GIVEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    assert!(
        prefix.len() <= 3 && prefix.chars().all(|c| c.is_ascii_lowercase()),
        "lab name prefix `{prefix}` must be 0 to 3 lower-case letters"
    );
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    loop {
        let mut n = random_u64();
        let mut name = if prefix.is_empty() {
            "t".to_string()
        } else {
            prefix.to_string()
        };
        for _ in 0..5 {
            name.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
            n /= 36;
        }
        let taken = given.contains(&name)
            || Path::new(bulkhead_lab::STATE_ROOT).join(&name).exists()
            || !super::lab_netns(&name).is_empty();
        if !taken {
            given.insert(name.clone());
            return name;
        }
    }
}

/// A lab file in its own temporary directory (removed on drop).
pub struct TestLab {
    pub name: String,
    pub path: PathBuf,
    dir: TempDir,
}

impl TestLab {
    /// Writes `name: <unique>` followed by `body` (the rest of the YAML lab file).
    pub fn new(prefix: &str, body: &str) -> TestLab {
        let name = unique_lab_name(prefix);
        let dir = TempDir::new(&name);
        let lab = TestLab {
            path: dir.path().join("lab.yaml"),
            name,
            dir,
        };
        lab.rewrite(body);
        lab
    }

    /// Replaces the file's body (the `name:` line stays), e.g. before a second `up`.
    pub fn rewrite(&self, body: &str) {
        self.write_raw(&format!("name: {}\n{body}", self.name));
    }

    /// Replaces the whole file, `name:` line included (for broken files).
    pub fn write_raw(&self, text: &str) {
        std::fs::write(&self.path, text)
            .unwrap_or_else(|e| panic!("write {}: {e}", self.path.display()));
    }

    /// Writes another file (a policy, say) beside the lab file; returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap_or_default()
    }

    /// The namespace of a node (`node` for a lab without `nodes:`).
    pub fn node_netns(&self, node: &str) -> String {
        format!("{}-{node}", self.name)
    }

    /// The namespace of a workload, by id (`x/a`, or `a` in namespace `default`).
    pub fn workload_netns(&self, id: &str) -> String {
        let (ns, name) = id.split_once('/').unwrap_or(("default", id));
        format!("{}-{ns}-{name}", self.name)
    }

    /// `bulkhead lab probe LAB -o json EXTRA...`, which must succeed, as a map.
    pub fn probe(&self, extra: &[&str]) -> ProbeMap {
        let mut args = vec!["lab", "probe", self.path_str(), "-o", "json"];
        args.extend_from_slice(extra);
        let run = bulkhead(&args);
        run.success();
        parse_probe(&run.stdout)
    }
}

/// A lab that is up: `lab up` on creation (which must succeed), `lab down` on drop,
/// also when the test panics.
pub struct LabGuard<'a> {
    pub lab: &'a TestLab,
}

impl<'a> LabGuard<'a> {
    #[track_caller]
    pub fn up(lab: &'a TestLab) -> LabGuard<'a> {
        // Armed before `up` runs, so a half-done `up` is cleaned too.
        let guard = LabGuard { lab };
        bulkhead(&["lab", "up", lab.path_str()]).success();
        guard
    }

    /// Runs `lab up` again (after [`TestLab::rewrite`]); must succeed.
    #[track_caller]
    pub fn reconcile(&self) {
        bulkhead(&["lab", "up", self.lab.path_str()]).success();
    }

    pub fn probe(&self, extra: &[&str]) -> ProbeMap {
        self.lab.probe(extra)
    }
}

impl std::ops::Deref for LabGuard<'_> {
    type Target = TestLab;
    fn deref(&self) -> &TestLab {
        self.lab
    }
}

impl Drop for LabGuard<'_> {
    fn drop(&mut self) {
        // By path first (it also finds the lab if the test broke the file), then by name.
        let by_path = bulkhead(&["lab", "down", self.lab.path_str()]);
        let ok = by_path.code == 0 || bulkhead(&["lab", "down", &self.lab.name]).code == 0;
        if !ok && !std::thread::panicking() {
            panic!("lab down failed:\n{by_path}");
        }
    }
}
