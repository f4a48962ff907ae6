//! `int-check serve`: a Prometheus exporter on the same runtime as the probes. Scheduled runs of
//! the profile (never overlapping: a run that overruns delays the next, and is counted) feed
//! `/metrics` and the status page `/`; a scrape only reads the last completed run. `/probe` is
//! blackbox_exporter's multi-target pattern: one endpoint of the loaded profile, probed now,
//! within the scrape's timeout, at most `max_probes` at once (503 beyond, counted).

pub mod connections;
pub mod targets;
pub mod web_config;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::engine::EngineOptions;
use crate::error::UsageError;
use crate::exit::Stop;
use crate::findings::{Check, CheckKind, Report};
use crate::maintenance::MaintenanceMode;
use crate::pki::identity::{IDENTITY, IdentityVerdict};
use crate::plan::{Plan, PlannedEndpoint};
use crate::profile::{Endpoint, Origin};
use crate::reasons::Reason;
use crate::report::{prometheus, status};
use crate::run::{Prepared, Scope};
use web_config::WebConfig;

/// Where `serve` listens unless told: loopback only. The port is above the 9100-9999 range the
/// Prometheus wiki's exporter allocations filled; it is not registered there yet.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:10036";
/// Taken off the scrape timeout Prometheus announces, so the answer arrives in time.
const SCRAPE_MARGIN: Duration = Duration::from_millis(500);
/// A /probe without the header gets this long.
const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// After a failed accept (out of descriptors), wait this long, doubling up to the max.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(500);
/// How long SIGTERM waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

/// How the exporter runs.
pub struct Settings {
    pub listen: SocketAddr,
    pub interval: Duration,
    /// The MESH handshake at most this often; scheduled runs in between show the last one.
    pub mesh_interval: Duration,
    /// `/probe?target=URL` is allowed for URLs matching one of these; none: only the profile's
    /// endpoints can be probed.
    pub allow_targets: Vec<targets::TargetPattern>,
    /// Whether such targets get the client certificate (only when the operator says so).
    pub client_cert_to_targets: bool,
    pub max_probes: usize,
    /// Open connections at most (connections::bound): the oldest idle one makes room.
    pub max_connections: usize,
    pub web: Option<WebConfig>,
    pub maintenance: MaintenanceMode,
    pub concurrency: usize,
    /// `[run] retries`: attempts after a transient DNS or TCP failure.
    pub retries: u8,
}

/// The last completed scheduled run, rendered once for every scrape that reads it.
struct LastRun {
    metrics: String,
    page: String,
}

/// The exporter's state, shared by the scheduler and every request.
pub struct Exporter {
    /// The profile, its trust and how engines are made (its plan's endpoints are in `plan`).
    prepared: Prepared,
    /// Every endpoint of the profile, planned.
    plan: Arc<Plan>,
    pub settings: Settings,
    services: HashMap<String, String>,
    last: RwLock<Option<Arc<LastRun>>>,
    /// The last MESH handshake of each endpoint, and when it was made.
    mesh_last: std::sync::Mutex<HashMap<String, (Instant, Check)>>,
    identity: RwLock<Option<Arc<IdentityVerdict>>>,
    runs: AtomicU64,
    overruns: AtomicU64,
    last_duration_ms: AtomicU64,
    last_end: AtomicU64,
    probes_done: AtomicU64,
    probes_rejected: AtomicU64,
    probes_refused: AtomicU64,
    /// Probes whose client went away before the answer (a scrape timeout).
    probes_abandoned: AtomicU64,
    in_flight: AtomicUsize,
    probe_limit: Semaphore,
}

