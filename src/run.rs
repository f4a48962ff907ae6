//! The composition root. A run is prepared once from plain values (`Prepared`: the profile, its
//! plan, trust and identity, and how its engines are made), then each run of it is one
//! `WholeRun`, as `check`, `serve`'s scheduled runs and `/probe` make it: the selected endpoints
//! and, beside them, what the directory says about you (your registration, then your own
//! endpoint as Spine reaches it) and about Spine (discovery), assembled into one report:
//! identity first, then your records, the profile's endpoints, and what the directory named;
//! maintenance slots applied.

use crate::probe::proxy::ProxyRules;
use crate::probe::revocation::CrlFetcher;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::directory::registration::REGISTRATION;
use crate::directory::{self, Compared, DISCOVERY, discovery_summary};
use crate::engine::{Basis, Engine, EngineOptions, build_engine};
use crate::error::UsageError;
use crate::findings::{Check, CheckKind, EndpointHeading, Report};
use crate::maintenance::{MaintenanceMode, WindowState};
use crate::pki::CertInfo;
use crate::pki::identity::{self, IDENTITY, IdentityVerdict};
use crate::plan::{Plan, PlannedEndpoint, Selection};
use crate::profile::{Endpoint, Origin, Profile, Registration};

/// A run prepared once: the profile, its plan (every endpoint with its trust store), what its
/// engines are made with, and what the directory phases compare with.
pub struct Prepared {
    pub profile: Profile,
    pub plan: Plan,
    pub basis: Basis,
    /// The directory your records and Spine's are looked up in (the profile's first ldaps://).
    pub directory: Option<PlannedEndpoint>,
    /// Every URL the profile checks: discovery compares the directory's with them.
    pub profile_urls: Vec<String>,
}

/// What one run covers besides the plan's endpoints.
pub struct Scope<'a> {
    pub selection: &'a Selection,
    /// Your registration is judged and your own endpoint probed (when the profile has them).
    pub registration: bool,
    /// The directory is asked what it registers under the profile's party key.
    pub discover: bool,
    /// The client identity's verdict for this run (`None`: none configured).
    pub identity: Option<&'a IdentityVerdict>,
    /// The engine's drive: concurrency, deadline, retries, progress.
    pub options: EngineOptions,
}

