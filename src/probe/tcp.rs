//! TCP phase: connect to one resolved address.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::TcpStream;

use super::{ProbeContext, ProbeFailure, secs};
use crate::findings::{Check, CheckKind, Status};
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

/// Both address families judged as a client would: a failure of one family while an address of
/// the other connected is what a client falls back from, not an outage. An address with no route
/// for its family becomes `tcp.family_no_route`, one that timed out `tcp.family_fallback` (both
/// warnings); a dead address of the same family as a working one stays a failure (clients pick
/// any address: intermittent failures), and so does every failure when no address connected.
pub fn judge_families(checks: &mut [Check]) {
    let connected = |v6: bool| {
        checks
            .iter()
            .find(|c| {
                c.kind == CheckKind::Tcp
                    && matches!(c.status, Status::Pass | Status::Warn)
                    && c.address.is_some_and(|a| a.is_ipv6() == v6)
            })
            .and_then(|c| c.address)
    };
    let (v4, v6) = (connected(false), connected(true));
    for check in checks
        .iter_mut()
        .filter(|c| c.kind == CheckKind::Tcp && c.status == Status::Fail)
    {
        let Some(address) = check.address else {
            continue;
        };
        let (same, other) = if address.is_ipv6() {
            (v6, v4)
        } else {
            (v4, v6)
        };
        let (Some(working), None) = (other, same) else {
            continue;
        };
        let family = if address.is_ipv6() { "IPv6" } else { "IPv4" };
        let other_family = if working.is_ipv6() { "IPv6" } else { "IPv4" };
        let (reason, message) = match check.reason {
            Some(Reason::TcpUnreachable) => (
                Reason::TcpFamilyNoRoute,
                format!(
                    "no {family} route from this machine to {}; clients here use {other_family}: {} connected",
                    address.ip(),
                    working.ip()
                ),
            ),
            Some(Reason::TcpTimeout) => (
                Reason::TcpFamilyFallback,
                format!(
                    "{} ({family}) did not answer while {} ({other_family}) connected: clients that try {family} first fall back after a delay",
                    address.ip(),
                    working.ip()
                ),
            ),
            _ => continue,
        };
        *check = check.clone().warn(reason, message);
    }
}
