//! Settings layered in one place: built-in or `--profile` < `--config` < environment < command
//! line. Profile keys (endpoints, trust, identity) become a `Profile`; run settings (timeout,
//! format, retries, strict, concurrency, deadline, maintenance) become `RunSettings`. clap reads
//! each flag's environment variable, so "environment < command line" is clap's, and both win
//! over the files here. The command line hands its values down as plain structs
//! (`TrustSources`, `ProfileSources`, `RunFlags`: cli.rs converts into them); nothing here
//! knows clap.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::DEFAULT_CONCURRENCY;
use crate::error::UsageError;
use crate::maintenance::MaintenanceMode;
use crate::output::Format;
use crate::profile::{
    self, ClientDoc, ConnectTo, DnsDoc, Profile, ProfileDoc, ResolverAddr, RunDoc, TrustDoc,
};

/// Per-phase timeout when nothing sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a profile comes from and the trust files laid over it (`--profile`, `--config`,
/// `--ca-file`, `--crl-file`).
#[derive(Clone, Debug, Default)]
pub struct TrustSources {
    /// A built-in profile's name or a profile file's path.
    pub profile: String,
    pub config: Option<PathBuf>,
    pub ca_files: Vec<PathBuf>,
    pub crl_files: Vec<PathBuf>,
}

/// What the command line lays over a profile for commands that talk to an environment.
#[derive(Clone, Debug, Default)]
pub struct ProfileSources {
    pub trust: TrustSources,
    pub resolvers: Vec<ResolverAddr>,
    pub allow_loopback: bool,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub timeout: Option<Duration>,
    /// `--connect-to HOST:IP`: connect there for the endpoints whose URL host is HOST.
    pub connect_to: Vec<ConnectTo>,
}

/// The run flags of `check` (each `None`/`false` when not given).
#[derive(Clone, Debug, Default)]
pub struct RunFlags {
    pub format: Option<Format>,
    pub retries: Option<u8>,
    pub strict: bool,
    pub concurrency: Option<u16>,
    pub deadline: Option<Duration>,
    pub maintenance: Option<MaintenanceMode>,
}

/// Layers profile < --config < command line into one profile.
pub fn resolve_profile(args: &ProfileSources) -> Result<Profile, UsageError> {
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
    let mut profile = layered(&args.trust, cli)?;
    for connect in &args.connect_to {
        let mut matched = false;
        for endpoint in profile
            .endpoints
            .iter_mut()
            .filter(|e| e.url.host.eq_ignore_ascii_case(&connect.host))
        {
            endpoint.connect_to = Some(connect.ip);
            matched = true;
        }
        if !matched {
            let mut hosts: Vec<&str> = profile
                .endpoints
                .iter()
                .map(|e| e.url.host.as_str())
                .collect();
            hosts.sort_unstable();
            hosts.dedup();
            return Err(UsageError::new(format!(
                "--connect-to {}:{}: no endpoint of profile `{}` has the host {}",
                connect.host, connect.ip, profile.name, connect.host
            ))
            .hint(format!("hosts of this profile: {}", hosts.join(", "))));
        }
    }
    Ok(profile)
}

/// The profile for commands that only need its trust anchors and slots (no network options).
pub fn resolve_trust_profile(args: &TrustSources) -> Result<Profile, UsageError> {
    layered(args, ProfileDoc::default())
}

/// profile < --config < command line (`cli`, plus --ca-file).
fn layered(args: &TrustSources, mut cli: ProfileDoc) -> Result<Profile, UsageError> {
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
    pub fn layer(args: &RunFlags, timeout_flag: Option<Duration>, files: &RunDoc) -> RunSettings {
        RunSettings {
            timeout: timeout(timeout_flag, files),
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
pub fn timeout(flag: Option<Duration>, files: &RunDoc) -> Duration {
    flag.or(files.timeout.map(|t| t.0))
        .unwrap_or(DEFAULT_TIMEOUT)
}
