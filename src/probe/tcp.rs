//! TCP phase: connect to one resolved address.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::secs;
use crate::findings::{Check, CheckKind};
use crate::reasons::Reason;

/// Connects, returning the stream (for the next phase) and the check.
pub async fn connect(
    endpoint: &str,
    target: &str,
    address: SocketAddr,
    timeout: Duration,
) -> (Option<TcpStream>, Check) {
    let started = Instant::now();
    let attempt = tokio::time::timeout(timeout, TcpStream::connect(address)).await;
    let check = Check::new(endpoint, CheckKind::Tcp, target).at(address);
    let elapsed = started.elapsed();
    match attempt {
        Ok(Ok(stream)) => {
            // Small writes (TLS records) should leave at once.
            let _ = stream.set_nodelay(true);
            let check = check.took(elapsed).pass(format!("connected to {address}"));
            (Some(stream), check)
        }
        Err(_) => (
            None,
            check.took(elapsed).fail(
                Reason::TcpTimeout,
                format!(
                    "no answer from {address} within {} (packets dropped on the way)",
                    secs(timeout)
                ),
            ),
        ),
        Ok(Err(error)) => {
            let (reason, text) = classify(&error);
            (
                None,
                check
                    .took(elapsed)
                    .fail(reason, format!("{address}: {text}")),
            )
        }
    }
}

fn classify(error: &std::io::Error) -> (Reason, String) {
    match error.kind() {
        ErrorKind::ConnectionRefused => (
            Reason::TcpRefused,
            "connection refused (nothing listening on this port)".into(),
        ),
        ErrorKind::HostUnreachable => {
            (Reason::TcpUnreachable, "host unreachable (no route)".into())
        }
        ErrorKind::NetworkUnreachable => (
            Reason::TcpUnreachable,
            "network unreachable (no route)".into(),
        ),
        ErrorKind::TimedOut => (Reason::TcpTimeout, "connection timed out".into()),
        _ => (Reason::TcpFailed, crate::profile::io_reason(error)),
    }
}