impl Prepared {
    /// Plans the profile; `at` fixes the instant certificates are judged at (`--at`).
    pub fn new(
        profile: Profile,
        timeout: std::time::Duration,
        at: Option<jiff::Timestamp>,
    ) -> Result<Prepared, UsageError> {
        let plan = Plan::from_profile(&profile)?;
        // A test hook: the lab points it at a file of its own.
        let hosts_file = std::env::var_os("INT_CHECK_HOSTS_FILE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from("/etc/hosts"));
        let proxies = ProxyRules::new(
            profile.proxy.as_ref(),
            profile.proxy_credentials_env.as_deref(),
            crate::engine::env_value,
        )
        .map_err(|e| {
            UsageError::new(e).hint("set HTTPS_PROXY=http://HOST:PORT, or unset it to go direct ([http] proxy in the profile wins over it)")
        })?;
        let profile_urls = profile
            .endpoints
            .iter()
            .map(|e| e.url.raw.clone())
            .collect();
        Ok(Prepared {
            directory: directory_of(&plan),
            profile_urls,
            basis: Basis {
                provider: Arc::new(rustls::crypto::ring::default_provider()),
                hosts_file,
                timeout,
                at,
                crls: Arc::new(CrlFetcher::new(proxies.clone(), timeout)),
                proxies,
            },
            profile,
            plan,
        })
    }

    /// The client identity judged at `at` (`None`: none configured). Its files are read now:
    /// `serve` judges them again at every run, as they may be replaced while it runs.
    pub fn judge_identity(
        &self,
        at: jiff::Timestamp,
    ) -> Result<Option<IdentityVerdict>, UsageError> {
        let Some(paths) = &self.profile.client else {
            return Ok(None);
        };
        let mut verdict = identity::verify(
            paths,
            &self.plan.profile_trust,
            &self.basis.provider,
            crate::pki::unix_time(at),
            self.profile.expiry_warning_days,
        )?;
        identity::purpose(&mut verdict, paths, &self.profile);
        Ok(Some(verdict))
    }

    /// The identity judged as `judge_identity` does, and against the revocation list its issuer
    /// publishes at the certificate's distribution point (fetched over http://, through the same
    /// proxy rules as the endpoints) when no CRL file covers that issuer. A list that cannot be
    /// had makes the revocation status unknown (`crl.status_unknown`, with the network path
    /// tried), never a silent pass.
    pub async fn judge_identity_online(
        &self,
        at: jiff::Timestamp,
    ) -> Result<Option<IdentityVerdict>, UsageError> {
        let Some(paths) = &self.profile.client else {
            return Ok(None);
        };
        let trust = &self.plan.profile_trust;
        let leaf = crate::pki::read_certificates(&paths.cert)
            .ok()
            .and_then(|chain| CertInfo::of(chain.first()?));
        let points: Vec<String> = match &leaf {
            Some(leaf) if !trust.crls.iter().any(|c| c.issuer == leaf.issuer) => leaf
                .crl_points
                .iter()
                .filter(|p| p.starts_with("http://"))
                .take(crate::probe::revocation::MAX_POINTS)
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        if points.is_empty() {
            return self.judge_identity(at);
        }
        let now = at.as_second();
        self.basis.crls.new_run(now);
        let mut fetched = Vec::new();
        let mut problems = Vec::new();
        for url in &points {
            match self.basis.crls.get(url).await.0.list {
                Ok(crl) => fetched.push(crl),
                Err(problem) => problems.push(problem),
            }
        }
        let mut with_lists = (**trust).clone();
        with_lists.crls.extend(fetched.iter().cloned());
        let mut verdict = identity::verify(
            paths,
            &with_lists,
            &self.basis.provider,
            crate::pki::unix_time(at),
            self.profile.expiry_warning_days,
        )?;
        identity::purpose(&mut verdict, paths, &self.profile);
        if fetched.is_empty() {
            verdict.checks.push(
                Check::new(IDENTITY, CheckKind::Identity, paths.cert.display().to_string()).warn(
                    crate::reasons::Reason::CrlStatusUnknown,
                    format!(
                        "the certificate's revocation list could not be had, so its revocation status is unknown: {}",
                        problems.join("; ")
                    ),
                ),
            );
        }
        Ok(Some(verdict))
    }

    /// An engine for the profile's endpoints.
    pub fn engine(&self, identity: Option<&IdentityVerdict>, options: EngineOptions) -> Engine {
        build_engine(&self.profile, &self.basis, identity, options)
    }

    /// The directory, or why a command that needs it cannot run.
    pub fn require_directory(&self) -> Result<PlannedEndpoint, UsageError> {
        self.directory.clone().ok_or_else(|| {
            UsageError::new(format!(
                "profile `{}` has no ldaps:// endpoint to look your registration up in",
                self.profile.name
            ))
            .hint("add the directory, e.g. [[endpoint]] name = \"sds-ldaps\" url = \"ldaps://ldap.nis1.national.ncrs.nhs.uk:636\"")
        })
    }

    /// One run of `plan` (the profile's, selected), as `scope` says.
    pub fn whole_run<'a>(&'a self, plan: Arc<Plan>, scope: Scope<'a>) -> WholeRun<'a> {
        let registration = self
            .profile
            .registration
            .clone()
            .filter(|_| scope.registration);
        let discover = self.profile.party_key.clone().filter(|_| scope.discover);
        let needs_directory = registration.is_some() || discover.is_some();
        // Your own endpoint is resolved as Spine resolves it (see `inbound_profile`).
        let inbound_engine = registration
            .as_ref()
            .filter(|r| r.party_key.is_some())
            .map(|_| {
                let options = EngineOptions {
                    progress: None,
                    ..scope.options.clone()
                };
                Arc::new(build_engine(
                    &inbound_profile(&self.profile),
                    &self.basis,
                    scope.identity,
                    options,
                ))
            });
        let selected_identity = scope.selection.identity();
        WholeRun {
            profile: &self.profile,
            plan,
            selection: scope.selection,
            engine: Arc::new(self.engine(scope.identity, scope.options)),
            inbound_engine,
            identity: scope
                .identity
                .filter(|_| selected_identity)
                .map(|verdict| verdict.checks.clone()),
            has_identity: scope.identity.is_some_and(|v| v.usable.is_some()),
            directory: self.directory.clone().filter(|_| needs_directory),
            registration,
            discover,
            profile_urls: &self.profile_urls,
            cert_names: crate::pki::client_names(&self.profile),
            maintenance: MaintenanceMode::Warn,
            at: self.basis.at.unwrap_or_else(jiff::Timestamp::now),
            started_at: jiff::Timestamp::now(),
            started: Instant::now(),
        }
    }
}

/// Everything one run needs besides the engines' own set-up (made by `Prepared::whole_run`).
pub struct WholeRun<'a> {
    /// The profile (its endpoint list may be emptied: `plan` and `profile_urls` stand for it).
    pub profile: &'a Profile,
    /// The selected endpoints.
    pub plan: Arc<Plan>,
    pub selection: &'a Selection,
    pub engine: Arc<Engine>,
    /// Resolves your own endpoint as Spine does (see `inbound_profile`); else `engine`.
    pub inbound_engine: Option<Arc<Engine>>,
    /// The client identity's checks, reported first (`None`: not configured or not selected).
    pub identity: Option<Vec<Check>>,
    /// Whether a usable client identity is presented (endpoints found in the directory use it).
    pub has_identity: bool,
    /// The directory your records and Spine's are looked up in (the profile's first ldaps://).
    pub directory: Option<PlannedEndpoint>,
    /// Your records, to judge (`None`: not configured, or not selected).
    pub registration: Option<Registration>,
    /// The party key whose registered endpoints are discovered (`None`: discovery is off).
    pub discover: Option<String>,
    /// Every URL the profile checks: discovery compares the directory's with them.
    pub profile_urls: &'a [String],
    /// The names in your client certificate (CN and SANs), for the FQDN check.
    pub cert_names: Vec<String>,
    pub maintenance: MaintenanceMode,
    /// The instant maintenance slots are judged at.
    pub at: jiff::Timestamp,
    /// When the run started (its set-up included), for the report.
    pub started_at: jiff::Timestamp,
    pub started: Instant,
}

/// The profile your own endpoint is resolved with: through the HSCN resolvers, as Spine
/// resolves it, unless the profile names its own DNS servers (then they are taken to be
/// HSCN's, or a lab's).
pub fn inbound_profile(profile: &Profile) -> Profile {
    let mut profile = profile.clone();
    if profile.dns_servers.is_empty() {
        profile.dns_servers = crate::profile::ResolverAddr::hscn();
    }
    profile
}

/// The profile's directory (its first ldaps:// endpoint), for look-ups of your own records.
pub fn directory_of(plan: &Plan) -> Option<PlannedEndpoint> {
    plan.endpoints
        .iter()
        .find(|p| p.endpoint.url.scheme == crate::profile::Scheme::Ldaps)
        .cloned()
}

impl WholeRun<'_> {
    /// What a failure inside a published maintenance slot becomes.
    pub fn maintenance(mut self, mode: MaintenanceMode) -> Self {
        self.maintenance = mode;
        self
    }

