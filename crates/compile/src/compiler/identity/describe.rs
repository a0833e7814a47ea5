//! Readable names for identities: `x/a`, `x/a,x/b`, `10.0.0.0/8`, `world`, `host`.

use super::Atom;
use crate::compiler::select::Selector;
use crate::program::Identity;
use ipnet::Ipv4Net;
use std::fmt::Write as _;

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
        // Written straight into one string: most identities are one workload, and a
        // list of formatted parts joined afterwards costs three allocations each.
        let parts =
            workloads.len() + usize::from(self.host) + self.nets.len() + usize::from(self.world);
        let mut description = String::new();
        let mut part = |i: usize, write: &mut dyn FnMut(&mut String)| {
            if i < DESCRIPTION_PARTS {
                if i > 0 {
                    description.push(',');
                }
                write(&mut description);
            }
        };
        let mut i = 0;
        for w in &workloads {
            part(i, &mut |d| {
                d.push_str(&w.namespace);
                d.push('/');
                d.push_str(&w.name);
            });
            i += 1;
        }
        if self.host {
            part(i, &mut |d| d.push_str("host"));
            i += 1;
        }
        for net in &self.nets {
            part(i, &mut |d| {
                let _ = write!(d, "{net}");
            });
            i += 1;
        }
        if self.world {
            part(i, &mut |d| d.push_str("world"));
        }
        if parts == 0 {
            description.push('*');
        } else if parts > DESCRIPTION_PARTS {
            let more = parts - DESCRIPTION_PARTS;
            let _ = write!(description, ",... (+{more} more)");
        }
        Identity {
            description,
            workloads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_descriptions_are_cut_after_eight_parts() {
        let selector = Selector::new(&[]);
        let nets: Vec<Ipv4Net> = (1..=10u8)
            .map(|i| Ipv4Net::new(std::net::Ipv4Addr::new(10, i, 0, 0), 16).unwrap())
            .collect();
        let parts = |nets: &[Ipv4Net], host, world| Parts {
            workloads: vec![],
            host,
            nets: nets.to_vec(),
            world,
        };
        let cut = parts(&nets, true, true).finish(&selector).description;
        let first: Vec<String> = nets[..7].iter().map(ToString::to_string).collect();
        assert_eq!(cut, format!("host,{},... (+4 more)", first.join(",")));
        let whole = parts(&nets[..2], false, true).finish(&selector).description;
        assert_eq!(whole, "10.1.0.0/16,10.2.0.0/16,world");
        assert_eq!(parts(&[], false, false).finish(&selector).description, "*");
    }
}