impl Exporter {
    pub fn new(mut prepared: Prepared, settings: Settings) -> Exporter {
        // The plan's endpoints are held once, here (the scheduled runs share them).
        let plan = Arc::new(Plan {
            endpoints: std::mem::take(&mut prepared.plan.endpoints),
            ..prepared.plan.clone()
        });
        let services = plan
            .endpoints
            .iter()
            .filter_map(|p| Some((p.endpoint.name.clone(), p.endpoint.service.clone()?)))
            .collect();
        let probe_limit = Semaphore::new(settings.max_probes.max(1));
        Exporter {
            prepared,
            plan,
            settings,
            services,
            last: RwLock::new(None),
            mesh_last: std::sync::Mutex::new(HashMap::new()),
            identity: RwLock::new(None),
            runs: AtomicU64::new(0),
            overruns: AtomicU64::new(0),
            last_duration_ms: AtomicU64::new(0),
            last_end: AtomicU64::new(0),
            probes_done: AtomicU64::new(0),
            probes_rejected: AtomicU64::new(0),
            probes_refused: AtomicU64::new(0),
            probes_abandoned: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            probe_limit,
        }
    }

    /// The client identity judged now (its files may change while the exporter runs).
    async fn judge_identity(&self) -> (Option<Arc<IdentityVerdict>>, Vec<Check>) {
        let Some(paths) = &self.prepared.profile.client else {
            return (None, Vec::new());
        };
        match self
            .prepared
            .judge_identity_online(jiff::Timestamp::now())
            .await
        {
            Ok(verdict) => {
                let checks = verdict
                    .as_ref()
                    .map(|v| v.checks.clone())
                    .unwrap_or_default();
                (verdict.map(Arc::new), checks)
            }
            Err(error) => {
                // The files were good at start-up; now they are not (moved, replaced).
                let check = Check::new(
                    IDENTITY,
                    crate::findings::CheckKind::Identity,
                    paths.cert.display().to_string(),
                )
                .fail(
                    crate::reasons::Reason::RunInternalError,
                    format!(
                        "the client identity can no longer be read: {}",
                        error.message
                    ),
                );
                (None, vec![check])
            }
        }
    }

    /// One run of `plan`, as a report (identity first, maintenance applied). `scheduled` runs
    /// are whole runs, as `check` makes them: your registration, your own endpoint and
    /// discovery too, when the config asks for them.
    async fn run(
        &self,
        plan: Arc<Plan>,
        timeout: Duration,
        deadline: Option<Duration>,
        scheduled: bool,
    ) -> Report {
        let (verdict, identity_checks) = self.judge_identity().await;
        if let Ok(mut slot) = self.identity.write() {
            slot.clone_from(&verdict);
        }
        let selection = crate::plan::Selection::default();
        let scope = Scope {
            selection: &selection,
            registration: scheduled,
            discover: scheduled && self.prepared.profile.discover,
            identity: verdict.as_deref(),
            options: EngineOptions {
                concurrency: self.settings.concurrency,
                deadline,
                retries: self.settings.retries,
                progress: None,
                identity_gate: true,
                timeout: Some(timeout),
            },
        };
        let (plan, reused) = self.mesh_due(plan);
        let mut whole = self
            .prepared
            .whole_run(plan, scope)
            .maintenance(self.settings.maintenance);
        // An identity that can no longer be read is reported as such (`verdict` is then none).
        whole.identity = self
            .prepared
            .profile
            .client
            .as_ref()
            .map(|_| identity_checks);
        let mut report = whole.run().await;
        self.remember_mesh(&mut report);
        for check in reused {
            let at = report
                .checks
                .iter()
                .rposition(|c| c.endpoint == check.endpoint)
                .map_or(report.checks.len(), |i| i + 1);
            report.checks.insert(at, check);
        }
        report
    }

