//! The attempts of one source workload, all at once, on the calling thread (which is
//! inside the source's namespace: a single-threaded runtime creates every socket here,
//! and never hands work to another thread, which would be in another namespace).

use crate::error::{LabError, Result};
use bulkhead_policy::Protocol;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout, timeout_at};

/// Sources probed side by side; each holds one socket per attempt.
pub(super) const MAX_SOURCES: usize = 64;

/// A lost UDP datagram (e.g. one queued behind ARP resolution) is sent again this often,
/// so one loss does not turn an allowed flow into a denied one.
const UDP_RESEND: Duration = Duration::from_millis(200);

/// Runs every attempt in parallel; `true` where the destination answered.
pub(super) fn run(targets: &[(SocketAddrV4, Protocol)], limit: Duration) -> Result<Vec<bool>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LabError::io("start the probe runtime"))?;
    let salt = salt();
    let attempts = targets.iter().enumerate().map(|(i, (addr, proto))| {
        let nonce = format!("bulkhead-probe {salt:016x} {i}");
        async move {
            match proto {
                Protocol::Tcp => tcp(*addr, limit).await,
                Protocol::Udp => udp(*addr, nonce.as_bytes(), limit).await,
                // Nothing in a lab listens on SCTP (the lab file refuses it).
                Protocol::Sctp => false,
            }
        }
    });
    Ok(rt.block_on(futures::future::join_all(attempts)))
}

/// A connection, or a reset from the destination, proves the destination reachable;
/// only silence (a drop on the way) until the timeout means not allowed.
async fn tcp(addr: SocketAddrV4, limit: Duration) -> bool {
    match timeout(limit, TcpStream::connect(SocketAddr::V4(addr))).await {
        Ok(Ok(_stream)) => true,
        Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        Err(_) => false,
    }
}

/// A datagram carrying a nonce, allowed only if the destination's echo returns it.
async fn udp(addr: SocketAddrV4, nonce: &[u8], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let Ok(sock) =
        UdpSocket::bind(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))).await
    else {
        return false;
    };
    if sock.connect(SocketAddr::V4(addr)).await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; nonce.len() + 64];
    while Instant::now() < deadline {
        // A send error (an ICMP error queued from the previous try) is retried later.
        let _ = sock.send(nonce).await;
        let resend = (Instant::now() + UDP_RESEND).min(deadline);
        loop {
            match timeout_at(resend, sock.recv(&mut buf)).await {
                Ok(Ok(n)) if &buf[..n] == nonce => return true,
                // Someone else's datagram: keep waiting for ours.
                Ok(Ok(_)) => continue,
                // Port unreachable: no echo (yet); wait, then try again.
                Ok(Err(_)) => {
                    tokio::time::sleep_until(resend).await;
                    break;
                }
                Err(_) => break,
            }
        }
    }
    false
}

/// Makes every probe's nonce unique across runs, so a late echo of an earlier probe
/// can never be taken for this one's.
fn salt() -> u64 {
    let mut b = [0u8; 8];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok();
    if ok {
        u64::from_ne_bytes(b)
    } else {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        t ^ u64::from(std::process::id()).rotate_left(32)
    }
}

/// One socket per attempt: a large lab needs more descriptors than the usual soft
/// limit of 1024, so raise it to the hard limit (a no-op if that fails).
pub(super) fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}
