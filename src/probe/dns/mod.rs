//! DNS phase: resolve a host through the profile's DNS servers (queried side by side, so a dead
//! one shows up without slowing the run) or through the system resolver.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

pub mod client;

use super::{ProbeFailure, secs};
use crate::findings::{Check, CheckKind, ServerAnswer};
use crate::profile::{DnsZone, Network, ResolverAddr};
use crate::reasons::Reason;

/// How a run resolves names.
pub struct Resolver {
    /// The default servers; empty: the system resolver.
    servers: Vec<ResolverAddr>,
    /// Split DNS: zones with servers of their own.
    zones: Vec<DnsZone>,
    timeout: Duration,
    hosts: HostsFile,
    allow_loopback: bool,
}

/// The result of resolving one host, shared by every endpoint on that host.
#[derive(Clone, Debug)]
pub struct DnsOutcome {
    pub result: Result<Resolved, ProbeFailure>,
    pub duration: Duration,
    /// Addresses the hosts file pins this host to, if any.
    pub pinned: Option<Vec<IpAddr>>,
    /// What each DNS server said, when servers are configured.
    pub servers: Vec<(String, String)>,
    /// Lookups made (more than 1 when retries were needed).
    pub attempts: u8,
    /// Which resolver was asked, and why (a `[[dns.zone]]`, the `[dns]` servers, the system).
    pub asked: String,
    /// The `[[dns.zone]]` that routed the name, if one did.
    pub zone: Option<String>,
    /// The system resolver was asked (no zone and no `[dns] servers` applied).
    pub by_system: bool,
}

/// Where one name is sent.
struct Route<'a> {
    servers: &'a [ResolverAddr],
    zone: Option<String>,
    why: String,
}

#[derive(Clone, Debug)]
pub struct Resolved {
    pub addresses: Vec<IpAddr>,
    pub answered_by: String,
}

impl Resolver {
    pub fn new(servers: &[ResolverAddr], timeout: Duration, hosts_file: &Path) -> Resolver {
        let servers = servers.to_vec();
        Resolver {
            servers,
            zones: Vec::new(),
            timeout,
            hosts: HostsFile::load(hosts_file),
            allow_loopback: false,
        }
    }

    /// Split DNS: names in these zones go to the zone's servers.
    pub fn zones(mut self, zones: &[DnsZone]) -> Resolver {
        self.zones = zones.to_vec();
        self
    }

