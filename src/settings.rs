//! Settings layered in one place: built-in or `--profile` < `--config` < environment < command
//! line. Profile keys (endpoints, trust, identity) become a `Profile`; run settings (timeout,
//! format, retries, strict, concurrency, deadline, maintenance) become `RunSettings`. clap reads
//! each flag's environment variable, so "environment < command line" is clap's, and both win
//! over the files here.

use std::path::Path;
use std::time::Duration;

use crate::cli::{CheckArgs, ProfileArgs, TrustArgs};
use crate::error::UsageError;
use crate::maintenance::MaintenanceMode;
use crate::output::Format;
use crate::profile::{self, ClientDoc, DnsDoc, Profile, ProfileDoc, RunDoc, TrustDoc};

/// Per-phase timeout when nothing sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Endpoints probed at once when nothing sets a bound. Every profile NHS publishes has far fewer;
/// for a directory-sized list, each endpoint in flight holds about 40 KiB (TLS and HTTP state), and
/// two cores are saturated by handshakes long before 128 are in flight (10,000 endpoints on
/// loopback: 3.6 s at 64, 128 or 256; 62.6 MiB at 128, 68.8 MiB at 256). On a slow network with
/// thousands of endpoints, raise it with `--concurrency`.
pub const DEFAULT_CONCURRENCY: usize = 128;

/// Layers profile < --config < command line into one profile.
pub fn resolve_profile(args: &ProfileArgs) -> Result<Profile, UsageError> {
    let mut cli = ProfileDoc::default();
    if !args.resolvers.is_empty() || args.allow_loopback {
        cli.dns = Some(DnsDoc {
            servers: (!args.resolvers.is_empty()).then(|| args.resolvers.clone()),
            allow_loopback: args.allow_loopback.then_some(true),
            zone: None,
        });
    }
    if args.client_cert.is_some() || args.client_key.is_some() {
        cli.client = Some(ClientDoc {
            cert: args.client_cert.clone(),
            key: args.client_key.clone(),
            ..ClientDoc::default()
        });
    }
    layered(&args.trust, cli)
}

/// The profile for commands that only need its trust anchors and slots (no network options).
pub fn resolve_trust_profile(args: &TrustArgs) -> Result<Profile, UsageError> {
    layered(args, ProfileDoc::default())
}

/// profile < --config < command line (`cli`, plus --ca-file).
fn layered(args: &TrustArgs, mut cli: ProfileDoc) -> Result<Profile, UsageError> {
    let mut doc = profile::load_profile(&args.profile)?;
    if let Some(config) = &args.config {
        doc = doc.overlay(ProfileDoc::load_file(config)?);
    }
    if !args.ca_files.is_empty() || !args.crl_files.is_empty() {
        let cwd = Path::new(".");
        let files = |list: &[std::path::PathBuf]| {
            (!list.is_empty()).then(|| list.iter().map(|p| cwd.join(p)).collect())
        };
        cli.trust = Some(TrustDoc {
            ca_files: files(&args.ca_files),
            crl_files: files(&args.crl_files),
            ..TrustDoc::default()
        });
    }
    Profile::resolve(doc.overlay(cli))
}

/// How a `check` run is driven, every value layered and defaulted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSettings {
    pub timeout: Duration,
    pub format: Format,
    pub retries: u8,
    pub strict: bool,
    pub concurrency: usize,
    pub deadline: Option<Duration>,
    pub maintenance: MaintenanceMode,
}

impl RunSettings {
    /// The `check` flags (or their environment variables) over the files' `[run]` table.
    pub fn layer(args: &CheckArgs, files: &RunDoc) -> RunSettings {
        RunSettings {
            timeout: timeout(&args.profile, files),
            format: args.format.or(files.format).unwrap_or(Format::Human),
            retries: args.retries.or(files.retries).unwrap_or(0),
            // A flag cannot say "not strict", so strict is on when either says so.
            strict: args.strict || files.strict.unwrap_or(false),
            concurrency: args
                .concurrency
                .or(files.concurrency)
                .map(usize::from)
                .unwrap_or(DEFAULT_CONCURRENCY),
            deadline: args.deadline.or(files.deadline.map(|d| d.0)),
            maintenance: args
                .maintenance
                .or(files.maintenance)
                .unwrap_or(MaintenanceMode::Warn),
        }
    }
}

/// The per-phase timeout: `--timeout` (or INT_CHECK_TIMEOUT), else the files', else 5 s.
pub fn timeout(args: &ProfileArgs, files: &RunDoc) -> Duration {
    args.timeout
        .or(files.timeout.map(|t| t.0))
        .unwrap_or(DEFAULT_TIMEOUT)
}