    /// The plan without the MESH handshakes made less than --mesh-interval ago, and those
    /// handshakes' last results, their age said.
    fn mesh_due(&self, plan: Arc<Plan>) -> (Arc<Plan>, Vec<Check>) {
        let Ok(last) = self.mesh_last.lock() else {
            return (plan, Vec::new());
        };
        let fresh = |name: &str| {
            last.get(name)
                .filter(|(made, _)| made.elapsed() < self.settings.mesh_interval)
        };
        if !plan
            .endpoints
            .iter()
            .any(|p| p.phases.contains(&CheckKind::Mesh) && fresh(&p.endpoint.name).is_some())
        {
            return (plan, Vec::new());
        }
        let mut reused = Vec::new();
        let mut trimmed = (*plan).clone();
        for planned in &mut trimmed.endpoints {
            if let Some((made, check)) = fresh(&planned.endpoint.name)
                && planned.phases.contains(&CheckKind::Mesh)
            {
                planned.phases.retain(|k| *k != CheckKind::Mesh);
                let age = made.elapsed();
                let mut shown = check.clone();
                shown.message = format!(
                    "{} (handshake made {} ago; the next in {}: one per --mesh-interval)",
                    check.message,
                    crate::probe::secs(Duration::from_secs(age.as_secs())),
                    crate::probe::secs(Duration::from_secs(
                        self.settings.mesh_interval.saturating_sub(age).as_secs()
                    ))
                );
                shown.details.http().handshake_age_seconds = Some(age.as_secs());
                reused.push(shown);
            }
        }
        (Arc::new(trimmed), reused)
    }

    /// Keeps each MESH handshake this run made, for the runs until the next is due.
    fn remember_mesh(&self, report: &mut Report) {
        let Ok(mut last) = self.mesh_last.lock() else {
            return;
        };
        for check in report
            .checks
            .iter_mut()
            .filter(|c| c.kind == CheckKind::Mesh && c.reason != Some(Reason::SkipDependencyFailed))
        {
            check.details.http().handshake_age_seconds = Some(0);
            last.insert(check.endpoint.clone(), (Instant::now(), check.clone()));
        }
    }

    /// Scheduled runs, one after another, until the process stops.
    pub async fn schedule(self: Arc<Self>) {
        let interval = self.settings.interval;
        loop {
            let started = Instant::now();
            let report = self
                .run(
                    self.plan.clone(),
                    self.prepared.basis.timeout,
                    Some(interval.max(self.prepared.basis.timeout)),
                    true,
                )
                .await;
            let elapsed = started.elapsed();
            let finished_at = jiff::Timestamp::now();
            let runs = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
            let facts = status::RunFacts {
                finished_at,
                duration: elapsed,
                interval_secs: interval.as_secs(),
                runs,
                services: self.services.clone(),
            };
            let last = LastRun {
                metrics: prometheus::render(&report),
                page: status::render(&report, Some(&facts)),
            };
            self.last_duration_ms
                .store(elapsed.as_millis() as u64, Ordering::SeqCst);
            self.last_end
                .store(finished_at.as_second().max(0) as u64, Ordering::SeqCst);
            if let Ok(mut slot) = self.last.write() {
                *slot = Some(Arc::new(last));
            }
            let summary = report.summary();
            tracing::info!(
                run = runs,
                pass = summary.pass,
                warn = summary.warn,
                fail = summary.fail,
                took_ms = elapsed.as_millis() as u64,
                "scheduled run done"
            );
            drop(report);
            match interval.checked_sub(elapsed) {
                Some(wait) if !wait.is_zero() => tokio::time::sleep(wait).await,
                // Overran: the next run starts now, never beside this one.
                _ => {
                    self.overruns.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
            }
        }
    }

    /// The exporter's own metrics.
    fn own_metrics(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        prometheus::gauge(
            &mut out,
            "int_check_exporter_build_info",
            "The exporter's version.",
        );
        let _ = writeln!(
            out,
            "int_check_exporter_build_info{} 1",
            prometheus::labels(&[("version", env!("CARGO_PKG_VERSION"))])
        );
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            prometheus::family(out, name, "counter", help);
            let _ = writeln!(out, "{name} {value}");
        };
        counter(
            &mut out,
            "int_check_exporter_runs_total",
            "Scheduled runs completed.",
            self.runs.load(Ordering::SeqCst),
        );
        counter(
            &mut out,
            "int_check_exporter_runs_overrun_total",
            "Scheduled runs that took longer than --interval (the next one started late).",
            self.overruns.load(Ordering::SeqCst),
        );
        prometheus::gauge(
            &mut out,
            "int_check_exporter_last_run_duration_seconds",
            "How long the last scheduled run took.",
        );
        let _ = writeln!(
            out,
            "int_check_exporter_last_run_duration_seconds {:.3}",
            self.last_duration_ms.load(Ordering::SeqCst) as f64 / 1000.0
        );
        prometheus::gauge(
            &mut out,
            "int_check_exporter_last_run_end_timestamp_seconds",
            "When the last scheduled run ended (Unix time; 0 before the first).",
        );
        let _ = writeln!(
            out,
            "int_check_exporter_last_run_end_timestamp_seconds {}",
            self.last_end.load(Ordering::SeqCst)
        );
        prometheus::family(
            &mut out,
            "int_check_exporter_probes_total",
            "counter",
            "/probe requests: done, rejected (over --max-probes: 503), refused (unknown or not allowed) or abandoned (the client left first: a scrape timeout).",
        );
        for (result, value) in [
            ("done", &self.probes_done),
            ("rejected", &self.probes_rejected),
            ("refused", &self.probes_refused),
            ("abandoned", &self.probes_abandoned),
        ] {
            let _ = writeln!(
                out,
                "int_check_exporter_probes_total{} {}",
                prometheus::labels(&[("result", result)]),
                value.load(Ordering::SeqCst)
            );
        }
        prometheus::gauge(
            &mut out,
            "int_check_exporter_probes_in_flight",
            "/probe requests being answered now.",
        );
        let _ = writeln!(
            out,
            "int_check_exporter_probes_in_flight {}",
            self.in_flight.load(Ordering::SeqCst)
        );
        out
    }

