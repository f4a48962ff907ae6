//! A latency proxy: a network with a round-trip time, on loopback. Every byte and datagram is
//! held for half the round trip in each direction, in order. A TCP connection costs one round
//! trip before its first byte reaches the server: a user-space proxy cannot hold back the
//! kernel's SYN-ACK, so the client's `connect` returns at once and its first write waits instead,
//! which ends at the same moment as on a real network for protocols where the client speaks
//! first (TLS, HTTP, LDAP). A probe of the TCP connect alone therefore sees no delay here.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Starts a TCP proxy on `ip` (ephemeral port) in front of `upstream`, with round-trip time `rtt`.
pub async fn tcp_proxy(ip: IpAddr, upstream: SocketAddr, rtt: Duration) -> SocketAddr {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(accept_loop(listener, upstream, rtt));
    addr
}

/// Starts a DNS proxy on `ip`: UDP and TCP on the same ephemeral port, in front of `upstream`.
pub async fn dns_proxy(ip: IpAddr, upstream: SocketAddr, rtt: Duration) -> SocketAddr {
    for _ in 0..20 {
        let udp = UdpSocket::bind((ip, 0)).await.unwrap();
        let addr = udp.local_addr().unwrap();
        let Ok(tcp) = TcpListener::bind(addr).await else {
            continue;
        };
        tokio::spawn(accept_loop(tcp, upstream, rtt));
        tokio::spawn(udp_relay(udp, upstream, rtt));
        return addr;
    }
    panic!("no free port pair for the DNS latency proxy");
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, rtt: Duration) {
    while let Ok((client, _)) = listener.accept().await {
        let opened = Instant::now();
        tokio::spawn(async move {
            let _ = client.set_nodelay(true);
            let Ok(server) = TcpStream::connect(upstream).await else {
                // Refused upstream: the client learns it one round trip later.
                tokio::time::sleep(rtt).await;
                return;
            };
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            // The client's bytes cannot leave before its connect would have completed.
            let upward = delayed_copy(client_read, server_write, rtt / 2, opened + rtt);
            let downward = delayed_copy(server_read, client_write, rtt / 2, opened);
            let _ = tokio::join!(upward, downward);
        });
    }
}

/// Sleeps until `due`; not at all when it has passed (a timer would round up to the next
/// millisecond, which at a round-trip time of zero is all there is to measure).
async fn wait_until(due: Instant) {
    if due > Instant::now() {
        tokio::time::sleep_until(due).await;
    }
}

/// Copies `from` to `to`, each chunk written `delay` after it was read (but not before
/// `not_before + delay`); end of stream is passed on the same way.
async fn delayed_copy(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin + Send + 'static,
    delay: Duration,
    not_before: Instant,
) {
    let (queue, mut queued) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = queued.recv().await {
            wait_until(due).await;
            if chunk.is_empty() {
                let _ = to.shutdown().await;
                return;
            }
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = from.read(&mut buffer).await.unwrap_or(0);
        let due = Instant::now().max(not_before) + delay;
        if queue.send((due, buffer[..read].to_vec())).is_err() || read == 0 {
            break;
        }
    }
    drop(queue);
    let _ = writer.await;
}

/// Relays datagrams between clients and `upstream`, each way after half the round trip. One
/// upstream socket per client address, so replies find their way back.
async fn udp_relay(listen: UdpSocket, upstream: SocketAddr, rtt: Duration) {
    let listen = Arc::new(listen);
    let half = rtt / 2;
    let (to_upstream, mut upstream_queue) =
        mpsc::unbounded_channel::<(Instant, Arc<UdpSocket>, Vec<u8>)>();
    let (to_client, mut client_queue) = mpsc::unbounded_channel::<(Instant, SocketAddr, Vec<u8>)>();
    tokio::spawn(async move {
        while let Some((due, socket, datagram)) = upstream_queue.recv().await {
            wait_until(due).await;
            let _ = socket.send_to(&datagram, upstream).await;
        }
    });
    let replies = listen.clone();
    tokio::spawn(async move {
        while let Some((due, client, datagram)) = client_queue.recv().await {
            wait_until(due).await;
            let _ = replies.send_to(&datagram, client).await;
        }
    });
    let mut sockets: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut buffer = vec![0u8; 65_535];
    while let Ok((read, client)) = listen.recv_from(&mut buffer).await {
        let due = Instant::now() + half;
        let socket = match sockets.get(&client) {
            Some(socket) => socket.clone(),
            None => {
                let socket = Arc::new(UdpSocket::bind((upstream.ip(), 0)).await.unwrap());
                let (answers, back) = (socket.clone(), to_client.clone());
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 65_535];
                    while let Ok(read) = answers.recv(&mut buffer).await {
                        let due = Instant::now() + half;
                        if back.send((due, client, buffer[..read].to_vec())).is_err() {
                            return;
                        }
                    }
                });
                sockets.insert(client, socket.clone());
                socket
            }
        };
        let _ = to_upstream.send((due, socket, buffer[..read].to_vec()));
    }
}
