//! Runs a plan: every endpoint concurrently (bounded), each through its phase chain. A failed
//! phase turns the phases after it into skips instead of more timeouts; a run deadline turns
//! what has not finished into failures, keeping every result that did. The engine never prints.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{OnceCell, Semaphore};
use tokio::task::JoinSet;

use crate::findings::{Check, CheckKind, Status};
use crate::pki::identity::{self, IdentityVerdict};
use crate::pki::unix_time;
use crate::plan::{MAX_ADDRESSES_PER_HOST, Plan, PlannedEndpoint};
use crate::probe::dns::{self, DnsOutcome, Resolver};
use crate::probe::ldap::Identifiers;
use crate::probe::proxy::{self, ProxyRules};
use crate::probe::revocation::CrlFetcher;
use crate::probe::tls::TlsSetup;
use crate::probe::{self, ProbeContext, ldap, secs, tcp, tls};
use crate::profile::{EndpointProxy, Profile};
use crate::reasons::Reason;

/// Called with (endpoints done, endpoints in all) as endpoints finish.
pub type Progress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// Everything the probes share during one run.
pub struct Engine {
    pub resolver: Resolver,
    pub tls: tls::TlsSetup,
    /// Per-phase timeout.
    pub timeout: Duration,
    /// Which endpoints go through which HTTP proxy.
    pub proxies: ProxyRules,
    /// Revocation lists of server chains (`[trust] revocation`), fetched once per run.
    pub crls: Arc<CrlFetcher>,
    /// Identifiers that directory search filters may use.
    pub ids: ldap::Identifiers,
    /// The client identity failed its local checks: mutual-TLS endpoints stop after TCP.
    pub identity_failed: bool,
    /// Endpoints probed at once.
    pub concurrency: usize,
    /// The whole run's time limit.
    pub deadline: Option<Duration>,
    /// Extra attempts for transient DNS and TCP failures.
    pub retries: u8,
    pub progress: Option<Progress>,
}

/// Each host is resolved once, by whichever endpoint asks first: one cell per host, found by
/// name. The cells sit in a vector of exactly the hosts' number; a map of cells keeps empty
/// slots as large as a cell (ten thousand hosts: 1.3 MB less this way).
struct DnsCache {
    index: HashMap<String, usize>,
    cells: Vec<OnceCell<DnsOutcome>>,
}

impl DnsCache {
    fn new(hosts: impl Iterator<Item = String>) -> DnsCache {
        let mut index = HashMap::new();
        for host in hosts {
            let next = index.len();
            index.entry(host).or_insert(next);
        }
        let cells = (0..index.len()).map(|_| OnceCell::new()).collect();
        DnsCache { index, cells }
    }

    /// The cell of a host the plan names (every endpoint's host and proxy is in it).
    fn cell(&self, host: &str) -> &OnceCell<DnsOutcome> {
        &self.cells[self.index[host]]
    }
}

/// The checks of one endpoint, collected as they finish so that a deadline loses none.
type Sink = Mutex<Vec<Check>>;