    fn last(&self) -> Option<Arc<LastRun>> {
        self.last.read().ok()?.clone()
    }

    /// Answers one request.
    async fn answer(
        self: Arc<Self>,
        request: Request<hyper::body::Incoming>,
    ) -> Response<Full<Bytes>> {
        if let Some(web) = &self.settings.web
            && web.needs_auth()
        {
            let authorization = request
                .headers()
                .get(hyper::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            if !web.allows(authorization) {
                let mut response = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
                response.headers_mut().insert(
                    hyper::header::WWW_AUTHENTICATE,
                    hyper::header::HeaderValue::from_static("Basic realm=\"int-check\""),
                );
                return response;
            }
        }
        if !matches!(*request.method(), hyper::Method::GET | hyper::Method::HEAD) {
            return text(StatusCode::METHOD_NOT_ALLOWED, "Only GET and HEAD\n");
        }
        match request.uri().path() {
            "/" => match self.last() {
                Some(last) => html(last.page.clone()),
                None => html(status::render(&self.empty_report(), None)),
            },
            "/metrics" => {
                let mut body = self.own_metrics();
                if let Some(last) = self.last() {
                    body.push_str(&last.metrics);
                }
                metrics(body)
            }
            "/probe" => self.probe(&request).await,
            "/-/healthy" => text(StatusCode::OK, "Healthy\n"),
            "/-/ready" => match self.last() {
                Some(_) => text(StatusCode::OK, "Ready\n"),
                None => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Not ready: the first scheduled run has not finished\n",
                ),
            },
            _ => text(
                StatusCode::NOT_FOUND,
                "Not found: /, /metrics, /probe?endpoint=NAME, /-/healthy, /-/ready\n",
            ),
        }
    }

    fn empty_report(&self) -> Report {
        Report::begun(&self.prepared.profile, jiff::Timestamp::now()).seal()
    }

