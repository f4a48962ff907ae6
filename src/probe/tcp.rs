//! TCP phase: connect to one resolved address.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::TcpStream;

use super::{ProbeContext, ProbeFailure, secs};
use crate::findings::{Check, CheckKind};
use crate::reasons::Reason;

/// Connects, returning the stream (for the next phase) and the check.
pub async fn connect(ctx: &ProbeContext<'_>, address: SocketAddr) -> (Option<TcpStream>, Check) {
    let timeout = ctx.timeout;
    let started = Instant::now();
    let attempt = tokio::time::timeout(timeout, TcpStream::connect(address)).await;
    let check = ctx
        .check(CheckKind::Tcp, address)
        .with_detail(|d| d.round_trips = Some(1));
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
        Ok(Err(error)) => (None, check.took(elapsed).failed(classify(address, &error))),
    }
}

/// A failed connect as a TCP finding (the directory look-ups connect outside this phase too).
pub fn classify(address: SocketAddr, error: &std::io::Error) -> ProbeFailure {
    let (reason, text) = match error.kind() {
        ErrorKind::ConnectionRefused => (
            Reason::TcpRefused,
            "connection refused (nothing listening on this port)".to_string(),
        ),
        ErrorKind::HostUnreachable => (
            Reason::TcpUnreachable,
            "host unreachable (no route)".to_string(),
        ),
        ErrorKind::NetworkUnreachable => (
            Reason::TcpUnreachable,
            "network unreachable (no route)".to_string(),
        ),
        ErrorKind::TimedOut => (Reason::TcpTimeout, "connection timed out".to_string()),
        _ => (Reason::TcpFailed, crate::profile::io_reason(error)),
    };
    ProbeFailure::new(reason, format!("{address}: {text}")).raw(error)
}
