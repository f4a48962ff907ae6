//! Probes: one module per phase. Every probe of an endpoint gets the same `ProbeContext`
//! (passed once, built by the engine) and reports a failure as one `ProbeFailure`. Probes never
//! print; each returns `Check`s.

pub mod dns;
pub mod http;
pub mod ldap;
pub mod mesh;
pub mod proxy;
pub mod revocation;
pub mod tcp;
pub mod tcp_info;
pub mod tls;
pub mod wire_bytes;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::findings::{Check, CheckKind};
use crate::pki::TrustStore;
use crate::profile::Endpoint;
use crate::reasons::Reason;

/// Everything the probes of one endpoint need: its settings, its own trust anchors, the run's
/// TLS set-up, the per-phase timeout, the HTTPS route and the directory identifiers.
pub struct ProbeContext<'a> {
    pub endpoint: &'a Endpoint,
    /// `host:port`, as reports show it.
    pub target: String,
    pub trust: &'a Arc<TrustStore>,
    pub tls: &'a tls::TlsSetup,
    /// Per phase (and per LDAP operation).
    pub timeout: Duration,
    /// Straight to the resolved address, or through the HTTPS proxy.
    pub route: proxy::Route,
    /// What directory search filters may use.
    pub ids: &'a ldap::Identifiers,
    /// Revocation lists from distribution points, shared by the run.
    pub crls: &'a revocation::CrlFetcher,
}

impl ProbeContext<'_> {
    /// A new check of this endpoint that ran at no address.
    pub fn check_at_host(&self, kind: CheckKind) -> Check {
        Check::new(&self.endpoint.name, kind, self.target.clone())
    }

    /// A new check of this endpoint at one address.
    pub fn check(&self, kind: CheckKind, address: SocketAddr) -> Check {
        Check::new(&self.endpoint.name, kind, self.target.clone()).at(address)
    }
}

/// Why a probe step failed: a reason code, a message a person can read on the phone, and the
/// library's own error text (for the support call, in the check's details, never the message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeFailure {
    pub reason: Reason,
    pub message: String,
    pub raw: Option<String>,
}

impl ProbeFailure {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        ProbeFailure {
            reason,
            message: message.into(),
            raw: None,
        }
    }

    /// Keeps the library's error text for the details.
    pub fn raw(mut self, error: impl fmt::Display) -> Self {
        self.raw = Some(error.to_string());
        self
    }
}

impl Check {
    /// This check failed as `failure` says; the raw error goes into `details.error`.
    pub fn failed(self, failure: ProbeFailure) -> Check {
        let check = match failure.raw {
            Some(raw) => self.with_detail(|d| d.error = Some(raw)),
            None => self,
        };
        check.fail(failure.reason, failure.message)
    }
}

/// The application phase of a kind (the prober map): what runs over the session the TLS phase
/// verified at `address`. Kinds without one give no checks.
pub async fn application(
    kind: CheckKind,
    ctx: &ProbeContext<'_>,
    address: SocketAddr,
    session: Option<tls::Session>,
) -> Vec<Check> {
    // Boxed: each is a large state machine (hyper, reqwest, the LDAP session), and an endpoint's
    // task would otherwise reserve room for both from its first phase to its last.
    match kind {
        CheckKind::Http => vec![Box::pin(http::check(ctx, address, session)).await],
        CheckKind::Ldap => Box::pin(ldap::checks(ctx, address, session)).await,
        CheckKind::Identity
        | CheckKind::Inbound
        | CheckKind::Mesh
        | CheckKind::Registration
        | CheckKind::Dns
        | CheckKind::Tcp
        | CheckKind::Proxy
        | CheckKind::Tls => Vec::new(),
    }
}

/// A duration the way people say it in messages: `5s`, `1.5s`, `250ms`.
pub fn secs(duration: Duration) -> String {
    let s = duration.as_secs_f64();
    if s >= 1.0 && s.fract() == 0.0 {
        format!("{s:.0}s")
    } else if s >= 1.0 {
        format!("{s:.1}s")
    } else {
        format!("{}ms", duration.as_millis())
    }
}
