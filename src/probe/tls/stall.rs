//! A handshake that stalls: a dead server, or a path that loses large packets. HSCN is reached
//! through tunnels and VPNs; when ICMP "fragmentation needed" is dropped on the way (a path-MTU
//! black hole), the TCP handshake and our ClientHello pass and the server's certificate flight
//! (full-size segments) never arrives. A second handshake on a connection that advertises a small
//! MSS keeps the server's segments small: if it gets through, the path is the problem.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::TlsSetup;
use crate::pki::TrustStore;

/// The MSS advertised on the probing connection: the IPv4 minimum every path carries (576-byte
/// datagrams).
pub const SMALL_MSS: u32 = 536;

/// The probe waits this many round trips of its own TCP connect for the server's reply.
const ROUND_TRIPS: u32 = 20;

/// And at least this long (a server's TLS work on a slow machine).
const MIN_WAIT: Duration = Duration::from_millis(300);

/// Whether a handshake on a small-MSS connection gets the server's reply where the first did
/// not: bounded by the round trips of its own connect, never by more than `timeout`.
pub async fn small_packets_get_through(
    setup: &TlsSetup,
    trust: &Arc<TrustStore>,
    address: SocketAddr,
    server_name: &ServerName<'static>,
    timeout: Duration,
) -> bool {
    let socket = match address {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    };
    let Ok(socket) = socket else {
        return false;
    };
    if socket2::SockRef::from(&socket)
        .set_tcp_mss(SMALL_MSS)
        .is_err()
    {
        return false;
    }
    let started = Instant::now();
    let Ok(Ok(stream)) = tokio::time::timeout(timeout, socket.connect(address)).await else {
        return false;
    };
    let round_trip = started.elapsed();
    let wait = (round_trip * ROUND_TRIPS)
        .max(MIN_WAIT)
        .min(timeout.saturating_sub(round_trip));
    let (config, _recorder) = setup.client_config(trust);
    let connector = TlsConnector::from(Arc::new(config));
    // Any answer counts, a refusal included: what matters is that the server's packets arrive.
    match tokio::time::timeout(wait, connector.connect(server_name.clone(), stream)).await {
        Ok(Ok(_)) => true,
        Ok(Err(error)) => matches!(
            error
                .get_ref()
                .and_then(|e| e.downcast_ref::<rustls::Error>()),
            Some(rustls::Error::AlertReceived(_) | rustls::Error::InvalidCertificate(_))
        ),
        Err(_) => false,
    }
}