    /// `/probe?endpoint=NAME[&profile=P][&debug=true]`, or `?target=URL` when allowed.
    async fn probe(&self, request: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let query: HashMap<String, String> =
            url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        // The answer quotes the request: shown escaped and bounded, like anything from outside.
        let refuse = |status: StatusCode, why: String| {
            self.probes_refused.fetch_add(1, Ordering::SeqCst);
            text(
                status,
                &format!("{}\n", crate::text::untrusted_within(&why, 2048)),
            )
        };
        if let Some(profile) = query.get("profile")
            && !profile.eq_ignore_ascii_case(&self.prepared.profile.name)
        {
            return refuse(
                StatusCode::NOT_FOUND,
                format!(
                    "profile `{profile}` is not loaded; this exporter serves `{}`",
                    self.prepared.profile.name
                ),
            );
        }
        let planned = match (query.get("endpoint"), query.get("target")) {
            (Some(name), _) => match self
                .plan
                .endpoints
                .iter()
                .find(|p| &p.endpoint.name == name)
            {
                Some(planned) => planned.clone(),
                None => {
                    return refuse(
                        StatusCode::NOT_FOUND,
                        format!(
                            "no endpoint `{name}` in profile `{}` (GET / lists them)",
                            self.prepared.profile.name
                        ),
                    );
                }
            },
            (None, Some(target)) => {
                let mtls = self.identity.read().ok().and_then(|i| i.clone()).is_some();
                let url = match targets::allowed(&self.settings.allow_targets, target) {
                    Ok(url) => url,
                    Err(why) => {
                        return refuse(
                            StatusCode::FORBIDDEN,
                            format!(
                                "target `{target}` is not allowed: {why} (only the profile's endpoints, ?endpoint=NAME, or https:// URLs matching an --allow-target pattern)"
                            ),
                        );
                    }
                };
                // Outside the profile: the client certificate only when the operator said so.
                let mtls = mtls && self.settings.client_cert_to_targets;
                match Endpoint::found(url.as_str(), Origin::Profile, mtls) {
                    Some(endpoint) => PlannedEndpoint {
                        phases: vec![
                            crate::findings::CheckKind::Dns,
                            crate::findings::CheckKind::Tcp,
                            crate::findings::CheckKind::Tls,
                            crate::findings::CheckKind::Http,
                        ],
                        endpoint,
                        trust: self.plan.profile_trust.clone(),
                    },
                    None => {
                        return refuse(
                            StatusCode::FORBIDDEN,
                            format!("target `{target}` is not a URL int-check can probe"),
                        );
                    }
                }
            }
            (None, None) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "say which: /probe?endpoint=NAME".to_string(),
                );
            }
        };
        let Ok(_permit) = self.probe_limit.try_acquire() else {
            self.probes_rejected.fetch_add(1, Ordering::SeqCst);
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!(
                    "too many probes at once (--max-probes {}); try again\n",
                    self.settings.max_probes
                ),
            );
        };
        let _in_flight = Counted::new(&self.in_flight);
        let mut unfinished = Unfinished(Some(&self.probes_abandoned));
        let budget = request
            .headers()
            .get("X-Prometheus-Scrape-Timeout-Seconds")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Duration::from_secs_f64(s.min(3600.0)))
            .unwrap_or(DEFAULT_PROBE_TIMEOUT);
        let deadline = budget
            .saturating_sub(SCRAPE_MARGIN)
            .max(Duration::from_millis(100));
        let host = planned.endpoint.url.host.clone();
        let plan = Arc::new(Plan {
            hosts: if planned.endpoint.url.ip.is_none() {
                vec![host]
            } else {
                Vec::new()
            },
            endpoints: vec![planned],
            profile_trust: self.plan.profile_trust.clone(),
        });
        let started = Instant::now();
        let report = self
            .run(
                plan,
                self.prepared.basis.timeout.min(deadline),
                Some(deadline),
                false,
            )
            .await;
        let elapsed = started.elapsed();
        unfinished.0 = None;
        self.probes_done.fetch_add(1, Ordering::SeqCst);
        let mut body = prometheus::render(&report);
        body.push_str(&prometheus::blackbox(&report, elapsed));
        if query.get("debug").is_some_and(|d| d == "true" || d == "1") {
            let mut human = Vec::new();
            let _ = crate::report::write(
                &report,
                crate::report::Format::Human,
                &crate::report::human::Style::plain(),
                &mut human,
            );
            for line in String::from_utf8_lossy(&human).lines() {
                body.push_str("# ");
                body.push_str(line);
                body.push('\n');
            }
        }
        metrics(body)
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    respond(status, "text/plain; charset=utf-8", body.to_string())
}

