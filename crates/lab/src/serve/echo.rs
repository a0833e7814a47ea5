//! Echo listeners: TCP accepts and echoes until the peer's EOF, then closes; UDP sends
//! every datagram back to its sender. Probes rely on exactly this.

use super::Key;
use crate::error::{LabError, Result};
use crate::{netns, parallel};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use tokio::io::AsyncWriteExt;
use tokio::task::AbortHandle;

pub(super) enum Socket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// Opens every listener, each inside its namespace (one thread per namespace).
pub(super) fn open_all(keys: &[Key]) -> Result<Vec<(Key, Socket)>> {
    let mut by_netns: BTreeMap<&str, Vec<&Key>> = BTreeMap::new();
    for k in keys {
        by_netns.entry(k.0.netns.as_str()).or_default().push(k);
    }
    let groups: Vec<(&str, Vec<&Key>)> = by_netns.into_iter().collect();
    let opened = parallel::try_map(&groups, parallel::WIDTH, |(ns, keys)| {
        netns::run_in(ns, || {
            keys.iter()
                .map(|k| Ok(((*k).clone(), bind(k)?)))
                .collect::<Result<Vec<_>>>()
        })
    })?;
    Ok(opened.into_iter().flatten().collect())
}

fn bind(key: &Key) -> Result<Socket> {
    let spec = &key.0;
    let addr = (Ipv4Addr::UNSPECIFIED, spec.port);
    let what = || {
        format!(
            "listen on {}/{} in {}",
            spec.port, spec.protocol, spec.netns
        )
    };
    let socket = match spec.protocol {
        bulkhead_policy::Protocol::Tcp => {
            let l = TcpListener::bind(addr).map_err(LabError::io(what()))?;
            l.set_nonblocking(true).map_err(LabError::io(what()))?;
            Socket::Tcp(l)
        }
        bulkhead_policy::Protocol::Udp => {
            let s = UdpSocket::bind(addr).map_err(LabError::io(what()))?;
            s.set_nonblocking(true).map_err(LabError::io(what()))?;
            Socket::Udp(s)
        }
        bulkhead_policy::Protocol::Sctp => {
            return Err(LabError::Invalid(format!(
                "{}: the lab cannot listen on SCTP",
                what()
            )));
        }
    };
    Ok(socket)
}

/// Serves a listener on the current runtime; aborting the task closes it.
pub(super) fn spawn(socket: Socket) -> Result<AbortHandle> {
    let handle = match socket {
        Socket::Tcp(l) => {
            let l = tokio::net::TcpListener::from_std(l)
                .map_err(LabError::io("register a TCP listener"))?;
            tokio::spawn(serve_tcp(l)).abort_handle()
        }
        Socket::Udp(s) => {
            let s = tokio::net::UdpSocket::from_std(s)
                .map_err(LabError::io("register a UDP listener"))?;
            tokio::spawn(serve_udp(s)).abort_handle()
        }
    };
    Ok(handle)
}

async fn serve_tcp(listener: tokio::net::TcpListener) {
    loop {
        match listener.accept().await {
            Ok((mut stream, _)) => {
                tokio::spawn(async move {
                    let (mut r, mut w) = stream.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                    let _ = w.shutdown().await;
                });
            }
            // Out of descriptors or a connection reset before accept: try again shortly
            // rather than spin.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}

async fn serve_udp(socket: tokio::net::UdpSocket) {
    let mut buf = vec![0u8; 65536];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, peer)) => {
                let _ = socket.send_to(&buf[..n], peer).await;
            }
            // An ICMP error for an earlier reply surfaces here; it is not ours to act on.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
        }
    }
}