impl Engine {
    /// Runs every endpoint of the plan and returns the checks in plan order.
    pub async fn run(self: Arc<Self>, plan: Arc<Plan>) -> Vec<Check> {
        // Each host is resolved once, by whichever endpoint asks first.
        // Proxies' names too: an endpoint behind a proxy looks up the proxy, not its host.
        let proxy_hosts = self
            .proxies
            .https
            .iter()
            .map(|p| &**p)
            .chain(
                plan.endpoints
                    .iter()
                    .filter_map(|e| match e.endpoint.proxy.as_deref() {
                        Some(EndpointProxy::Via(proxy)) => Some(proxy),
                        _ => None,
                    }),
            )
            .filter(|p| p.ip.is_none())
            .map(|p| p.host.clone());
        let dns_cache = Arc::new(DnsCache::new(plan.hosts.iter().cloned().chain(proxy_hosts)));
        let sinks: Arc<Vec<Sink>> = Arc::new(
            plan.endpoints
                .iter()
                .map(|e| Mutex::new(Vec::with_capacity(e.phases.len())))
                .collect(),
        );
        let finished: Arc<Vec<AtomicBool>> = Arc::new(
            (0..plan.endpoints.len())
                .map(|_| Default::default())
                .collect(),
        );
        let limit = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let done = Arc::new(AtomicUsize::new(0));
        let total = plan.endpoints.len();
        let mut tasks = JoinSet::new();
        // An endpoint's task is spawned only when it may run: a probe's future is large, and
        // ten thousand of them waiting for a permit would hold ten thousand futures' memory.
        let spawn_all = async {
            for index in 0..total {
                let permit = limit.clone().acquire_owned().await.expect("never closed");
                while tasks.try_join_next().is_some() {}
                let (engine, plan, cache, sinks, finished, done) = (
                    self.clone(),
                    plan.clone(),
                    dns_cache.clone(),
                    sinks.clone(),
                    finished.clone(),
                    done.clone(),
                );
                tasks.spawn(async move {
                    let _permit = permit;
                    let planned = &plan.endpoints[index];
                    // A bug in one endpoint's probes costs that endpoint, never the run.
                    let probed =
                        AssertUnwindSafe(engine.run_endpoint(planned, &cache, &sinks[index]))
                            .catch_unwind()
                            .await;
                    if let Err(panic) = probed {
                        let mut sink = sinks[index].lock().unwrap_or_else(|e| e.into_inner());
                        let check = internal_error_check(planned, &sink, panic.as_ref());
                        let failed = check.kind;
                        sink.push(check);
                        // Every planned check stays in the report: the phases after it are skips.
                        for kind in planned.phases.iter().filter(|k| **k > failed) {
                            if !sink.iter().any(|c| c.kind == *kind) {
                                sink.push(
                                    Check::new(
                                        &planned.endpoint.name,
                                        *kind,
                                        planned.endpoint.url.authority(),
                                    )
                                    .skip("not run: int-check failed internally on this endpoint"),
                                );
                            }
                        }
                    }
                    finished[index].store(true, Ordering::SeqCst);
                    let now = done.fetch_add(1, Ordering::SeqCst) + 1;
                    if let Some(progress) = &engine.progress {
                        progress(now, total);
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
        };
        // The deadline, or a signal (SIGINT, SIGTERM), ends the run with what finished.
        let deadline = async {
            match self.deadline {
                Some(deadline) => tokio::time::sleep(deadline).await,
                None => std::future::pending::<()>().await,
            }
        };
        let (timed_out, interrupted) = tokio::select! {
            _ = spawn_all => (false, false),
            _ = deadline => (true, false),
            _ = crate::interrupt::interrupted() => (false, true),
        };
        if timed_out || interrupted {
            tasks.abort_all();
        }
        // Sized once: a run of ten thousand endpoints has forty thousand checks (and one more
        // per endpoint only when a deadline or a signal may add it: 1.4 MB at ten thousand).
        let stopped = usize::from(timed_out || interrupted);
        let count: usize = sinks
            .iter()
            .map(|s| s.lock().map(|s| s.len()).unwrap_or_default() + stopped)
            .sum();
        let mut out = Vec::with_capacity(count);
        for (index, planned) in plan.endpoints.iter().enumerate() {
            let mut checks =
                std::mem::take(&mut *sinks[index].lock().unwrap_or_else(|e| e.into_inner()));
            order(&mut checks);
            if timed_out && !finished[index].load(Ordering::SeqCst) {
                checks.push(deadline_check(
                    planned,
                    &checks,
                    self.deadline.unwrap_or_default(),
                ));
            } else if interrupted && !finished[index].load(Ordering::SeqCst) {
                checks.push(interrupted_check(planned, &checks));
            }
            out.extend(checks);
        }
        crate::findings::blame_clocks(&mut out);
        out
    }

    /// What every probe of one endpoint shares, built once per endpoint.
    pub fn context<'a>(&'a self, planned: &'a PlannedEndpoint) -> ProbeContext<'a> {
        let endpoint = &planned.endpoint;
        ProbeContext {
            endpoint,
            target: endpoint.url.authority(),
            trust: &planned.trust,
            tls: &self.tls,
            timeout: self.timeout,
            route: self.proxies.route(endpoint),
            crls: &self.crls,
            ids: &self.ids,
        }
    }

    async fn run_endpoint(&self, planned: &PlannedEndpoint, dns_cache: &DnsCache, sink: &Sink) {
        let ctx = self.context(planned);
        let endpoint = ctx.endpoint;
        let url = &endpoint.url;
        let push = |mut check: Check| {
            // Sealed as it is made: the log line is as safe as the report.
            check.details.seal();
            Self::log_check(&check);
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(check)
        };
        tracing::info!(endpoint = %endpoint.name, host = %url.host, "dns: start");

        let addresses: Vec<IpAddr> = match (url.ip, endpoint.connect_to) {
            // Behind a proxy: the proxy's name is looked up; the host's is the proxy's to resolve.
            _ if ctx.route.proxy().is_some() => {
                match self.resolve_proxy(planned, &ctx, dns_cache, &push).await {
                    Some(addresses) => addresses,
                    None => return,
                }
            }
            (_, Some(ip)) => {
                push(dns::connect_to_check(&endpoint.name, &url.host, ip));
                vec![ip]
            }
            (Some(ip), None) => {
                push(dns::literal_check(&endpoint.name, ip));
                vec![ip]
            }
            (None, None) => {
                let cell = dns_cache.cell(&url.host);
                let outcome = cell
                    .get_or_init(|| self.resolver.resolve_with_retries(&url.host, self.retries))
                    .await;
                let check = dns::check(&endpoint.name, &url.host, endpoint.network, outcome);
                let failed = check.status == Status::Fail;
                push(check);
                if failed {
                    for kind in planned.phases.iter().filter(|k| **k != CheckKind::Dns) {
                        push(
                            Check::new(&endpoint.name, *kind, ctx.target.clone())
                                .skip(format!("not run: DNS lookup of {} failed", url.host)),
                        );
                    }
                    return;
                }
                match &outcome.result {
                    Ok(resolved) => resolved
                        .addresses
                        .iter()
                        .take(MAX_ADDRESSES_PER_HOST)
                        .copied()
                        .collect(),
                    Err(_) => Vec::new(),
                }
            }
        };
        if !planned.phases.contains(&CheckKind::Tcp) {
            return;
        }
        // `ip = "ipv4"` or `"ipv6"`: that family only, and it is required.
        let resolved = addresses.len();
        let addresses: Vec<IpAddr> = addresses
            .into_iter()
            .filter(|ip| endpoint.ip.allows(*ip))
            .collect();
        if addresses.is_empty() {
            let family = endpoint.ip.as_str();
            push(ctx.check_at_host(CheckKind::Tcp).fail(
                Reason::DnsNoAddress,
                format!(
                    "{} has {resolved} address(es), none of them {family}, and the endpoint probes {family} only (ip = \"{family}\")",
                    url.host
                ),
            ));
            for kind in planned
                .phases
                .iter()
                .filter(|k| !matches!(k, CheckKind::Dns | CheckKind::Tcp))
            {
                push(
                    Check::new(&endpoint.name, *kind, ctx.target.clone())
                        .skip(format!("not run: no {family} address to connect to")),
                );
            }
            return;
        }

        // Every address is its own chain of checks, all at once.
        let port = ctx.route.proxy().map_or(url.port, |p| p.port);
        let per_address = addresses.iter().map(|ip| {
            let address = SocketAddr::new(*ip, port);
            self.run_address(&ctx, &planned.phases, address, sink)
        });
        // The application phase runs once, on the first address (in DNS order) whose TLS held.
        let usable = futures_util::future::join_all(per_address)
            .await
            .into_iter()
            .flatten()
            .next();
        // Both families judged as a client would (one family failing while the other works is a
        // fallback, not an outage).
        tcp::judge_families(&mut sink.lock().unwrap_or_else(|e| e.into_inner()));
        let Some(kind) = planned.phases.iter().copied().find(|k| k.is_application()) else {
            return;
        };
        let mesh_address = usable.as_ref().map(|u| u.address);
        match usable {
            Some(Usable { address, session }) => {
                tracing::info!(endpoint = %endpoint.name, %address, "{}: start", kind.as_str());
                let checks = probe::application(kind, &ctx, address, session).await;
                for check in verdict_to_tls(checks, address, sink) {
                    push(check);
                }
            }
            None => push(
                Check::new(&endpoint.name, kind, ctx.target.clone())
                    .skip("not run: no address completed the TLS handshake"),
            ),
        }
        // The MESH handshake: its own connection, to the address whose TLS held.
        if let Some(mesh) = &endpoint.mesh
            && planned.phases.contains(&CheckKind::Mesh)
        {
            push(match mesh_address {
                Some(address) => probe::mesh::check(&ctx, address, mesh).await,
                None => Check::new(&endpoint.name, CheckKind::Mesh, ctx.target.clone())
                    .skip("not run: no address completed the TLS handshake"),
            });
        }
    }

    /// The DNS phase of an endpoint behind a proxy: the proxy's addresses, or `None` (its
    /// checks pushed) when the look-up failed.
    async fn resolve_proxy(
        &self,
        planned: &PlannedEndpoint,
        ctx: &ProbeContext<'_>,
        dns_cache: &DnsCache,
        push: &impl Fn(Check),
    ) -> Option<Vec<IpAddr>> {
        let endpoint = ctx.endpoint;
        let proxy = ctx.route.proxy()?;
        if let Some(ip) = proxy.ip {
            push(proxy::literal_check(ctx, proxy));
            return Some(vec![ip]);
        }
        let outcome = dns_cache
            .cell(&proxy.host)
            .get_or_init(|| {
                self.resolver
                    .resolve_with_retries(&proxy.host, self.retries)
            })
            .await;
        let network = crate::profile::Network::of_host(&proxy.host, None);
        let check = dns::check(&endpoint.name, &proxy.host, network, outcome);
        let check = proxy::dns_check(check, proxy, &endpoint.url.host);
        let failed = check.status == Status::Fail;
        push(check);
        if failed {
            for kind in planned.phases.iter().filter(|k| **k != CheckKind::Dns) {
                push(
                    Check::new(&endpoint.name, *kind, ctx.target.clone()).skip(format!(
                        "not run: DNS lookup of the proxy {} failed",
                        proxy.host
                    )),
                );
            }
            return None;
        }
        let resolved = outcome.result.as_ref().ok()?;
        Some(
            resolved
                .addresses
                .iter()
                .take(MAX_ADDRESSES_PER_HOST)
                .copied()
                .collect(),
        )
    }

    /// `-v`: each check's end (target, address, verdict, time); `-vv`: its details too (protocol,
    /// cipher, chain, status line, result codes, what each DNS server said; never key material).
    pub fn log_check(check: &Check) {
        tracing::info!(
            endpoint = %check.endpoint,
            target = %check.target,
            address = %check.address.map(|a| a.to_string()).unwrap_or_default(),
            status = check.status.as_str(),
            reason = check.reason.map(|r| r.code()).unwrap_or(""),
            ms = check.duration.as_millis() as u64,
            "{}: done",
            check.kind.as_str()
        );
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!(
                endpoint = %check.endpoint,
                details = %serde_json::to_string(&*check.details).unwrap_or_default(),
                "{}: details",
                check.kind.as_str()
            );
        }
    }

    /// TCP (and TLS) to one address; returns the address when the TLS phase held.
    async fn run_address(
        &self,
        ctx: &ProbeContext<'_>,
        phases: &[CheckKind],
        address: SocketAddr,
        sink: &Sink,
    ) -> Option<Usable> {
        let endpoint = ctx.endpoint;
        let push = |mut check: Check| {
            // Sealed as it is made: the log line is as safe as the report.
            check.details.seal();
            Self::log_check(&check);
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(check)
        };
        tracing::info!(endpoint = %endpoint.name, %address, "tcp: start");
        let (stream, tcp_check) = self.connect_with_retries(ctx, address).await;
        let proxied = ctx.route.proxy();
        push(match proxied {
            Some(proxy) => proxy::to_proxy(tcp_check, proxy),
            None => tcp_check,
        });
        let wants_tls = phases.contains(&CheckKind::Tls);
        // Through a proxy, the TCP connection reaches the proxy; CONNECT reaches the host.
        let stream = match (stream, proxied) {
            (Some(stream), Some(proxy)) => {
                tracing::info!(endpoint = %endpoint.name, %address, "proxy: start");
                let (tunnel, check) = proxy::check(ctx, proxy, address, stream).await;
                push(check);
                if tunnel.is_none() {
                    if wants_tls {
                        push(ctx.check(CheckKind::Tls, address).skip(format!(
                            "not run: the proxy {} opened no tunnel (see the proxy check)",
                            proxy.shown()
                        )));
                    }
                    return None;
                }
                tunnel
            }
            (stream, _) => stream,
        };
        let skip_reason = match (&stream, endpoint.mtls && self.identity_failed) {
            (None, _) => Some(format!("not run: TCP connection to {address} failed")),
            (Some(_), true) => Some(format!(
                "not run: the client identity failed its checks (see {})",
                identity::IDENTITY
            )),
            (Some(_), false) => None,
        };
        let (Some(stream), None) = (stream, skip_reason.clone()) else {
            if wants_tls {
                push(
                    ctx.check(CheckKind::Tls, address)
                        .skip(skip_reason.unwrap_or_default()),
                );
            }
            return None;
        };
        if !wants_tls {
            return None;
        }
        failpoint("tls", &endpoint.name);
        let reads_next = phases.iter().any(|k| k.is_application());
        tracing::info!(endpoint = %endpoint.name, %address, "tls: start");
        let (check, session) = tls::check(ctx, address, stream, reads_next).await;
        let held = matches!(check.status, Status::Pass | Status::Warn);
        push(check);
        held.then_some(Usable { address, session })
    }

    /// A TCP connection, retried on transient failures when `retries` allows.
    async fn connect_with_retries(
        &self,
        ctx: &ProbeContext<'_>,
        address: SocketAddr,
    ) -> (Option<tokio::net::TcpStream>, Check) {
        let mut attempt = 0;
        loop {
            let (stream, check) = tcp::connect(ctx, address).await;
            let transient = matches!(
                check.reason,
                Some(Reason::TcpTimeout | Reason::TcpRefused | Reason::TcpUnreachable)
            );
            if stream.is_some() && attempt > 0 {
                let message = format!(
                    "{} after {attempt} failed attempt(s): the path is unreliable",
                    check.message
                );
                return (
                    stream,
                    check
                        .with_detail(|d| {
                            d.attempts = Some(u32::from(attempt) + 1);
                            d.round_trips = Some(u32::from(attempt) + 1);
                        })
                        .warn(Reason::TcpRetried, message),
                );
            }
            if stream.is_some() || !transient || attempt >= self.retries {
                let check = if attempt > 0 {
                    check.with_detail(|d| {
                        d.attempts = Some(u32::from(attempt) + 1);
                        d.round_trips = Some(u32::from(attempt) + 1);
                    })
                } else {
                    check
                };
                return (stream, check);
            }
            attempt += 1;
            tracing::info!(%address, attempt, "retrying TCP connection");
        }
    }
}

/// A TLS 1.3 server's verdict on our client certificate arrives on the first read, which the
/// application phase makes: it is the TLS phase's finding. The TLS check of that address takes
/// it, and the application checks become skips.
fn verdict_to_tls(checks: Vec<Check>, address: SocketAddr, sink: &Sink) -> Vec<Check> {
    let verdict = checks.iter().find(|c| {
        matches!(
            c.reason,
            Some(Reason::TlsClientCertRejected | Reason::TlsClientCertRequired)
        )
    });
    let Some(verdict) = verdict.cloned() else {
        return checks;
    };
    let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(tls) = sink
        .iter_mut()
        .find(|c| c.kind == CheckKind::Tls && c.address == Some(address))
    {
        let message = format!(
            "{} (seen on the first read, by the {} phase)",
            verdict.message,
            verdict.kind.as_str()
        );
        tls.status = Status::Fail;
        tls.reason = verdict.reason;
        tls.message = message;
        tls.details.error = verdict.details.error.clone();
    }
    checks
        .into_iter()
        .map(|c| {
            let mut skipped = Check::new(&c.endpoint, c.kind, c.target.clone())
                .skip("not run: the server refused the client certificate (see the TLS check)");
            skipped.address = c.address;
            if let Some(search) = c.details.search_name() {
                skipped.details.ldap().search = Some(search.to_string());
            }
            skipped
        })
        .collect()
}

/// An address whose TLS phase held, with its connection when it can carry the request.
struct Usable {
    address: SocketAddr,
    session: Option<tls::Session>,
}

/// Report order within an endpoint: DNS, then each address's TCP and TLS (in DNS order),
/// then the application phase. Probes finish in any order; reports must not.
fn order(checks: &mut [Check]) {
    let mut addresses: Vec<Option<SocketAddr>> = Vec::new();
    for check in checks.iter() {
        if matches!(check.kind, CheckKind::Tcp) && !addresses.contains(&check.address) {
            addresses.push(check.address);
        }
    }
    checks.sort_by_key(|c| match c.kind {
        CheckKind::Identity | CheckKind::Registration | CheckKind::Dns => (0, 0),
        CheckKind::Tcp | CheckKind::Proxy | CheckKind::Tls => (
            1,
            addresses
                .iter()
                .position(|a| *a == c.address)
                .unwrap_or(usize::MAX),
        ),
        CheckKind::Http | CheckKind::Ldap => (2, 0),
        CheckKind::Mesh => (3, 0),
        CheckKind::Inbound => (1, usize::MAX),
    });
}

/// Test builds only (feature `failpoints`, which the test lab turns on): `INT_CHECK_LAB_PANIC=PHASE` (or `PHASE:ENDPOINT`) makes that
/// phase panic, so the tests can show that a bug in one endpoint's probes never loses the run.
fn failpoint(phase: &str, endpoint: &str) {
    #[cfg(feature = "failpoints")]
    if std::env::var("INT_CHECK_LAB_PANIC")
        .is_ok_and(|p| p == phase || p == format!("{phase}:{endpoint}"))
    {
        panic!("lab failpoint in the {phase} phase of {endpoint}");
    }
    let _ = (phase, endpoint);
}

/// The first planned phase of an endpoint that has no check yet (else its last phase).
fn next_phase(planned: &PlannedEndpoint, done: &[Check]) -> CheckKind {
    planned
        .phases
        .iter()
        .find(|k| !done.iter().any(|c| c.kind == **k))
        .or(planned.phases.last())
        .copied()
        .unwrap_or(CheckKind::Dns)
}

/// The failure an endpoint gets when one of its probes panicked (a bug).
fn internal_error_check(
    planned: &PlannedEndpoint,
    done: &[Check],
    panic: &(dyn std::any::Any + Send),
) -> Check {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string());
    let kind = next_phase(planned, done);
    tracing::error!(endpoint = %planned.endpoint.name, %what, "a probe panicked");
    Check::new(&planned.endpoint.name, kind, planned.endpoint.url.authority())
        .with_detail(|d| d.error = Some(crate::text::untrusted(&what).into_owned()))
        .fail(
            Reason::RunInternalError,
            format!(
                "int-check failed internally during the {} phase; this endpoint's remaining checks did not run",
                kind.as_str()
            ),
        )
}

/// What an endpoint gets when a signal stops the run before its last phase.
fn interrupted_check(planned: &PlannedEndpoint, done: &[Check]) -> Check {
    let next = next_phase(planned, done);
    Check::new(
        &planned.endpoint.name,
        next,
        planned.endpoint.url.authority(),
    )
    .fail(
        Reason::RunInterrupted,
        format!(
            "interrupted while the {} phase was waiting; the phases after it did not run",
            next.as_str()
        ),
    )
}

/// The failure an endpoint gets when the run deadline stops it before its last phase.
fn deadline_check(planned: &PlannedEndpoint, done: &[Check], deadline: Duration) -> Check {
    let next = next_phase(planned, done);
    Check::new(
        &planned.endpoint.name,
        next,
        planned.endpoint.url.authority(),
    )
    .took(deadline)
    .fail(
        Reason::RunDeadline,
        format!("not finished within the --deadline of {}", secs(deadline)),
    )
}

/// What every engine of a run is made with besides its profile: the crypto provider, the hosts
/// file, the per-phase timeout, and the instant certificate dates are judged at.
#[derive(Clone)]
pub struct Basis {
    pub provider: Arc<rustls::crypto::CryptoProvider>,
    pub hosts_file: std::path::PathBuf,
    pub timeout: Duration,
    /// `--at`: judge certificate dates at this instant instead of now.
    pub at: Option<jiff::Timestamp>,
    /// Which endpoints (and revocation-list fetches) go through which HTTP proxy.
    pub proxies: ProxyRules,
    /// Revocation lists fetched from distribution points (kept across runs until nextUpdate).
    pub crls: Arc<CrlFetcher>,
}

/// An engine for one run: the profile's resolver, TLS set-up (with a fresh verdict cache) and
/// identity.
pub fn build_engine(
    profile: &Profile,
    basis: &Basis,
    identity: Option<&IdentityVerdict>,
    options: EngineOptions,
) -> Engine {
    let timeout = options
        .timeout
        .map_or(basis.timeout, |t| t.min(basis.timeout));
    Engine {
        concurrency: options.concurrency,
        deadline: options.deadline,
        retries: options.retries,
        progress: options.progress,
        resolver: Resolver::new(&profile.dns_servers, timeout, &basis.hosts_file)
            .zones(&profile.dns_zones)
            .allow_loopback(profile.allow_loopback),
        tls: TlsSetup::new(
            basis.provider.clone(),
            profile.min_tls,
            identity.and_then(|v| v.usable.clone()),
            profile.expiry_warning_days,
            basis.at.map(unix_time),
        ),
        timeout,
        proxies: basis.proxies.clone(),
        crls: {
            let now = basis.at.unwrap_or_else(jiff::Timestamp::now).as_second();
            basis.crls.new_run(now);
            basis.crls.clone()
        },
        ids: Identifiers {
            party_key: profile.party_key.clone(),
            asid: profile.asid.clone(),
            ods: profile.ods.clone(),
        },
        identity_failed: options.identity_gate && identity.is_some_and(|v| v.failed),
    }
}

/// Endpoints probed at once when nothing sets a bound. Every profile NHS publishes has far fewer;
/// for a directory-sized list, each endpoint in flight holds about 40 KiB (TLS and HTTP state), and
/// two cores are saturated by handshakes long before 128 are in flight (10,000 endpoints on
/// loopback: 3.6 s at 64, 128 or 256; 62.6 MiB at 128, 68.8 MiB at 256). On a slow network with
/// thousands of endpoints, raise it with `--concurrency`.
pub const DEFAULT_CONCURRENCY: usize = 128;

/// How a run is driven (the `check` flags; defaults for other commands).
#[derive(Clone)]
pub struct EngineOptions {
    pub concurrency: usize,
    pub deadline: Option<Duration>,
    pub retries: u8,
    pub progress: Option<crate::engine::Progress>,
    /// Whether a failed identity stops mutual-TLS endpoints (off when identity checks are not selected).
    pub identity_gate: bool,
    /// A shorter per-phase timeout than the run's (a /probe within its scrape's budget).
    pub timeout: Option<Duration>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            concurrency: DEFAULT_CONCURRENCY,
            deadline: None,
            retries: 0,
            progress: None,
            identity_gate: true,
            timeout: None,
        }
    }
}

/// An environment variable in upper or lower case, when set and not empty.
pub fn env_value(name: &str) -> Option<String> {
    [name.to_string(), name.to_ascii_lowercase()]
        .iter()
        .filter_map(|n| std::env::var(n).ok())
        .find(|v| !v.trim().is_empty())
}
