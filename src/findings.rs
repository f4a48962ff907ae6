//! What probes produce and renderers consume: one `Check` per thing tested.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::maintenance::{MaintenanceMode, WindowState};
use crate::reasons::Reason;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// Which phase of an endpoint a check belongs to, in pipeline order (also `--only`/`--skip` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum CheckKind {
    // Local checks of the client identity (no network).
    Identity,
    Dns,
    Tcp,
    Tls,
    Http,
    Ldap,
}

impl CheckKind {
    /// Whether this kind is an application phase (runs over a verified TLS session).
    pub fn is_application(self) -> bool {
        matches!(self, CheckKind::Http | CheckKind::Ldap)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Identity => "identity",
            CheckKind::Dns => "dns",
            CheckKind::Tcp => "tcp",
            CheckKind::Tls => "tls",
            CheckKind::Http => "http",
            CheckKind::Ldap => "ldap",
        }
    }
}

/// One row of the report.
#[derive(Clone, Debug)]
pub struct Check {
    pub endpoint: String,
    pub kind: CheckKind,
    /// `host:port` (or the host alone for DNS).
    pub target: String,
    /// The resolved address the check ran against, when it ran against one.
    pub address: Option<SocketAddr>,
    pub status: Status,
    pub reason: Option<Reason>,
    pub message: String,
    pub duration: Duration,
    /// Structured facts for machines and support staff (addresses, chain, protocol...).
    pub details: Map<String, Value>,
}

impl Check {
    pub fn new(endpoint: &str, kind: CheckKind, target: impl Into<String>) -> Self {
        Check {
            endpoint: endpoint.to_string(),
            kind,
            target: target.into(),
            address: None,
            status: Status::Pass,
            reason: None,
            message: String::new(),
            duration: Duration::ZERO,
            details: Map::new(),
        }
    }

    pub fn at(mut self, address: SocketAddr) -> Self {
        self.address = Some(address);
        self
    }

    pub fn took(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    pub fn pass(mut self, message: impl Into<String>) -> Self {
        self.status = Status::Pass;
        self.reason = None;
        self.message = message.into();
        self
    }

    pub fn warn(self, reason: Reason, message: impl Into<String>) -> Self {
        self.outcome(Status::Warn, reason, message)
    }

    pub fn fail(self, reason: Reason, message: impl Into<String>) -> Self {
        self.outcome(Status::Fail, reason, message)
    }

    pub fn skip(self, message: impl Into<String>) -> Self {
        self.outcome(Status::Skip, Reason::SkipDependencyFailed, message)
    }

    fn outcome(mut self, status: Status, reason: Reason, message: impl Into<String>) -> Self {
        self.status = status;
        self.reason = Some(reason);
        self.message = message.into();
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// The hint shown under a non-passing check.
    pub fn hint(&self) -> Option<&'static str> {
        self.reason.map(Reason::hint)
    }
}

/// Counts by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
}

impl Summary {
    pub fn of(checks: &[Check]) -> Self {
        let mut summary = Summary::default();
        for check in checks {
            match check.status {
                Status::Pass => summary.pass += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
                Status::Skip => summary.skip += 1,
            }
        }
        summary
    }

    pub fn total(&self) -> usize {
        self.pass + self.warn + self.fail + self.skip
    }
}

/// An endpoint as the report shows it (name and URL), in profile order.
#[derive(Clone, Debug)]
pub struct EndpointHeading {
    pub name: String,
    pub url: String,
}

/// Everything a renderer needs; renderers never probe.
#[derive(Clone, Debug)]
pub struct Report {
    pub tool_version: &'static str,
    pub profile: String,
    pub description: String,
    pub started_at: jiff::Timestamp,
    pub duration: Duration,
    pub endpoints: Vec<EndpointHeading>,
    pub checks: Vec<Check>,
    /// Maintenance slots at the time of the run.
    pub maintenance: WindowState,
}

impl Report {
    pub fn summary(&self) -> Summary {
        Summary::of(&self.checks)
    }

    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }
}

/// Rewrites failures of endpoints whose service is in a slot; the original reason is kept in the
/// details (`original_reason`).
pub fn apply_maintenance(
    checks: &mut [Check],
    service_of: impl Fn(&str) -> Option<String>,
    state: &WindowState,
    mode: MaintenanceMode,
) {
    for check in checks.iter_mut().filter(|c| c.status == Status::Fail) {
        let Some(service) = service_of(&check.endpoint) else {
            continue;
        };
        let Some(slot) = state.active_for(&service) else {
            continue;
        };
        check.details.insert("maintenance".into(), slot.to_json());
        if mode == MaintenanceMode::Fail {
            continue;
        }
        if let Some(original) = check.reason {
            check
                .details
                .insert("original_reason".into(), original.code().into());
        }
        check.status = if mode == MaintenanceMode::Warn {
            Status::Warn
        } else {
            Status::Skip
        };
        check.reason = Some(Reason::MaintenanceWindow);
        check.message = format!(
            "{} (during the {} maintenance slot until {})",
            check.message,
            slot.service,
            crate::maintenance::local(slot.end)
        );
    }
}