    /// Where `host` is sent: the most specific zone that holds it, else the default.
    fn route(&self, host: &str) -> Route<'_> {
        let list = ResolverAddr::list;
        if let Some(zone) = self
            .zones
            .iter()
            .filter(|z| z.holds(host))
            .max_by_key(|z| z.name.len())
        {
            return Route {
                servers: &zone.servers,
                zone: Some(zone.name.clone()),
                why: format!("{} ([[dns.zone]] {})", list(&zone.servers), zone.name),
            };
        }
        let unrouted = if self.zones.is_empty() {
            ""
        } else {
            "; no [[dns.zone]] holds it"
        };
        let why = if self.servers.is_empty() {
            format!("the system resolver (no [dns] servers{unrouted})")
        } else {
            format!("{} ([dns] servers{unrouted})", list(&self.servers))
        };
        Route {
            servers: &self.servers,
            zone: None,
            why,
        }
    }

    /// Accept loopback answers (a local tunnel or a test lab) instead of failing them.
    pub fn allow_loopback(mut self, allow: bool) -> Resolver {
        self.allow_loopback = allow;
        self
    }

    /// Resolves, asking again up to `retries` times after a timeout or server failure.
    pub async fn resolve_with_retries(&self, host: &str, retries: u8) -> DnsOutcome {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let mut outcome = self.resolve(host).await;
            let transient = matches!(&outcome.result, Err(f) if matches!(f.reason, Reason::DnsTimeout | Reason::DnsServfail));
            if !transient || attempt >= retries {
                outcome.duration = started.elapsed();
                outcome.attempts = attempt + 1;
                return outcome;
            }
            attempt += 1;
            tracing::info!(host, attempt, "retrying DNS lookup");
        }
    }

    pub async fn resolve(&self, host: &str) -> DnsOutcome {
        let started = Instant::now();
        let pinned = self.hosts.lookup(host);
        let route = self.route(host);
        let (result, servers) = if route.servers.is_empty() {
            (self.resolve_system(host).await, Vec::new())
        } else {
            self.resolve_servers(host, route.servers).await
        };
        let result = result.and_then(|resolved| self.not_a_sinkhole(host, resolved));
        DnsOutcome {
            result,
            duration: started.elapsed(),
            pinned,
            servers,
            attempts: 1,
            asked: route.why,
            zone: route.zone,
            by_system: route.servers.is_empty(),
        }
    }

    async fn resolve_system(&self, host: &str) -> Result<Resolved, ProbeFailure> {
        let lookup = tokio::net::lookup_host((host, 0));
        match tokio::time::timeout(self.timeout, lookup).await {
            Err(_) => Err(ProbeFailure::new(
                Reason::DnsTimeout,
                format!(
                    "the system resolver did not answer within {}",
                    secs(self.timeout)
                ),
            )),
            Ok(Ok(addrs)) => {
                let addresses = unique(addrs.map(|a: SocketAddr| a.ip()));
                if addresses.is_empty() {
                    Err(no_address(host))
                } else {
                    Ok(Resolved {
                        addresses,
                        answered_by: "system resolver".to_string(),
                    })
                }
            }
            Ok(Err(e)) => Err(classify_system_error(host, &e)),
        }
    }

    /// An answer of 0.0.0.0, :: or (unless allowed) a loopback address is a DNS filter's or
    /// sinkhole's, not the service's: connecting there reaches this machine, not Spine.
    fn not_a_sinkhole(&self, host: &str, resolved: Resolved) -> Result<Resolved, ProbeFailure> {
        let bad: Vec<IpAddr> = resolved
            .addresses
            .iter()
            .copied()
            .filter(|ip| ip.is_unspecified() || (ip.is_loopback() && !self.allow_loopback))
            .collect();
        if bad.is_empty() {
            return Ok(resolved);
        }
        Err(ProbeFailure::new(
            Reason::DnsSinkhole,
            format!(
                "{} answered {host} with {}: a DNS filter or sinkhole answer, not a Spine address",
                resolved.answered_by,
                join_ips(&bad)
            ),
        ))
    }

    /// Asks every configured server at once; the first definite answer (addresses or
    /// NXDOMAIN/NODATA) wins, and what each server said is kept for the report.
    async fn resolve_servers(
        &self,
        host: &str,
        servers: &[ResolverAddr],
    ) -> (Result<Resolved, ProbeFailure>, Vec<(String, String)>) {
        let mut queries = JoinSet::new();
        for (index, server) in servers.iter().enumerate() {
            let (server, host, timeout) = (server.0, host.to_string(), self.timeout);
            queries.spawn(async move {
                // Bounded inside: each question has `timeout` in all, UDP and TCP.
                let answer = client::resolve(server, &host, timeout).await;
                (index, answer)
            });
        }
        let mut said = vec![String::new(); servers.len()];
        let mut failures = Vec::new();
        let mut outcome = None;
        while let Some(joined) = queries.join_next().await {
            let Ok((index, answer)) = joined else {
                continue;
            };
            let server = servers[index].to_string();
            let result = match answer {
                Ok(client::Reply::Addresses(addresses)) => Ok(Resolved {
                    addresses,
                    answered_by: server.clone(),
                }),
                Ok(client::Reply::NoSuchName) => Err(ProbeFailure::new(
                    Reason::DnsNxdomain,
                    format!("{server} says {host} does not exist (NXDOMAIN)"),
                )),
                Ok(client::Reply::NoAddress) => Err(no_address(host)),
                Ok(client::Reply::Error(code)) => Err(ProbeFailure::new(
                    Reason::DnsServfail,
                    format!("{server} answered {code} for {host}"),
                )),
                Err(trouble) => Err(trouble_failure(&server, host, trouble, self.timeout)),
            };
            said[index] = match &result {
                Ok(r) => join_ips(&r.addresses),
                Err(f) => f.reason.code().to_string(),
            };
            let definite = match &result {
                Ok(_) => true,
                Err(f) => matches!(f.reason, Reason::DnsNxdomain | Reason::DnsNoAddress),
            };
            if definite {
                // The answer is in: a dead or slow server must not hold the phase.
                outcome = Some(result);
                break;
            }
            failures.extend(result.err());
        }
        queries.abort_all();
        let servers = servers
            .iter()
            .zip(said)
            .map(|(addr, said)| {
                (
                    addr.to_string(),
                    if said.is_empty() {
                        "no answer (yet)".into()
                    } else {
                        said
                    },
                )
            })
            .collect();
        let result = outcome.unwrap_or_else(|| Err(worst(failures)));
        (result, servers)
    }
}

