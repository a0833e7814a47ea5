//! Helpers shared by every end-to-end test. Small on purpose: read this file and you
//! know the whole API.
//!
//! ```ignore
//! use crate::harness::{self, LabGuard, TestLab};
//!
//! // A lab file with a unique name (the `name:` line is written for you).
//! let lab = TestLab::new("np", "subnet: 10.0.0.0/24\nworkloads:\n  - {name: a, ip: 10.0.0.10, ports: [{port: 80}]}\n  - {name: b, ip: 10.0.0.11}\n");
//! let up = LabGuard::up(&lab);                 // `lab up`; `lab down` on drop, even on panic
//! let verdicts = up.probe(&[]);                // `lab probe -o json` as a ProbeMap
//! let policy = lab.file("deny.yaml", "...");   // more files beside the lab file
//! assert!(harness::all_allowed(&verdicts));
//! let run = harness::bulkhead(&["policy", "eval", "--lab", lab.path_str(), "-o", "json"]);
//! run.success();                               // panics with stdout/stderr unless exit 0
//! assert_eq!(harness::parse_probe(&run.stdout), verdicts);
//! harness::nft(&lab.node_netns("node"), "add table inet t"); // nft inside the lab's node
//! ```
//!
//! - [`run`]: the `bulkhead` binary ([`bulkhead`], [`Run`]).
//! - [`labs`]: lab files with unique names ([`TestLab`]) and the [`LabGuard`].
//! - [`probe`]: probe JSON as a comparable map ([`ProbeMap`], [`parse_probe`]).
//! - [`docker`]: a `dockerd` of the test's own in a fresh namespace ([`docker::DockerEngine`]).
//! - [`system`]: what is left on the machine (namespaces, daemons), running commands and
//!   sockets inside a namespace.

// Each test module uses a different part of the harness.
#![allow(dead_code, unused_imports)]

pub mod docker;
pub mod labs;
pub mod probe;
pub mod run;
pub mod stop;
pub mod system;

pub use labs::{LabGuard, TestLab, unique_lab_name};
pub use probe::{ProbeKey, ProbeMap, all_allowed, diff, key, parse_probe};
pub use run::{Run, bulkhead, bulkhead_bin, run_with_env};
pub use stop::{sigterm_and_wait, terminate};
pub use system::{TempDir, in_netns, lab_netns, nft, nsenter, serve_pids};