fn html(body: String) -> Response<Full<Bytes>> {
    respond(StatusCode::OK, "text/html; charset=utf-8", body)
}

fn metrics(body: String) -> Response<Full<Bytes>> {
    respond(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        body,
    )
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

/// Serves until SIGTERM or Ctrl-C, then lets requests in flight finish (up to 10 s).
pub async fn serve(exporter: Arc<Exporter>) -> Result<(), Stop> {
    let listen = exporter.settings.listen;
    let listener = TcpListener::bind(listen).await.map_err(|e| {
        Stop::from(
            UsageError::new(format!(
                "cannot listen on {listen}: {}",
                crate::profile::io_reason(&e)
            ))
            .hint("another process may hold the port: choose another with --listen ADDR:PORT"),
        )
    })?;
    let scheme = if exporter
        .settings
        .web
        .as_ref()
        .is_some_and(|w| w.tls.is_some())
    {
        "https"
    } else {
        "http"
    };
    // Said whatever the log level: a server must say where it is.
    eprintln!(
        "int-check serve: listening on {scheme}://{}/ (metrics, probe, status page), a run every {}",
        listener.local_addr().unwrap_or(listen),
        crate::probe::secs(exporter.settings.interval)
    );
    let scheduler = tokio::spawn(exporter.clone().schedule());
    let active = Arc::new(AtomicUsize::new(0));
    let open = connections::Connections::new(exporter.settings.max_connections);
    let stop = stop_signal();
    tokio::pin!(stop);
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => {
                        backoff = ACCEPT_BACKOFF_MIN;
                        stream
                    }
                    Err(error) => {
                        // Out of descriptors (or another transient error): make room, wait,
                        // try again. Never a busy loop.
                        let shed = open.shed();
                        tracing::warn!(%error, shed, "accept failed; backing off");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                        continue;
                    }
                };
                let connections::Admission::Serve(slot) = open.admit() else {
                    // Every connection is busy with a request: this one is closed at once.
                    drop(stream);
                    continue;
                };
                let exporter = exporter.clone();
                let active = active.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = connection(exporter, stream, active, slot.clone()) => {}
                        _ = slot.evicted() => {}
                    }
                });
            }
        }
    }
    eprintln!("int-check serve: stopping (requests in flight may finish)");
    scheduler.abort();
    drop(listener);
    let started = Instant::now();
    while active.load(Ordering::SeqCst) > 0 && started.elapsed() < DRAIN {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Counts a request in while it lives. A request whose client has gone (Prometheus closes the
/// connection at its scrape timeout) is dropped mid-way, and counts out then too.
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Counted(counter)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a probe as abandoned when it is dropped before it finished (its client went away).
struct Unfinished<'a>(Option<&'a AtomicU64>);

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if let Some(counter) = self.0 {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// One connection: TLS when configured, HTTP/1.1 with a bound on how long a request head may
/// take (a silent client holds nothing but its own socket).
async fn connection(
    exporter: Arc<Exporter>,
    stream: tokio::net::TcpStream,
    active: Arc<AtomicUsize>,
    slot: Arc<connections::Connection>,
) {
    let service = {
        let exporter = exporter.clone();
        let active = active.clone();
        hyper::service::service_fn(move |request| {
            let exporter = exporter.clone();
            let active = active.clone();
            let busy = slot.busy();
            async move {
                let _busy = busy;
                let _active = Counted::new(&active);
                let response = exporter.answer(request).await;
                Ok::<_, std::convert::Infallible>(response)
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    let tls = exporter.settings.web.as_ref().and_then(|w| w.tls.clone());
    match tls {
        Some(acceptor) => {
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
            else {
                return;
            };
            let _ = builder
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        }
        None => {
            let _ = builder
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        }
    }
}