/// A server's trouble as a finding.
fn trouble_failure(
    server: &str,
    host: &str,
    trouble: client::Trouble,
    timeout: Duration,
) -> ProbeFailure {
    use client::Trouble as T;
    match trouble {
        T::Silent => ProbeFailure::new(
            Reason::DnsTimeout,
            format!("{server} did not answer within {}", secs(timeout)),
        ),
        T::Unusable(why) => ProbeFailure::new(
            Reason::DnsTimeout,
            format!("{server} is unreachable: {why}"),
        ),
        T::NoRoute(why) => ProbeFailure::new(
            Reason::DnsUnreachable,
            format!("{server} cannot be reached from this machine: {why} (no route)"),
        ),
        T::Mismatched(why) => ProbeFailure::new(
            Reason::DnsBadReply,
            format!("{server} gave no usable reply for {host}: {why}"),
        ),
        T::TruncatedNoTcp(why) => {
            ProbeFailure::new(Reason::DnsBadReply, format!("{server}: {why}"))
        }
        T::CnameLoop(chain) => ProbeFailure::new(
            Reason::DnsBadReply,
            format!(
                "{server} answered {host} with a CNAME chain that loops or does not end: {}",
                chain.join(" -> ")
            ),
        ),
    }
}

/// When several servers failed without a definite answer, report the most telling failure.
fn worst(failures: Vec<ProbeFailure>) -> ProbeFailure {
    let rank = |f: &ProbeFailure| match f.reason {
        Reason::DnsServfail => 0,
        Reason::DnsTimeout => 1,
        Reason::DnsUnreachable => 2,
        _ => 3,
    };
    failures
        .into_iter()
        .min_by_key(rank)
        .unwrap_or(ProbeFailure::new(
            Reason::DnsTimeout,
            "no DNS server answered".to_string(),
        ))
}

/// getaddrinfo reports through message text only; map its well-known messages.
fn classify_system_error(host: &str, error: &std::io::Error) -> ProbeFailure {
    let text = error.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("not known")
        || lower.contains("nodename nor servname")
        || lower.contains("no such host")
    {
        ProbeFailure::new(
            Reason::DnsNxdomain,
            format!("the system resolver says {host} does not exist"),
        )
    } else if lower.contains("no address associated") {
        no_address(host)
    } else if lower.contains("temporary failure") || lower.contains("try again") {
        ProbeFailure::new(
            Reason::DnsTimeout,
            format!(
                "the system resolver could not get an answer for {host} (temporary failure: no DNS server reachable?)"
            ),
        )
    } else {
        ProbeFailure::new(
            Reason::DnsServfail,
            format!("the system resolver could not resolve {host}"),
        )
        .raw(text)
    }
}

/// A lookup's failure as the DNS phase names it (a missing conditional forwarder included), for
/// look-ups outside the phase (the directory session of the registration checks).
pub fn named_failure(host: &str, network: Network, outcome: &DnsOutcome) -> Option<ProbeFailure> {
    let failure = outcome.result.as_ref().err()?;
    Some(no_forwarder(host, network, outcome, failure).unwrap_or_else(|| failure.clone()))
}

/// An HSCN name that failed through the system resolver, no `[[dns.zone]]` having sent it to the
/// HSCN servers: the usual cause is a local resolver without a conditional forwarder for the zone.
fn no_forwarder(
    host: &str,
    network: Network,
    outcome: &DnsOutcome,
    failure: &ProbeFailure,
) -> Option<ProbeFailure> {
    let lookup_failed = matches!(
        failure.reason,
        Reason::DnsNxdomain | Reason::DnsServfail | Reason::DnsTimeout | Reason::DnsNoAddress
    );
    if network != Network::Hscn || !lookup_failed {
        return None;
    }
    // A server the user named answered NXDOMAIN: if none of them is an HSCN resolver
    // (155.231.231.0/29), the name was asked where it is not published.
    if !outcome.by_system {
        let named: Vec<&str> = outcome.servers.iter().map(|(s, _)| s.as_str()).collect();
        let hscn = |server: &str| {
            let ip = server
                .parse::<std::net::SocketAddr>()
                .map(|a| a.ip())
                .or_else(|_| server.parse::<std::net::IpAddr>());
            matches!(ip, Ok(std::net::IpAddr::V4(v4)) if v4.octets()[..3] == [155, 231, 231] && v4.octets()[3] < 8)
        };
        if failure.reason != Reason::DnsNxdomain
            || named.is_empty()
            || named.iter().any(|s| hscn(s))
        {
            return None;
        }
        let mut told = ProbeFailure::new(
            Reason::DnsNoForwarder,
            format!(
                "{host} is an HSCN name, which only the HSCN resolvers (155.231.231.1, 155.231.231.2) answer; the resolver you named ({}) is not one of them and answered that it does not exist: it does not forward ncrs.nhs.uk",
                named.join(", ")
            ),
        );
        told.raw = failure.raw.clone();
        return Some(told);
    }
    let zone = if host.to_ascii_lowercase().ends_with("ncrs.nhs.uk") {
        "ncrs.nhs.uk"
    } else {
        "nhs.uk"
    };
    let mut named = ProbeFailure::new(
        Reason::DnsNoForwarder,
        format!(
            "{host} is an HSCN name, which only the HSCN resolvers (155.231.231.1, 155.231.231.2) answer; the system resolver could not resolve it ({}): it has no conditional forwarder for {zone}",
            failure.reason.code()
        ),
    );
    named.raw = failure.raw.clone();
    Some(named)
}

