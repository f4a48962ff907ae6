//! What probes produce and renderers consume: one `Check` per thing tested.

use std::net::SocketAddr;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use crate::maintenance::{MaintenanceMode, WindowState};
use crate::reasons::Reason;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
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
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    // Local checks of the client identity (no network).
    Identity,
    // Your own records in the directory (ASID, party key, MHS records), before endpoint probes.
    Registration,
    Dns,
    Tcp,
    // CONNECT through the endpoint's HTTP proxy (only when the endpoint has one; not a
    // --only/--skip value: the tunnel is how the phases after it get there).
    #[value(skip)]
    Proxy,
    Tls,
    Http,
    Ldap,
    // The MESH mailbox handshake, on its own connection after the application phase.
    Mesh,
    // Your own endpoint as Spine reaches it: what its TLS handshake asks of a client.
    Inbound,
}

impl CheckKind {
    /// Whether this kind is an application phase (runs over a verified TLS session).
    pub fn is_application(self) -> bool {
        matches!(self, CheckKind::Http | CheckKind::Ldap)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Identity => "identity",
            CheckKind::Registration => "registration",
            CheckKind::Dns => "dns",
            CheckKind::Tcp => "tcp",
            CheckKind::Proxy => "proxy",
            CheckKind::Tls => "tls",
            CheckKind::Http => "http",
            CheckKind::Ldap => "ldap",
            CheckKind::Mesh => "mesh",
            CheckKind::Inbound => "inbound",
        }
    }
}

/// Structured facts for machines and support staff. Each phase fills its own group; the JSON
/// report shows the fields that are set, flat, under `details`. Groups are boxed and only there
/// when set, so that a check costs little memory when a run has ten thousand endpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct Details {
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Box<DnsDetails>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Box<TlsDetails>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub http: Option<Box<HttpDetails>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub ldap: Option<Box<LdapDetails>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Box<IdentityDetails>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub via_proxy: Option<Box<ProxyDetails>>,
    /// Network round trips this check cost, where measurable (DNS: lookups; TCP: connects;
    /// TLS: 1 for TLS 1.3, 2 for TLS 1.2; HTTP: the request; LDAP: the operations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round_trips: Option<u32>,
    /// Attempts made (more than 1 after --retries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// The library's own error text, for the support call (never the message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The maintenance slot the service was in when this check failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<Box<crate::maintenance::Occurrence>>,
    /// The reason code before the maintenance slot (or a more precise naming: a proxy, an
    /// HSCN forwarder) changed it.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "reason_code"
    )]
    #[schemars(with = "Option<String>")]
    pub original_reason: Option<Reason>,
}

/// A reason as its code (one byte in memory, the code in reports).
fn reason_code<S: serde::Serializer>(reason: &Option<Reason>, out: S) -> Result<S::Ok, S::Error> {
    match reason {
        Some(reason) => out.serialize_str(reason.code()),
        None => out.serialize_none(),
    }
}

impl Details {
    /// The directory search a check ran, if it was one.
    pub fn search_name(&self) -> Option<&str> {
        self.ldap.as_ref()?.search.as_deref()
    }

    /// The chain the server presented (empty when no TLS handshake got that far).
    pub fn chain(&self) -> &[ChainCert] {
        self.tls
            .as_ref()
            .and_then(|t| t.chain.as_deref())
            .unwrap_or_default()
    }

    pub fn clock_skew_seconds(&self) -> Option<i64> {
        self.http.as_ref()?.clock_skew_seconds
    }

    /// The dns group, created empty when first written.
    pub fn dns(&mut self) -> &mut DnsDetails {
        self.dns.get_or_insert_with(Default::default)
    }
    /// The tls group, created empty when first written.
    pub fn tls(&mut self) -> &mut TlsDetails {
        self.tls.get_or_insert_with(Default::default)
    }
    /// The http group, created empty when first written.
    pub fn http(&mut self) -> &mut HttpDetails {
        self.http.get_or_insert_with(Default::default)
    }
    /// The ldap group, created empty when first written.
    pub fn ldap(&mut self) -> &mut LdapDetails {
        self.ldap.get_or_insert_with(Default::default)
    }
    /// The proxy group, created empty when first written.
    pub fn via_proxy(&mut self) -> &mut ProxyDetails {
        self.via_proxy.get_or_insert_with(Default::default)
    }
    /// The identity group, created empty when first written.
    pub fn identity(&mut self) -> &mut IdentityDetails {
        self.identity.get_or_insert_with(Default::default)
    }
}