    /// When the run started, when its set-up counts too (the report's start and duration).
    pub fn started(mut self, started_at: jiff::Timestamp, started: Instant) -> Self {
        self.started_at = started_at;
        self.started = started;
        self
    }

    /// Runs it all (what the directory answers is probed as soon as it answers) and assembles
    /// the report.
    pub async fn run(self) -> Report {
        let engine = &self.engine;
        let plan = &self.plan;
        let selection = self.selection;
        // The registration phase and discovery run beside the endpoint probes: they are
        // reported first, but waiting for them would add their round trips to every run.
        let inbound_wanted = selection.phases_include(CheckKind::Inbound);
        let accepted_cas: Vec<String> = plan
            .profile_trust
            .roots
            .iter()
            .chain(&plan.profile_trust.intermediates)
            .filter_map(|c| CertInfo::of(c)?.common_name)
            .collect();
        let registered = async {
            let (Some(registration), Some(directory)) = (&self.registration, &self.directory)
            else {
                return None;
            };
            let (checks, answers) =
                directory::registration(engine, directory, registration, &self.cert_names).await;
            // Your own endpoint, as Spine will reach it.
            let urls = directory::registration::registered_urls(answers.mhs_records());
            let found: Vec<Endpoint> = urls
                .iter()
                .filter_map(|u| Endpoint::found(u, Origin::Inbound, self.has_identity))
                .collect();
            let found = Plan::found(found, &plan.profile_trust, selection);
            let runner = self
                .inbound_engine
                .clone()
                .unwrap_or_else(|| engine.clone());
            let mut inbound = runner.run(Arc::new(found.clone())).await;
            if inbound_wanted {
                inbound.extend(directory::inbound::judge_all(
                    &inbound,
                    &accepted_cas,
                    &self.profile.inbound_sources,
                ));
                // Each endpoint's checks together, in plan order (the sort is stable).
                let position = |name: &str| {
                    found
                        .endpoints
                        .iter()
                        .position(|p| p.endpoint.name == name)
                        .unwrap_or(usize::MAX)
                };
                inbound.sort_by_key(|c| position(&c.endpoint));
            }
            Some((checks, found, inbound))
        };
        let discovered = async {
            let (Some(party_key), Some(directory)) = (&self.discover, &self.directory) else {
                return None;
            };
            // Only the records of the interactions asked for, when some are (matched exactly,
            // as SDS matches nhsMhsSvcIA).
            let interactions = &self.profile.discover_interactions;
            let found = directory::mhs_records(engine, directory, party_key)
                .await
                .map(|mut found| {
                    if !interactions.is_empty() {
                        found.entries.retain(|e| {
                            e.get("nhsMhsSvcIA")
                                .iter()
                                .any(|i| interactions.contains(i))
                        });
                    }
                    found
                });
            let (summary, endpoints) = discovery_summary(
                party_key,
                directory,
                found,
                &Compared {
                    profile_urls: self.profile_urls,
                    max: self.profile.max_discovered,
                    mtls: self.has_identity,
                },
            );
            let found = Plan::found(endpoints, &plan.profile_trust, selection);
            let checks = engine.clone().run(Arc::new(found.clone())).await;
            Some((summary, found, checks))
        };
        let (probed, registered, discovered) =
            tokio::join!(engine.clone().run(plan.clone()), registered, discovered);

        let profile = self.profile;
        let mut endpoints = Vec::new();
        let mut checks = Vec::new();
        // The identity is checked once, before (and reported above) every endpoint that uses it.
        if let (Some(identity), Some(paths)) = (self.identity, &profile.client) {
            endpoints.push(EndpointHeading {
                name: IDENTITY.to_string(),
                url: paths.cert.display().to_string(),
                network: None,
                origin: None,
            });
            checks.extend(identity);
        }
        let directory_url = self
            .directory
            .as_ref()
            .map(|d| d.endpoint.url.raw.clone())
            .unwrap_or_default();
        let heading = |p: &PlannedEndpoint| EndpointHeading {
            name: p.endpoint.name.clone(),
            url: p.endpoint.url.raw.clone(),
            network: Some(p.endpoint.network),
            origin: Some(p.endpoint.origin),
        };
        let mut inbound = None;
        if let Some((registration_checks, inbound_plan, inbound_checks)) = registered {
            endpoints.push(EndpointHeading {
                name: REGISTRATION.to_string(),
                url: directory_url.clone(),
                network: None,
                origin: None,
            });
            checks.extend(registration_checks);
            inbound = Some((inbound_plan, inbound_checks));
        }
        let mut discovered_endpoints = None;
        if let Some((summary, discovered_plan, discovered_checks)) = discovered {
            endpoints.push(EndpointHeading {
                name: DISCOVERY.to_string(),
                url: directory_url,
                network: None,
                origin: None,
            });
            checks.push(summary);
            discovered_endpoints = Some((discovered_plan, discovered_checks));
        }
        endpoints.extend(plan.endpoints.iter().map(heading));
        // The profile's checks are most of the run (forty thousand for ten thousand endpoints):
        // the few before them go in front, so the long list is not copied.
        let mut probed = probed;
        probed.splice(0..0, checks);
        let mut checks = probed;
        // Found in the directory: after the profile's own endpoints.
        for (found_plan, found_checks) in [discovered_endpoints, inbound].into_iter().flatten() {
            endpoints.extend(found_plan.endpoints.iter().map(heading));
            checks.extend(found_checks);
        }

        let windows = WindowState::at(&profile.maintenance, self.at);
        let mut services: HashMap<&str, &str> = plan
            .endpoints
            .iter()
            .filter_map(|p| Some((p.endpoint.name.as_str(), p.endpoint.service.as_deref()?)))
            .collect();
        // The registration checks ask the directory: its maintenance slot is theirs.
        if let Some(service) = self
            .directory
            .as_ref()
            .and_then(|d| d.endpoint.service.as_deref())
        {
            services.insert(REGISTRATION, service);
        }
        let service_of = |endpoint: &str| services.get(endpoint).map(|s| s.to_string());
        crate::findings::apply_maintenance(&mut checks, service_of, &windows, self.maintenance);

        let mut report = Report::begun(profile, self.started_at);
        report.endpoints = endpoints;
        report.checks = checks;
        if !profile.maintenance.is_empty() {
            report.maintenance = windows;
        }
        report.finished(self.started)
    }
}