fn no_address(host: &str) -> ProbeFailure {
    ProbeFailure::new(
        Reason::DnsNoAddress,
        format!("{host} exists but has no A or AAAA record"),
    )
}

/// Builds the DNS check an endpoint shows from the shared outcome.
pub fn check(endpoint: &str, host: &str, network: Network, outcome: &DnsOutcome) -> Check {
    let mut check = Check::new(endpoint, CheckKind::Dns, host).took(outcome.duration);
    check = check.with_detail(|d| d.dns().asked = Some(outcome.asked.clone()));
    if !outcome.servers.is_empty() {
        let answers = outcome
            .servers
            .iter()
            .map(|(server, said)| ServerAnswer {
                server: server.clone(),
                said: said.clone(),
            })
            .collect();
        check = check.with_detail(|d| d.dns().servers = Some(answers));
    }
    if let Some(pinned) = &outcome.pinned {
        check = check.with_detail(|d| d.dns().hosts_file = Some(join_ips(pinned)));
    }
    check = check.with_detail(|d| d.round_trips = Some(outcome.attempts.into()));
    if outcome.attempts > 1 {
        check = check.with_detail(|d| d.attempts = Some(outcome.attempts.into()));
    }
    match &outcome.result {
        Err(failure) => match no_forwarder(host, network, outcome, failure) {
            Some(named) => check
                .with_detail(|d| d.original_reason = Some(failure.reason))
                .failed(named),
            None => check.failed(failure.clone()),
        },
        Ok(resolved) => {
            let check = check.with_detail(|d| {
                d.dns().addresses =
                    Some(resolved.addresses.iter().map(|a| a.to_string()).collect());
                d.dns().resolver = Some(resolved.answered_by.clone());
            });
            let summary = format!(
                "{} via {}",
                join_ips(&resolved.addresses),
                resolved.answered_by
            );
            match &outcome.pinned {
                None if outcome.attempts > 1 => check.warn(
                    Reason::DnsRetried,
                    format!(
                        "{summary}, after {} failed lookup(s): the resolver path is unreliable",
                        outcome.attempts - 1
                    ),
                ),
                Some(pinned) => check.warn(
                    Reason::DnsHostsOverride,
                    format!(
                        "{summary}; the hosts file pins {host} to {}",
                        join_ips(pinned)
                    ),
                ),
                None => check.pass(summary),
            }
        }
    }
}

/// The DNS check for an endpoint whose URL holds an IP literal.
pub fn literal_check(endpoint: &str, ip: IpAddr) -> Check {
    Check::new(endpoint, CheckKind::Dns, ip.to_string())
        .with_detail(|d| d.dns().addresses = Some(vec![ip.to_string()]))
        .warn(
            Reason::DnsIpLiteral,
            format!("the URL uses the fixed address {ip}, no DNS lookup"),
        )
}

/// The DNS phase of an endpoint told where to connect (`address`, `--connect-to`): the name is
/// not looked up; the TLS and HTTP phases still use it (SNI, the name check, Host).
pub fn connect_to_check(endpoint: &str, host: &str, ip: IpAddr) -> Check {
    Check::new(endpoint, CheckKind::Dns, host)
        .with_detail(|d| d.dns().addresses = Some(vec![ip.to_string()]))
        .skip(format!(
            "not looked up: connecting to {ip} as the endpoint's address (or --connect-to) says; SNI, the certificate's name check and the HTTP Host use {host}"
        ))
}

/// The hosts file, read once per run: lower-case name -> addresses.
#[derive(Default)]
struct HostsFile(HashMap<String, Vec<IpAddr>>);

impl HostsFile {
    fn load(path: &Path) -> HostsFile {
        // A missing or unreadable hosts file pins nothing.
        let Ok(text) = std::fs::read_to_string(path) else {
            return HostsFile::default();
        };
        let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let Some(Ok(ip)) = fields.next().map(str::parse::<IpAddr>) else {
                continue;
            };
            for name in fields {
                let entry = map
                    .entry(name.trim_end_matches('.').to_ascii_lowercase())
                    .or_default();
                if !entry.contains(&ip) {
                    entry.push(ip);
                }
            }
        }
        HostsFile(map)
    }

    fn lookup(&self, host: &str) -> Option<Vec<IpAddr>> {
        self.0
            .get(&host.trim_end_matches('.').to_ascii_lowercase())
            .cloned()
    }
}

fn unique(ips: impl Iterator<Item = IpAddr>) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for ip in ips {
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

pub fn join_ips(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
