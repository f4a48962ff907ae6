//! Runs a plan: every endpoint concurrently, each through its phase chain. A failed phase
//! turns the phases after it into skips instead of more timeouts. The engine never prints.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::task::JoinSet;

use crate::findings::{Check, CheckKind, Status};
use crate::pki::TrustStore;
use crate::plan::{MAX_ADDRESSES_PER_HOST, Plan, PlannedEndpoint};
use crate::probe::dns::{self, DnsOutcome, Resolver};
use crate::probe::{http, identity, ldap, tcp, tls};

/// Everything the probes share during one run.
pub struct Engine {
    pub resolver: Resolver,
    pub tls: tls::TlsSetup,
    /// One trust store per planned endpoint (most share the profile's).
    pub trust: Vec<Arc<TrustStore>>,
    /// Per-phase timeout.
    pub timeout: Duration,
    /// HTTPS proxy (profile `[http] proxy`, else HTTPS_PROXY) and the NO_PROXY list.
    pub proxy: Option<String>,
    pub no_proxy: Option<String>,
    /// Identifiers that directory search filters may use.
    pub ids: ldap::Identifiers,
    /// The client identity failed its local checks: mutual-TLS endpoints stop after TCP.
    pub identity_failed: bool,
}

impl Engine {
    /// Runs every endpoint of the plan and returns the checks in plan order.
    pub async fn run(self: Arc<Self>, plan: Arc<Plan>) -> Vec<Check> {
        // Each host is resolved once, by whichever endpoint asks first.
        let dns_cache: Arc<HashMap<String, OnceCell<DnsOutcome>>> = Arc::new(
            plan.hosts
                .iter()
                .map(|h| (h.clone(), OnceCell::new()))
                .collect(),
        );
        let mut tasks = JoinSet::new();
        for index in 0..plan.endpoints.len() {
            let engine = self.clone();
            let plan = plan.clone();
            let cache = dns_cache.clone();
            tasks.spawn(async move {
                let checks = engine
                    .run_endpoint(&plan.endpoints[index], index, &cache)
                    .await;
                (index, checks)
            });
        }
        let mut by_endpoint: Vec<Vec<Check>> = vec![Vec::new(); plan.endpoints.len()];
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, checks)) => by_endpoint[index] = checks,
                // A panicking probe is a bug; never let it take the other results with it.
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                Err(_) => {}
            }
        }
        by_endpoint.into_iter().flatten().collect()
    }

    async fn run_endpoint(
        &self,
        planned: &PlannedEndpoint,
        index: usize,
        dns_cache: &HashMap<String, OnceCell<DnsOutcome>>,
    ) -> Vec<Check> {
        let endpoint = &planned.endpoint;
        let url = &endpoint.url;
        let target = url.authority();
        let mut checks = Vec::new();

        let addresses: Vec<IpAddr> = match url.ip {
            Some(ip) => {
                checks.push(dns::literal_check(&endpoint.name, ip));
                vec![ip]
            }
            None => {
                let cell = &dns_cache[&url.host];
                let outcome = cell.get_or_init(|| self.resolver.resolve(&url.host)).await;
                let check = dns::check(&endpoint.name, &url.host, outcome);
                let failed = check.status == Status::Fail;
                checks.push(check);
                if failed {
                    for kind in planned.phases.iter().filter(|k| **k != CheckKind::Dns) {
                        checks.push(
                            Check::new(&endpoint.name, *kind, target.clone())
                                .skip(format!("not run: DNS lookup of {} failed", url.host)),
                        );
                    }
                    return checks;
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

        // Every address is its own chain of checks, all at once.
        let per_address = addresses.iter().map(|ip| {
            let address = SocketAddr::new(*ip, url.port);
            self.run_address(planned, index, &target, address)
        });
        let mut usable = None;
        for address_checks in futures_util::future::join_all(per_address).await {
            // The application phase runs once, on the first address whose TLS phase held.
            if usable.is_none()
                && let Some(tls) = address_checks.iter().find(|c| c.kind == CheckKind::Tls)
                && matches!(tls.status, Status::Pass | Status::Warn)
            {
                usable = tls.address;
            }
            checks.extend(address_checks);
        }
        let app_phase = planned
            .phases
            .iter()
            .find(|k| matches!(k, CheckKind::Http | CheckKind::Ldap));
        if let Some(kind) = app_phase {
            match usable {
                Some(address) => checks.extend(
                    self.run_application(planned, index, *kind, &target, address)
                        .await,
                ),
                None => checks.push(
                    Check::new(&endpoint.name, *kind, target.clone())
                        .skip("not run: no address completed the TLS handshake"),
                ),
            }
        }
        checks
    }

    async fn run_application(
        &self,
        planned: &PlannedEndpoint,
        index: usize,
        kind: CheckKind,
        target: &str,
        address: SocketAddr,
    ) -> Vec<Check> {
        let endpoint = &planned.endpoint;
        match kind {
            CheckKind::Http => {
                let route = http::route_for(
                    &endpoint.url.host,
                    self.proxy.as_deref(),
                    self.no_proxy.as_deref(),
                );
                let request = http::HttpRequest {
                    endpoint,
                    target,
                    address,
                    route,
                    timeout: self.timeout,
                };
                vec![http::check(&self.tls, &self.trust[index], request).await]
            }
            CheckKind::Ldap => {
                ldap::checks(
                    &self.tls,
                    &self.trust[index],
                    endpoint,
                    target,
                    address,
                    &self.ids,
                    self.timeout,
                )
                .await
            }
            _ => Vec::new(),
        }
    }

    async fn run_address(
        &self,
        planned: &PlannedEndpoint,
        index: usize,
        target: &str,
        address: SocketAddr,
    ) -> Vec<Check> {
        let endpoint = &planned.endpoint;
        let (stream, tcp_check) = tcp::connect(&endpoint.name, target, address, self.timeout).await;
        let mut checks = vec![tcp_check];
        let later = planned.phases.iter().filter(|k| **k == CheckKind::Tls);
        let skip_reason = match (&stream, endpoint.mtls && self.identity_failed) {
            (None, _) => Some(format!("not run: TCP connection to {address} failed")),
            (Some(_), true) => Some(format!(
                "not run: the client identity failed its checks (see {})",
                identity::IDENTITY
            )),
            (Some(_), false) => None,
        };
        let (Some(stream), None) = (stream, skip_reason.clone()) else {
            for kind in later {
                let reason = skip_reason.clone().unwrap_or_default();
                checks.push(
                    Check::new(&endpoint.name, *kind, target)
                        .at(address)
                        .skip(reason),
                );
            }
            return checks;
        };
        if planned.phases.contains(&CheckKind::Tls) {
            let check = tls::check(
                &self.tls,
                &self.trust[index],
                &endpoint.name,
                target,
                &endpoint.url.host,
                address,
                stream,
                self.timeout,
            )
            .await;
            checks.push(check);
        }
        checks
    }
}