/// The DNS phase: what each server said and what was used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct DnsDetails {
    /// DNS: which resolver was asked, and why (a `[[dns.zone]]`, the `[dns]` servers, the system).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asked: Option<String>,
    /// DNS: what each configured server said, in the profile's order (server -> addresses or reason code).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "answers_as_map"
    )]
    #[schemars(with = "Option<std::collections::BTreeMap<String, String>>")]
    pub servers: Option<Vec<ServerAnswer>>,
    /// DNS: the addresses the hosts file pins this name to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts_file: Option<String>,
    /// DNS: the addresses checked (TCP and the phases after it run on each).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<String>>,
    /// DNS: the server (or the system resolver) that gave the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
}

/// The TLS phase: the chain, the protocol and the client-certificate exchange.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct TlsDetails {
    /// TLS: the chain the server presented, leaf first. Shared by every check that saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<std::sync::Arc<[ChainCert]>>,
    /// TLS: whether the server asked for a client certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert_requested: Option<bool>,
    /// TLS: the CA names the server said it accepts for client certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acceptable_ca_names: Option<Vec<String>>,
    /// TLS: whether a client certificate was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert_sent: Option<bool>,
    /// TLS: the negotiated protocol version, e.g. `TLS 1.3`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// TLS: the negotiated cipher suite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    /// TLS: the revocation lists fetched for the chain (`[trust] revocation`), each with how
    /// long its fetch took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_lists: Option<String>,
    /// TLS: reason codes of every warning, most important first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

/// The HTTP phase: the request and what answered it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct HttpDetails {
    /// HTTP: the request method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// HTTP: the response status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// HTTP: the response version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_version: Option<String>,
    /// HTTP: from sending the request to the response head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_first_byte_ms: Option<u64>,
    /// HTTP: the Server header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// HTTP: where a redirect points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// HTTP: the server's clock minus this machine's, from the Date header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_skew_seconds: Option<i64>,
    /// MESH (`serve`): how long ago this handshake was made (the exporter makes one per
    /// --mesh-interval and shows it in between).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake_age_seconds: Option<u64>,
}

/// A directory search: what was asked and what came back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct LdapDetails {
    /// LDAP: the search's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    /// LDAP: the search base.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// LDAP: the filter sent (placeholders replaced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// LDAP: entries read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// LDAP: whether more entries existed than were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    /// LDAP: what stopped the reading early (the server's size limit or one of int-check's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated_by: Option<String>,
    /// LDAP: referrals to other directories the server returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub references: Option<Vec<String>>,
    /// LDAP: the first entries, for the support call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<Vec<DirectoryEntry>>,
    /// Discovery: endpoint URLs the directory registers that the profile does not check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_in_profile: Option<Vec<String>>,
    /// Discovery: the profile's messaging endpoints the directory does not list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_in_directory: Option<Vec<String>>,
}

/// The HTTP proxy a check went through.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct ProxyDetails {
    /// The HTTP proxy this check went through, `http://HOST:PORT` (never its credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Proxy: the status of the proxy's answer to CONNECT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_status: Option<u16>,
}

/// The client identity: its key and its dates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct IdentityDetails {
    /// Identity: the key type and size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Identity: the key file's permission bits, e.g. `0600`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_mode: Option<String>,
    /// Identity: the certificate's validity start (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// Identity: the certificate's validity end (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Identity: whole days until the certificate expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
}

impl Details {
    pub fn is_empty(&self) -> bool {
        *self == Details::default()
    }

