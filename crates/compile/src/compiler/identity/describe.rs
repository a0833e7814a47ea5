//! Readable names for identities: `x/a`, `x/a,x/b`, `10.0.0.0/8`, `world`, `host`.

use super::Atom;
use crate::compiler::select::Selector;
use crate::program::Identity;
use ipnet::Ipv4Net;

/// Most identities name a few workloads; a cap keeps huge ones (a namespace-wide
/// identity of thousands of pods) readable. `workloads` still lists them all.
const DESCRIPTION_PARTS: usize = 8;

/// What one identity's regions are, for its description.
#[derive(Clone, Default)]
pub(super) struct Parts {
    workloads: Vec<u32>,
    host: bool,
    nets: Vec<Ipv4Net>,
    world: bool,
}

impl Parts {
    pub fn add(&mut self, net: &Ipv4Net, atom: &Atom) {
        if let Some(pos) = atom.owner {
            self.workloads.push(pos);
        }
        self.host |= atom.host;
        if atom.owner.is_none() && !atom.host {
            if net.prefix_len() == 0 {
                self.world = true;
            } else {
                self.nets.push(*net);
            }
        }
    }

    pub fn finish(mut self, selector: &Selector<'_>) -> Identity {
        self.workloads.sort_unstable();
        self.workloads.dedup();
        let workloads: Vec<_> = self
            .workloads
            .iter()
            .map(|&p| selector.workloads[p as usize].id.clone())
            .collect();
        let mut names: Vec<String> = workloads.iter().map(ToString::to_string).collect();
        names.extend(self.host.then(|| "host".to_string()));
        names.extend(self.nets.iter().map(ToString::to_string));
        names.extend(self.world.then(|| "world".to_string()));
        let description = if names.is_empty() {
            "*".to_string()
        } else if names.len() > DESCRIPTION_PARTS {
            let more = names.len() - DESCRIPTION_PARTS;
            format!(
                "{},... (+{more} more)",
                names[..DESCRIPTION_PARTS].join(",")
            )
        } else {
            names.join(",")
        };
        Identity {
            description,
            workloads,
        }
    }
}
