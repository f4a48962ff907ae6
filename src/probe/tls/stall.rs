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
use crate::probe::secs;
use crate::probe::tcp_info::Received;
use crate::reasons::Reason;

/// How far a handshake that did not finish got.
pub struct Stall<'a> {
    /// The first bytes of the server's reply the TLS library read.
    pub reply: &'a [u8],
    /// Bytes of the reply the TLS library read in all.
    pub received: usize,
    /// What the kernel received on the connection (out of order included), when known.
    pub kernel: Option<Received>,
    pub timeout: Duration,
}

impl Stall<'_> {
    /// The stall named: a path-MTU black hole when a small-packet handshake got through; else
    /// a stall when anything arrived (the kernel's out-of-order segments count), else a timeout.
    pub fn verdict(&self, small_got_through: bool) -> (Reason, String) {
        let arrived = match (self.received, self.server_hello()) {
            (0, _) => "nothing of the server's reply reached the TLS library".to_string(),
            (n, true) => {
                format!("{n} bytes of the server's reply arrived, its ServerHello among them")
            }
            (n, false) => {
                format!("{n} bytes of the server's reply arrived, not a whole ServerHello")
            }
        };
        let kernel = self.kernel_words();
        let seen = kernel
            .as_deref()
            .map(|k| format!("; {k}"))
            .unwrap_or_default();
        let within = secs(self.timeout);
        if small_got_through {
            return (
                Reason::TlsPathMtu,
                format!(
                    "the TLS handshake stalled ({arrived} in {within}{seen}), and completed on a second connection whose packets were kept small (MSS {SMALL_MSS}): large packets are lost on the path, a path-MTU black hole (typical of tunnels and VPNs that drop ICMP fragmentation-needed)"
                ),
            );
        }
        let held_back = self.kernel.is_some_and(|k| k.held_back());
        if self.received == 0 && !held_back {
            return (
                Reason::TlsHandshakeTimeout,
                format!(
                    "the TCP connection opened but the server sent nothing of a TLS handshake within {within}{seen} (small packets did not help either: not a path-MTU problem)"
                ),
            );
        }
        (
            Reason::TlsHandshakeStalled,
            format!(
                "the TLS handshake stopped: {arrived} and it did not finish within {within}{seen} (small packets did not help either)"
            ),
        )
    }

    /// Whether the reply began with a ServerHello (a handshake record whose first message is
    /// type 2).
    fn server_hello(&self) -> bool {
        self.reply.len() >= 6 && self.reply[0] == 0x16 && self.reply[5] == 0x02
    }

    fn kernel_words(&self) -> Option<String> {
        let kernel = self.kernel?;
        if kernel.held_back() {
            let count = kernel
                .out_of_order
                .filter(|n| *n > 0)
                .unwrap_or(kernel.data_segments);
            return Some(format!(
                "the kernel holds {count} segment(s) of it that arrived out of order, behind one that never came"
            ));
        }
        (kernel.data_segments == 0)
            .then(|| "the kernel received no data on the connection".to_string())
    }
}

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