    /// Every text field shown escaped and bounded (crate::text): what a server or a file put
    /// there can neither steer a terminal nor grow a report. The chain is sealed where it is
    /// made (`probe::tls::chain_cert`): it is shared between checks.
    pub fn seal(&mut self) {
        use crate::text::seal;
        fn all(values: &mut [String]) {
            values.iter_mut().for_each(seal);
        }
        if let Some(dns) = self.dns.as_deref_mut() {
            dns.asked.iter_mut().for_each(seal);
            dns.hosts_file.iter_mut().for_each(seal);
            dns.resolver.iter_mut().for_each(seal);
            dns.addresses.iter_mut().for_each(|a| all(a));
            for answer in dns.servers.iter_mut().flatten() {
                seal(&mut answer.server);
                seal(&mut answer.said);
            }
        }
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.acceptable_ca_names.iter_mut().for_each(|a| all(a));
            tls.protocol.iter_mut().for_each(seal);
            tls.cipher_suite.iter_mut().for_each(seal);
            tls.revocation_lists.iter_mut().for_each(seal);
            tls.warnings.iter_mut().for_each(|a| all(a));
        }
        if let Some(http) = self.http.as_deref_mut() {
            for value in [
                &mut http.method,
                &mut http.http_version,
                &mut http.server,
                &mut http.location,
            ] {
                value.iter_mut().for_each(seal);
            }
        }
        if let Some(proxy) = self.via_proxy.as_deref_mut() {
            proxy.proxy.iter_mut().for_each(seal);
        }
        if let Some(ldap) = self.ldap.as_deref_mut() {
            for value in [
                &mut ldap.search,
                &mut ldap.base,
                &mut ldap.filter,
                &mut ldap.truncated_by,
            ] {
                value.iter_mut().for_each(seal);
            }
            for values in [
                &mut ldap.references,
                &mut ldap.not_in_profile,
                &mut ldap.not_in_directory,
            ] {
                values.iter_mut().for_each(|a| all(a));
            }
            for entry in ldap.sample.iter_mut().flatten() {
                entry.seal();
            }
        }
        if let Some(identity) = self.identity.as_deref_mut() {
            for value in [
                &mut identity.key,
                &mut identity.key_mode,
                &mut identity.not_before,
                &mut identity.not_after,
            ] {
                value.iter_mut().for_each(seal);
            }
        }
        self.error.iter_mut().for_each(seal);
    }
}

/// What one DNS server said about a name: addresses, or the reason code of its failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAnswer {
    pub server: String,
    pub said: String,
}

fn answers_as_map<S: serde::Serializer>(
    answers: &Option<Vec<ServerAnswer>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let answers = answers.as_deref().unwrap_or_default();
    let mut map = serializer.serialize_map(Some(answers.len()))?;
    for answer in answers {
        map.serialize_entry(&answer.server, &answer.said)?;
    }
    map.end()
}

/// One certificate of a presented chain, as reports show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ChainCert {
    pub subject: String,
    pub issuer: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// SHA-256 of the DER, colon-separated upper-case hex.
    pub sha256: String,
}

/// One directory entry, text attributes only, attribute names as the server sent them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DirectoryEntry {
    pub dn: String,
    #[serde(rename = "attributes")]
    pub attrs: std::collections::BTreeMap<String, Vec<String>>,
}

impl DirectoryEntry {
    /// The DN, attribute names and values shown escaped and bounded (crate::text).
    pub fn seal(&mut self) {
        crate::text::seal(&mut self.dn);
        let unsafe_name = |name: &String| crate::text::untrusted(name) != name.as_str();
        if self.attrs.keys().any(unsafe_name) {
            let attrs = std::mem::take(&mut self.attrs);
            for (name, values) in attrs {
                let name = crate::text::untrusted(&name).into_owned();
                self.attrs.entry(name).or_default().extend(values);
            }
        }
        for values in self.attrs.values_mut() {
            values.iter_mut().for_each(crate::text::seal);
        }
    }

