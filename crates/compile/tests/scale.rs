//! The synthetic benchmark input, compiled at a size where the compiler splits the
//! endpoints across threads: the program must keep its shape and agree with the
//! reference evaluator on a sample of flows, and the generator must produce what its
//! documentation promises (the nft and eBPF benchmarks rely on it).

mod common;

use bulkhead_compile::Outcome;
use bulkhead_compile::synthetic::{self, address, peers_of};
use bulkhead_policy::eval::{Flow, evaluate};

const WORKLOADS: usize = 1_500;
const PEERS: usize = 3;

#[test]
fn the_synthetic_input_compiles_to_what_the_evaluator_says() {
    let s = synthetic::scale(WORKLOADS, PEERS);
    let program = common::compile_all(&s.policies, &s.inventory);
    assert_eq!(program.endpoints.len(), WORKLOADS);
    assert_eq!(program.entry_count(), WORKLOADS * (2 * PEERS + 3));
    // Every workload is told apart, plus the world and the rest of the cluster.
    assert_eq!(program.identities.len() - 1, WORKLOADS + 2);
    let outside = common::ip("8.8.8.8");
    for i in (0..WORKLOADS).step_by(7) {
        let me = address(i);
        let mut others: Vec<usize> = peers_of(i, WORKLOADS, PEERS);
        others.push((i * 31 + 5) % WORKLOADS);
        let mut addrs: Vec<_> = others.into_iter().map(address).collect();
        addrs.extend([outside, synthetic::HOST]);
        for other in addrs {
            for (src, dst) in [(other, me), (me, other)] {
                for (protocol, port) in [(6, 8080), (6, 443), (6, 23), (17, 53), (1, 0)] {
                    let want = evaluate(
                        &s.policies,
                        &s.inventory,
                        &Flow {
                            src,
                            dst,
                            protocol,
                            port,
                        },
                    );
                    let (lp, lport) = if protocol == 1 {
                        (0, 0)
                    } else {
                        (protocol, port)
                    };
                    let got = program.check(src, dst, lp, lport).outcome() == Outcome::Allowed;
                    assert_eq!(got, want.allowed, "{src} -> {dst} {protocol}/{port}");
                }
            }
        }
    }
}

#[test]
fn the_generator_is_deterministic() {
    let a = synthetic::scale(50, 4);
    let b = synthetic::scale(50, 4);
    assert_eq!(a.policies, b.policies);
    assert_eq!(a.inventory, b.inventory);
    assert_eq!(a.policies.policies.len(), 51);
    assert!(peers_of(3, 50, 4).iter().all(|&j| j != 3 && j < 50));
}
