//! Node namespaces: the bridge holding the node's host address, the sysctls the
//! enforcement backends depend on, and (with several nodes) the underlay joining them.

use crate::error::Result;
use crate::rtnl::Rtnl;
use crate::topology::{BRIDGE, NodeSpec, Topology, UPLINK, underlay_port};
use crate::{l2, netns, parallel};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;

/// Sysctls of every node namespace. `bridge-nf-call-iptables` (per namespace since
/// Linux 5.3) makes bridged IPv4 traffic pass the netfilter hooks, where the nft backend
/// sees it; `nf_conntrack_acct` gives flow records their packet and byte counts.
const NODE_SYSCTLS: [(&str, &str); 2] = [
    ("net/bridge/bridge-nf-call-iptables", "1"),
    ("net/netfilter/nf_conntrack_acct", "1"),
];

/// Lab traffic is IPv4; IPv6 on lab links only adds DAD and router solicitation noise
/// to captures and flow logs. Set before any link exists so every link inherits it.
pub(crate) fn quiet_ipv6() -> Result<()> {
    netns::sysctl("net/ipv6/conf/all/disable_ipv6", "1")?;
    netns::sysctl("net/ipv6/conf/default/disable_ipv6", "1")
}

/// Creates the namespace if missing, runs `f` inside it either way.
pub(crate) fn in_netns<T: Send>(name: &str, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    if netns::exists(name) {
        netns::run_in(name, f)
    } else {
        netns::create(name, || {
            quiet_ipv6()?;
            f()
        })
    }
}

/// Brings every node (and the underlay) to the topology's state.
pub(crate) fn ensure(t: &Topology) -> Result<()> {
    if let Some(ul) = &t.underlay {
        let mac = crate::topology::local_mac(ul);
        in_netns(ul, || {
            let nl = Rtnl::open()?;
            up_lo(&nl)?;
            let br = ensure_bridge(&nl, mac, None)?;
            // Ports of nodes no longer in the lab go; their node namespace goes later.
            for l in nl.links()? {
                let node = l.name.strip_prefix("n-");
                if node.is_some_and(|n| !t.nodes.iter().any(|x| x.name == n)) {
                    nl.del_link(l.index)?;
                }
            }
            Ok(br)
        })?;
    }
    parallel::try_map(&t.nodes, parallel::WIDTH, |node| ensure_node(t, node))?;
    if let Some(ul) = &t.underlay {
        // Uplinks were made from the node side (a veth peer cannot be given a bridge
        // at creation): attach the underlay's ends now, then its static L2 table.
        netns::run_in(ul, || {
            let nl = Rtnl::open()?;
            let br = nl.link(BRIDGE)?.map(|b| b.index);
            let mut ports = HashMap::new();
            for l in nl.links()? {
                if l.name.starts_with("n-") && (l.controller != br || !l.up) {
                    nl.set_up(l.index, br)?;
                }
                ports.insert(l.name, l.index);
            }
            match br {
                Some(br) => l2::sync_fdb(&nl, br, &ports, &l2::underlay_fdb(t)),
                None => Err(crate::LabError::Invalid(format!("{ul} has no bridge"))),
            }
        })?;
    }
    Ok(())
}

fn ensure_node(t: &Topology, node: &NodeSpec) -> Result<()> {
    let underlay = match &t.underlay {
        Some(ul) => Some((ul.as_str(), netns::open(ul)?)),
        None => None,
    };
    in_netns(&node.netns, || {
        for (k, v) in NODE_SYSCTLS {
            netns::sysctl(k, v)?;
        }
        let nl = Rtnl::open()?;
        up_lo(&nl)?;
        let br = ensure_bridge(&nl, node.mac, Some((node.host_ip, t.prefix)))?;
        let uplink = nl.link(UPLINK)?;
        match (&underlay, uplink) {
            (None, Some(l)) => nl.del_link(l.index)?,
            (None, None) => {}
            (Some((name, fd)), existing) => {
                let peer_ns = nl.netns_id(name)?;
                let paired = existing
                    .as_ref()
                    .is_some_and(|l| l.peer_netns_id.is_some() && l.peer_netns_id == peer_ns);
                if !paired {
                    if let Some(l) = existing {
                        nl.del_link(l.index)?;
                    }
                    nl.add_veth(
                        UPLINK,
                        Some(br),
                        &underlay_port(&node.name),
                        fd.as_fd(),
                        None,
                    )?;
                }
            }
        }
        Ok(())
    })
}

/// Ensures the bridge exists and is up, with `addr` as its only IPv4 address (or none
/// for the underlay's). Returns its index.
fn ensure_bridge(nl: &Rtnl, mac: [u8; 6], addr: Option<(Ipv4Addr, u8)>) -> Result<u32> {
    if nl.link(BRIDGE)?.is_none() {
        nl.add_bridge(BRIDGE, mac)?;
    }
    let Some(br) = nl.link(BRIDGE)? else {
        return Err(crate::LabError::Invalid(format!(
            "bridge {BRIDGE} vanished right after its creation"
        )));
    };
    if !br.up {
        nl.set_up(br.index, None)?;
    }
    if let Some((ip, prefix)) = addr {
        nl.ensure_addr(br.index, ip, prefix)?;
    }
    Ok(br.index)
}

pub(crate) fn up_lo(nl: &Rtnl) -> Result<()> {
    match nl.link("lo")? {
        Some(lo) if !lo.up => nl.set_up(lo.index, None),
        _ => Ok(()),
    }
}