    /// Values of an attribute, matching its name case-insensitively (as LDAP does).
    pub fn get(&self, name: &str) -> &[String] {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
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
    pub details: Box<Details>,
}

impl Check {
    pub fn new(endpoint: &str, kind: CheckKind, target: impl Into<String>) -> Self {
        let mut target = target.into();
        crate::text::seal(&mut target);
        Check {
            endpoint: crate::text::untrusted(endpoint).into_owned(),
            kind,
            target,
            address: None,
            status: Status::Pass,
            reason: None,
            message: String::new(),
            duration: Duration::ZERO,
            details: Box::default(),
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
        self.message = capped(message.into());
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
        self.message = capped(message.into());
        self
    }

    /// Sets detail fields: `check.with_detail(|d| d.protocol = Some(name))`.
    pub fn with_detail(mut self, set: impl FnOnce(&mut Details)) -> Self {
        set(&mut self.details);
        self
    }

    /// The hint shown under a non-passing check.
    pub fn hint(&self) -> Option<&'static str> {
        self.reason.map(Reason::hint)
    }
}

/// Clock skew seen by one server only is that server's clock; seen by every server, it is
/// this machine's. Adds which to each `clock.skew` warning, from the run's other answers.
pub fn blame_clocks(checks: &mut [Check]) {
    const AGREE: i64 = 300;
    let offsets: Vec<i64> = checks
        .iter()
        .filter_map(|c| c.details.clock_skew_seconds())
        .collect();
    let agreeing = offsets.iter().filter(|s| s.abs() <= AGREE).count();
    let skewed = offsets.len() - agreeing;
    for check in checks
        .iter_mut()
        .filter(|c| c.reason == Some(Reason::ClockSkew))
    {
        let verdict = if agreeing > 0 {
            format!(
                "; {agreeing} other server(s) agree with this machine's clock, so this server's clock is wrong"
            )
        } else if skewed > 1 {
            format!(
                "; all {skewed} servers disagree with this machine's clock: fix this machine's clock (NTP)"
            )
        } else {
            continue;
        };
        let message = format!("{}{verdict}", check.message);
        check.message = capped(message);
    }
}

/// A message is read by a person: at most MAX_MESSAGE_BYTES, a cut saying so, and whatever it
/// quotes from a peer shown escaped (crate::text).
pub const MAX_MESSAGE_BYTES: usize = 4096;

fn capped(mut message: String) -> String {
    crate::text::seal_within(&mut message, MAX_MESSAGE_BYTES);
    message
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
    /// The network the endpoint is on (none for the client identity).
    pub network: Option<crate::profile::Network>,
    /// Where it comes from (none for the identity and registration checks).
    pub origin: Option<crate::profile::Origin>,
}

/// Whether this machine reaches one network: endpoints on it, and how many took a TCP connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct NetworkReach {
    pub network: crate::profile::Network,
    pub endpoints: usize,
    pub connected: usize,
}

impl NetworkReach {
    /// `HSCN reached (3 of 14 endpoints connected)`.
    pub fn sentence(&self) -> String {
        let label = self.network.label();
        let verdict = if self.connected > 0 {
            "reached"
        } else {
            "not reached"
        };
        format!(
            "{label} {verdict} ({} of {} endpoints connected)",
            self.connected, self.endpoints
        )
    }
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
    /// `--strict`: warnings fail the run too, and every format says so.
    pub strict: bool,
}

impl Report {
    /// A report of `profile`, begun at `started_at`, with nothing in it yet.
    pub fn begun(profile: &crate::profile::Profile, started_at: jiff::Timestamp) -> Report {
        Report {
            tool_version: env!("CARGO_PKG_VERSION"),
            profile: profile.name.clone(),
            description: profile.description.clone(),
            started_at,
            duration: Duration::ZERO,
            endpoints: Vec::new(),
            checks: Vec::new(),
            maintenance: WindowState::default(),
            strict: false,
        }
    }

    /// Adds a section that is not one of the profile's endpoints (the identity, your
    /// registration, a chain judged from a file): its heading, then its checks.
    pub fn section(mut self, name: &str, url: String, checks: Vec<Check>) -> Report {
        self.endpoints.push(EndpointHeading {
            name: name.to_string(),
            url,
            network: None,
            origin: None,
        });
        self.checks.extend(checks);
        self
    }

    /// How long it took, from `started`; sealed (see `seal`).
    pub fn finished(mut self, started: std::time::Instant) -> Report {
        self.duration = started.elapsed();
        self.seal()
    }

    /// Per network the profile uses: its endpoints, and how many of them took a TCP connection.
    pub fn networks(&self) -> Vec<NetworkReach> {
        let mut by: std::collections::BTreeMap<crate::profile::Network, (usize, usize)> =
            Default::default();
        let connected: std::collections::HashSet<&str> = self
            .checks
            .iter()
            .filter(|c| c.kind == CheckKind::Tcp && matches!(c.status, Status::Pass | Status::Warn))
            .map(|c| c.endpoint.as_str())
            .collect();
        for heading in &self.endpoints {
            if let Some(network) = heading.network {
                let entry = by.entry(network).or_default();
                entry.0 += 1;
                entry.1 += usize::from(connected.contains(heading.name.as_str()));
            }
        }
        by.into_iter()
            .map(|(network, (endpoints, connected))| NetworkReach {
                network,
                endpoints,
                connected,
            })
            .collect()
    }

    /// Each endpoint's checks in report order, grouped once: renderers that go endpoint by
    /// endpoint must not scan every check per endpoint (10,000 endpoints, 40,000 checks).
    pub fn checks_by_endpoint(&self) -> std::collections::HashMap<&str, Vec<&Check>> {
        let mut grouped: std::collections::HashMap<&str, Vec<&Check>> = Default::default();
        for check in &self.checks {
            grouped
                .entry(check.endpoint.as_str())
                .or_default()
                .push(check);
        }
        grouped
    }

    pub fn summary(&self) -> Summary {
        Summary::of(&self.checks)
    }

    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// Whether a check fails the run: a failure, or a warning under `--strict`.
    pub fn fails_run(&self, check: &Check) -> bool {
        check.status == Status::Fail || (self.strict && check.status == Status::Warn)
    }

    /// Every text the report holds, shown escaped and bounded (crate::text): called once where a
    /// report is assembled, so no renderer can emit what a server, a file or a profile slipped
    /// in. Check names, targets and messages are sealed when the check is made.
    pub fn seal(mut self) -> Report {
        crate::text::seal(&mut self.profile);
        crate::text::seal(&mut self.description);
        for heading in &mut self.endpoints {
            crate::text::seal(&mut heading.name);
            crate::text::seal(&mut heading.url);
        }
        for check in &mut self.checks {
            // Fields written after the check was made (a renamed endpoint, a moved target).
            crate::text::seal(&mut check.endpoint);
            crate::text::seal(&mut check.target);
            crate::text::seal_within(&mut check.message, MAX_MESSAGE_BYTES);
            check.details.seal();
        }
        self
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
        check.details.maintenance = Some(Box::new(slot.clone()));
        if mode == MaintenanceMode::Fail {
            continue;
        }
        if let Some(original) = check.reason {
            check.details.original_reason = Some(original);
        }
        check.status = if mode == MaintenanceMode::Warn {
            Status::Warn
        } else {
            Status::Skip
        };
        check.reason = Some(Reason::MaintenanceWindow);
        check.message = capped(format!(
            "{} (during the {} maintenance slot until {})",
            check.message,
            slot.service,
            crate::maintenance::local(slot.end)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_capped_and_say_so() {
        let long = "é".repeat(5000);
        let check = Check::new("e", CheckKind::Dns, "t").fail(Reason::DnsTimeout, long);
        assert!(check.message.len() <= MAX_MESSAGE_BYTES);
        assert!(check.message.ends_with("…(10000 bytes)"));
        let short = Check::new("e", CheckKind::Dns, "t").pass("fine");
        assert_eq!(short.message, "fine");
    }
}

#[cfg(test)]
mod size_tests {
    /// A run of ten thousand endpoints holds forty thousand checks: every byte of `Details`
    /// counts forty thousand times (BENCHMARKS.md, memory).
    #[test]
    fn details_stay_small() {
        let size = std::mem::size_of::<super::Details>();
        assert!(size <= 104, "Details grew to {size} bytes");
    }
}
