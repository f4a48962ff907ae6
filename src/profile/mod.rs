//! Environment profiles: built-in ones, TOML files, and the local config layered over them.
//!
//! Every source is parsed into the same `ProfileDoc` (all keys optional, unknown keys rejected),
//! layered `profile < --config file < command line`, then resolved once into an immutable
//! `Profile` with defaults applied.

mod types;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use types::{
    DurationText, EndpointUrl, MinTls, ResolverAddr, RevocationMode, Scheme, parse_duration,
};

use crate::error::UsageError;
use crate::maintenance::{Maintenance, MaintenanceMode};
use crate::output::Format;

/// The most retries a run may ask for (flag or file).
pub const MAX_RETRIES: u8 = 5;

/// A profile compiled into the binary.
pub struct Builtin {
    pub name: &'static str,
    pub toml: &'static str,
}

pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "int",
        toml: include_str!("builtin/int.toml"),
    },
    Builtin {
        name: "dep",
        toml: include_str!("builtin/dep.toml"),
    },
];

pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name.eq_ignore_ascii_case(name))
}

/// One profile or config source as written: every key optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDoc {
    pub name: Option<String>,
    pub description: Option<String>,
    pub party_key: Option<String>,
    pub asid: Option<String>,
    pub ods: Option<String>,
    pub dns: Option<DnsDoc>,
    pub trust: Option<TrustDoc>,
    pub client: Option<ClientDoc>,
    pub http: Option<HttpDoc>,
    /// Your MESH mailbox: the handshake is tried after the MESH endpoint's TLS phase.
    pub mesh: Option<MeshDoc>,
    /// Your own endpoint, as Spine reaches it.
    pub inbound: Option<InboundDoc>,
    /// Endpoints found in the directory under the profile's party key.
    pub discovery: Option<DiscoveryDoc>,
    /// How a run is driven (the `check` flags), for settings kept in files.
    pub run: Option<RunDoc>,
    /// Weekly maintenance slots per service (Europe/London).
    pub maintenance: Option<Vec<Maintenance>>,
    #[serde(default, rename = "endpoint")]
    pub endpoints: Vec<EndpointDoc>,
}

/// `[mesh]`: a MESH mailbox to authenticate as. The secrets come only from environment variables.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MeshDoc {
    pub mailbox: Option<String>,
    /// The variable that holds the mailbox password.
    pub password_env: Option<String>,
    /// The variable that holds the environment's shared secret (the HMAC key).
    pub shared_key_env: Option<String>,
    /// The endpoint whose host is MESH; default: the first whose path starts /messageexchange.
    pub endpoint: Option<String>,
}

/// `[inbound]`: where Spine's calls to your endpoint come from (for the firewall advice).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InboundDoc {
    pub sources: Option<Vec<String>>,
}

/// `[discovery]`: probe what the directory registers under the profile's party key.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryDoc {
    pub enabled: Option<bool>,
    pub max_endpoints: Option<u16>,
    /// Only the records of these interactions (nhsMhsSvcIA); none: every record.
    pub interactions: Option<Vec<String>>,
}

/// `[run]`: every run setting that is also a flag. Flags and environment variables win.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RunDoc {
    pub timeout: Option<DurationText>,
    pub format: Option<Format>,
    pub retries: Option<u8>,
    pub strict: Option<bool>,
    pub concurrency: Option<u16>,
    pub deadline: Option<DurationText>,
    pub maintenance: Option<MaintenanceMode>,
}

impl RunDoc {
    /// Layers `top` over `self`: keys set in `top` win.
    fn overlay(self, top: RunDoc) -> RunDoc {
        RunDoc {
            timeout: top.timeout.or(self.timeout),
            format: top.format.or(self.format),
            retries: top.retries.or(self.retries),
            strict: top.strict.or(self.strict),
            concurrency: top.concurrency.or(self.concurrency),
            deadline: top.deadline.or(self.deadline),
            maintenance: top.maintenance.or(self.maintenance),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpDoc {
    /// Proxy for HTTPS requests; overrides HTTPS_PROXY.
    pub proxy: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsDoc {
    pub servers: Option<Vec<ResolverAddr>>,
    /// Accept loopback answers (a local tunnel or test lab); otherwise they are a sinkhole.
    pub allow_loopback: Option<bool>,
    /// Split DNS: names in these zones go to these servers (`[[dns.zone]]`), the rest to
    /// `servers` or the system resolver.
    pub zone: Option<Vec<DnsZone>>,
}

/// One `[[dns.zone]]`: every name in `name` (the zone itself and below) goes to `servers`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DnsZone {
    pub name: String,
    pub servers: Vec<ResolverAddr>,
}

impl DnsZone {
    /// Whether `host` is in this zone; the zone's name is compared without case or final dot.
    pub fn holds(&self, host: &str) -> bool {
        let zone = self.name.trim_end_matches('.').to_ascii_lowercase();
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        host == zone || host.ends_with(&format!(".{zone}"))
    }
}

/// The network an endpoint is reached over.
#[derive(
    Clone,
    Copy,
    Debug,
    Deserialize,
    serde::Serialize,
    schemars::JsonSchema,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The Health and Social Care Network: `*.ncrs.nhs.uk`, 10.239.0.0/16, 155.231.231.0/29.
    Hscn,
    Internet,
}

impl Network {
    /// What a host's name or address says: HSCN names are under ncrs.nhs.uk (they resolve only
    /// through the HSCN resolvers), HSCN addresses in 10.239.0.0/16 and 155.231.231.0/29.
    pub fn of_host(host: &str, ip: Option<std::net::IpAddr>) -> Network {
        let hscn_ip = match ip {
            Some(std::net::IpAddr::V4(v4)) => {
                let o = v4.octets();
                (o[0] == 10 && o[1] == 239) || (o[0..3] == [155, 231, 231] && o[3] < 8)
            }
            _ => false,
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if hscn_ip || host == "ncrs.nhs.uk" || host.ends_with(".ncrs.nhs.uk") {
            Network::Hscn
        } else {
            Network::Internet
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Network::Hscn => "hscn",
            Network::Internet => "internet",
        }
    }

    /// As people write it.
    pub fn label(self) -> &'static str {
        match self {
            Network::Hscn => "HSCN",
            Network::Internet => "internet",
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustDoc {
    pub ca_files: Option<Vec<PathBuf>>,
    /// Certificate revocation lists (PEM or DER), for the client identity and, with
    /// `revocation`, for server chains.
    pub crl_files: Option<Vec<PathBuf>>,
    pub revocation: Option<RevocationMode>,
    /// Trust the legacy G1 hierarchy too (off by default); chains under it are then warnings.
    pub legacy_g1: Option<bool>,
    pub min_tls: Option<MinTls>,
    pub expiry_warning_days: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientDoc {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The endpoint FQDN the certificate was issued for (checked against its CN/SAN).
    pub fqdn: Option<String>,
    /// Your own registration in the directory (the `registration` phase checks it).
    pub asid: Option<String>,
    pub party_key: Option<String>,
    pub ods: Option<String>,
    /// Interaction IDs your system sends or receives, e.g. urn:nhs:names:services:psis:REPC_IN150016UK05.
    pub interactions: Option<Vec<String>>,
}

/// Where Spine's traffic to a supplier's endpoint comes from (integration-adaptors,
/// eu-west-2_ptl.tfvars ptl_allowed_incoming_cidrs; see the facts file).
pub const SPINE_INBOUND_SOURCES: &str = "10.239.0.0/16";
/// Endpoints found in the directory probed in one run, unless `[discovery] max_endpoints` says.
pub const DEFAULT_MAX_DISCOVERED: usize = 32;

/// Your own system, as the directory should know it: from `[client]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    pub asid: Option<String>,
    pub party_key: Option<String>,
    pub ods: Option<String>,
    pub interactions: Vec<String>,
    /// `[client] fqdn`: the name your MHS records must register.
    pub fqdn: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDoc {
    pub name: String,
    pub url: EndpointUrl,
    pub service: Option<String>,
    #[serde(default)]
    pub mtls: bool,
    /// Trust anchors for this endpoint only (replaces the profile's).
    pub ca_files: Option<Vec<PathBuf>>,
    /// `hscn` or `internet` (default: from the host: `*.ncrs.nhs.uk` and HSCN addresses are hscn).
    pub network: Option<Network>,
    /// Which anchors judge this endpoint: the profile's (default), or the public web roots for
    /// an internet service (the API platform, CIS2).
    pub trust: Option<EndpointTrust>,
    /// HTTPS: the request method (default GET).
    pub method: Option<HttpMethod>,
    /// HTTPS: the statuses that count as a pass (default: any answer).
    pub expect_status: Option<Vec<u16>>,
    /// HTTPS: the body is JSON and these fields (dotted paths, `a.b.0.c`) have these values;
    /// `{}` asks only for a JSON body. URLs compare as URLs (`https://h:443/` = `https://h/`).
    pub expect_json: Option<std::collections::BTreeMap<String, toml::Value>>,
    /// HTTPS: the body contains this text.
    pub expect_body: Option<String>,
    /// LDAPS: directory searches to run (besides the built-in party-key and ASID look-ups).
    pub search: Option<Vec<SearchDoc>>,
    /// LDAPS: bind DN for a simple bind (default: anonymous).
    pub bind_dn: Option<String>,
    /// LDAPS: the environment variable holding the bind password (never the password itself).
    pub bind_password_env: Option<String>,
}

/// One directory search of an ldaps:// endpoint.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SearchDoc {
    pub name: String,
    pub base: String,
    /// RFC 4515 filter; `{party_key}`, `{asid}`, `{ods}` are replaced (escaped) from the profile.
    pub filter: String,
    #[serde(default)]
    pub attributes: Vec<String>,
    #[serde(default = "one")]
    pub min_entries: usize,
}

fn one() -> usize {
    1
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Head,
    Post,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
            HttpMethod::Post => "POST",
        }
    }
}

impl ProfileDoc {
    /// Parses TOML text; `origin` names the source in errors, `base` anchors relative paths.
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<Self, UsageError> {
        let mut doc: ProfileDoc = toml::from_str(text).map_err(|e| toml_error(&e, text, origin))?;
        doc.validate(origin)?;
        doc.resolve_paths(base);
        Ok(doc)
    }

    pub fn load_file(path: &Path) -> Result<Self, UsageError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError::new(format!("cannot read {}: {}", path.display(), io_reason(&e)))
                .hint("check the path; relative paths are taken from the current directory")
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base)
    }

    fn validate(&self, origin: &str) -> Result<(), UsageError> {
        if let Some(run) = &self.run {
            if run.retries.is_some_and(|r| r > MAX_RETRIES) {
                return Err(UsageError::new(format!(
                    "{origin}: [run] retries must be 0 to {MAX_RETRIES}"
                )));
            }
            if run.concurrency == Some(0) {
                return Err(UsageError::new(format!(
                    "{origin}: [run] concurrency must be at least 1"
                )));
            }
        }
        for zone in self.dns.iter().flat_map(|d| d.zone.iter().flatten()) {
            if zone.name.trim_matches('.').trim().is_empty() || zone.servers.is_empty() {
                return Err(UsageError::new(format!(
                    "{origin}: a [[dns.zone]] needs a name and at least one server (it has name `{}` and {} server(s))",
                    zone.name,
                    zone.servers.len()
                ))
                .hint("for HSCN: name = \"ncrs.nhs.uk\", servers = [\"155.231.231.1\", \"155.231.231.2\"]"));
            }
        }
        let mut names = HashSet::new();
        for endpoint in &self.endpoints {
            if endpoint.name.trim().is_empty() {
                return Err(UsageError::new(format!(
                    "{origin}: an [[endpoint]] has an empty name"
                )));
            }
            let expects_body = endpoint.expect_json.is_some() || endpoint.expect_body.is_some();
            let https_only =
                endpoint.method.is_some() || endpoint.expect_status.is_some() || expects_body;
            let ldaps_only = endpoint.search.is_some()
                || endpoint.bind_dn.is_some()
                || endpoint.bind_password_env.is_some();
            if https_only && endpoint.url.scheme != Scheme::Https {
                return Err(UsageError::new(format!(
                    "{origin}: endpoint `{}`: method, expect_status, expect_json and expect_body apply to https:// endpoints only",
                    endpoint.name
                )));
            }
            if endpoint.trust == Some(EndpointTrust::Public) && endpoint.ca_files.is_some() {
                return Err(UsageError::new(format!(
                    "{origin}: endpoint `{}`: trust = \"public\" and ca_files both say which anchors to use",
                    endpoint.name
                ))
                .hint("keep one: ca_files pins your own anchors, trust = \"public\" uses the public web roots"));
            }
            if expects_body && endpoint.method == Some(HttpMethod::Head) {
                return Err(UsageError::new(format!(
                    "{origin}: endpoint `{}`: expect_json and expect_body need a body, and a HEAD answer has none",
                    endpoint.name
                ))
                .hint("use method = \"GET\" (the default), or remove the body expectation"));
            }
            if let Some(value) = endpoint
                .expect_json
                .iter()
                .flatten()
                .find_map(|(path, value)| json_value(value).err().map(|e| (path, e)))
            {
                return Err(UsageError::new(format!(
                    "{origin}: endpoint `{}`: expect_json `{}`: {}",
                    endpoint.name, value.0, value.1
                )));
            }
            if ldaps_only && endpoint.url.scheme != Scheme::Ldaps {
                return Err(UsageError::new(format!(
                    "{origin}: endpoint `{}`: search, bind_dn and bind_password_env apply to ldaps:// endpoints only",
                    endpoint.name
                )));
            }
            if endpoint.expect_status.as_ref().is_some_and(Vec::is_empty) {
                return Err(UsageError::new(format!(
                    "{origin}: endpoint `{}`: expect_status is empty, so no answer could pass",
                    endpoint.name
                ))
                .hint(
                    "list the statuses that count as reachable, e.g. [200, 405], or remove the key",
                ));
            }
            if let Some(status) = endpoint
                .expect_status
                .as_ref()
                .and_then(|s| s.iter().find(|s| !(100..=599).contains(*s)))
            {
                return Err(UsageError::new(format!(
                    "{origin}: endpoint `{}`: expect_status {status} is not an HTTP status (100-599)",
                    endpoint.name
                )));
            }
            if !names.insert(endpoint.name.as_str()) {
                return Err(UsageError::new(format!(
                    "{origin}: endpoint name `{}` is used twice",
                    endpoint.name
                ))
                .hint("endpoint names must be unique; a --config endpoint with the same name as a profile one replaces it"));
            }
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(files) = self.trust.as_mut().and_then(|t| t.ca_files.as_mut()) {
            files.iter_mut().for_each(join);
        }
        if let Some(files) = self.trust.as_mut().and_then(|t| t.crl_files.as_mut()) {
            files.iter_mut().for_each(join);
        }
        if let Some(client) = self.client.as_mut() {
            client.cert.as_mut().map(join);
            client.key.as_mut().map(join);
        }
        for endpoint in &mut self.endpoints {
            if let Some(files) = endpoint.ca_files.as_mut() {
                files.iter_mut().for_each(join);
            }
        }
    }

    /// Layers `top` over `self`: set keys in `top` win; endpoints with the same name are
    /// replaced, new ones appended.
    pub fn overlay(mut self, top: ProfileDoc) -> ProfileDoc {
        fn pick<T>(low: Option<T>, high: Option<T>) -> Option<T> {
            high.or(low)
        }
        self.name = pick(self.name, top.name);
        self.description = pick(self.description, top.description);
        self.party_key = pick(self.party_key, top.party_key);
        self.asid = pick(self.asid, top.asid);
        self.ods = pick(self.ods, top.ods);
        if let Some(dns) = top.dns {
            let low = self.dns.take().unwrap_or_default();
            self.dns = Some(DnsDoc {
                servers: pick(low.servers, dns.servers),
                allow_loopback: pick(low.allow_loopback, dns.allow_loopback),
                zone: pick(low.zone, dns.zone),
            });
        }
        if let Some(trust) = top.trust {
            let low = self.trust.take().unwrap_or_default();
            self.trust = Some(TrustDoc {
                ca_files: pick(low.ca_files, trust.ca_files),
                crl_files: pick(low.crl_files, trust.crl_files),
                revocation: pick(low.revocation, trust.revocation),
                legacy_g1: pick(low.legacy_g1, trust.legacy_g1),
                min_tls: pick(low.min_tls, trust.min_tls),
                expiry_warning_days: pick(low.expiry_warning_days, trust.expiry_warning_days),
            });
        }
        if let Some(http) = top.http {
            let low = self.http.take().unwrap_or_default();
            self.http = Some(HttpDoc {
                proxy: pick(low.proxy, http.proxy),
            });
        }
        if let Some(client) = top.client {
            let low = self.client.take().unwrap_or_default();
            self.client = Some(ClientDoc {
                cert: pick(low.cert, client.cert),
                key: pick(low.key, client.key),
                fqdn: pick(low.fqdn, client.fqdn),
                asid: pick(low.asid, client.asid),
                party_key: pick(low.party_key, client.party_key),
                ods: pick(low.ods, client.ods),
                interactions: pick(low.interactions, client.interactions),
            });
        }
        if let Some(mesh) = top.mesh {
            let low = self.mesh.take().unwrap_or_default();
            self.mesh = Some(MeshDoc {
                mailbox: pick(low.mailbox, mesh.mailbox),
                password_env: pick(low.password_env, mesh.password_env),
                shared_key_env: pick(low.shared_key_env, mesh.shared_key_env),
                endpoint: pick(low.endpoint, mesh.endpoint),
            });
        }
        if let Some(inbound) = top.inbound {
            let low = self.inbound.take().unwrap_or_default();
            self.inbound = Some(InboundDoc {
                sources: pick(low.sources, inbound.sources),
            });
        }
        if let Some(discovery) = top.discovery {
            let low = self.discovery.take().unwrap_or_default();
            self.discovery = Some(DiscoveryDoc {
                enabled: pick(low.enabled, discovery.enabled),
                max_endpoints: pick(low.max_endpoints, discovery.max_endpoints),
                interactions: pick(low.interactions, discovery.interactions),
            });
        }
        if let Some(run) = top.run {
            self.run = Some(self.run.take().unwrap_or_default().overlay(run));
        }
        self.maintenance = pick(self.maintenance, top.maintenance);
        for endpoint in top.endpoints {
            match self.endpoints.iter_mut().find(|e| e.name == endpoint.name) {
                Some(existing) => *existing = endpoint,
                None => self.endpoints.push(endpoint),
            }
        }
        self
    }
}

/// Loads `--profile NAME|PATH`: a built-in name, or a TOML file.
pub fn load_profile(name_or_path: &str) -> Result<ProfileDoc, UsageError> {
    if let Some(builtin) = builtin(name_or_path) {
        let origin = format!("built-in profile `{}`", builtin.name);
        return ProfileDoc::parse(builtin.toml, &origin, Path::new("."));
    }
    let path = Path::new(name_or_path);
    let looks_like_path = name_or_path.contains(std::path::MAIN_SEPARATOR)
        || name_or_path.contains('/')
        || path.extension().is_some()
        || path.exists();
    if looks_like_path {
        return ProfileDoc::load_file(path);
    }
    Err(unknown_profile(name_or_path))
}

pub fn unknown_profile(name: &str) -> UsageError {
    let known: Vec<&str> = BUILTINS.iter().map(|b| b.name).collect();
    UsageError::new(format!("unknown profile `{name}`")).hint(format!(
        "built-in profiles: {}; or pass a TOML file (start from `int-check profiles show int`)",
        known.join(", ")
    ))
}

/// Whether a file has a PEM private key in it (read only to tell; unreadable means no).
pub fn holds_private_key(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| {
        bytes
            .windows(b"PRIVATE KEY-----".len())
            .any(|w| w == b"PRIVATE KEY-----")
    })
}

/// A client identity for mutual TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub fqdn: Option<String>,
}

/// One endpoint, resolved.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub name: String,
    pub url: EndpointUrl,
    pub service: Option<String>,
    pub mtls: bool,
    pub ca_files: Option<Vec<PathBuf>>,
    pub trust: EndpointTrust,
    pub network: Network,
    pub method: HttpMethod,
    pub expect_status: Option<Vec<u16>>,
    /// What a healthy answer's body holds (https:// only).
    pub expect: BodyExpectation,
    /// Searches to run, built-in look-ups included (ldaps:// only).
    pub searches: Vec<SearchDoc>,
    pub bind_dn: Option<String>,
    pub bind_password_env: Option<String>,
    /// The MESH mailbox handshake to try after TLS (the `[mesh]` endpoint only).
    pub mesh: Option<MeshAuth>,
    /// Where the endpoint comes from: the profile, or the directory during the run.
    pub origin: Origin,
}

/// Where an endpoint of a run comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Written in the profile or config.
    #[default]
    Profile,
    /// Registered in the directory under the profile's party key (`--discover`).
    Directory,
    /// Your own endpoint, registered in your MHS records: checked as Spine will reach it.
    Inbound,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Profile => "profile",
            Origin::Directory => "directory",
            Origin::Inbound => "inbound",
        }
    }
}

impl Endpoint {
    /// An endpoint found in the directory: probed up to TLS, with the client identity when
    /// there is one. `None` when the URL is not one int-check can probe.
    pub fn found(url: &str, origin: Origin, mtls: bool) -> Option<Endpoint> {
        let parsed = EndpointUrl::try_from(url.to_string()).ok()?;
        if parsed.scheme != Scheme::Https {
            return None;
        }
        let path = url::Url::parse(url)
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        Some(Endpoint {
            name: format!("{}:{}{path}", origin.as_str(), parsed.host),
            network: Network::of_host(&parsed.host, parsed.ip),
            url: parsed,
            service: None,
            mtls,
            ca_files: None,
            trust: EndpointTrust::Profile,
            method: HttpMethod::default(),
            expect_status: None,
            expect: BodyExpectation::default(),
            searches: Vec::new(),
            bind_dn: None,
            bind_password_env: None,
            mesh: None,
            origin,
        })
    }

    /// The URL as compared across sources: scheme, host (any case), port and path, no slash at
    /// the end.
    pub fn same_url(a: &str, b: &str) -> bool {
        let key = |u: &str| {
            url::Url::parse(u).ok().map(|u| {
                (
                    u.scheme().to_string(),
                    u.host_str().unwrap_or("").to_ascii_lowercase(),
                    u.port_or_known_default(),
                    u.path().trim_end_matches('/').to_string(),
                )
            })
        };
        key(a).is_some() && key(a) == key(b)
    }
}

/// A MESH mailbox and where its secrets are: variable names only, read when the probe runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshAuth {
    pub mailbox: String,
    pub password_env: String,
    pub shared_key_env: String,
}

/// Which anchors judge an endpoint's server chain.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EndpointTrust {
    /// The profile's anchors (the NHS PTL G2 chain unless `ca_files` says otherwise).
    #[default]
    Profile,
    /// The public web roots (Mozilla's list, built in): internet services with public certificates.
    Public,
}

/// What a healthy HTTPS answer's body holds, beyond its status.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BodyExpectation {
    /// The body is JSON with these (dotted path, value) fields; empty: any JSON.
    pub json: Option<Vec<(String, serde_json::Value)>>,
    /// The body contains this text.
    pub contains: Option<String>,
}

impl BodyExpectation {
    pub fn is_set(&self) -> bool {
        self.json.is_some() || self.contains.is_some()
    }
}

/// A profile's TOML value as the JSON value a body is compared with (no dates: JSON has none).
fn json_value(value: &toml::Value) -> Result<serde_json::Value, String> {
    Ok(match value {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Value::from(*f),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(json_value).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(table) => serde_json::Value::Object(
            table
                .iter()
                .map(|(k, v)| Ok((k.clone(), json_value(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        toml::Value::Datetime(_) => {
            return Err("a TOML date cannot be compared with JSON; write it as a string".into());
        }
    })
}

/// The resolved, immutable profile a run uses.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub party_key: Option<String>,
    pub asid: Option<String>,
    pub ods: Option<String>,
    /// Empty: use the system resolver.
    pub dns_servers: Vec<ResolverAddr>,
    /// Split DNS: zones whose names go to their own servers.
    pub dns_zones: Vec<DnsZone>,
    /// Loopback answers are accepted (a tunnel or lab), not failed as a sinkhole.
    pub allow_loopback: bool,
    /// Empty: use the built-in G2 anchors.
    pub ca_files: Vec<PathBuf>,
    /// CRL files (`[trust] crl_files`, `--crl-file`).
    pub crl_files: Vec<PathBuf>,
    /// Whether server chains are checked against them.
    pub revocation: RevocationMode,
    /// Trust the legacy G1 hierarchy as well, with a warning on every chain under it.
    pub legacy_g1: bool,
    pub min_tls: MinTls,
    pub expiry_warning_days: u32,
    pub client: Option<ClientPaths>,
    /// Your own registration, when `[client]` names an ASID or party key.
    pub registration: Option<Registration>,
    /// Where Spine's calls to your endpoint come from (`[inbound] sources`).
    pub inbound_sources: Vec<String>,
    /// Probe the endpoints the directory registers under the profile's party key.
    pub discover: bool,
    /// At most this many endpoints found in the directory are probed.
    pub max_discovered: usize,
    /// Discovery looks only at the records of these interactions (empty: all).
    pub discover_interactions: Vec<String>,
    /// Explicit HTTPS proxy from the profile/config (HTTPS_PROXY is read at run time).
    pub proxy: Option<String>,
    pub maintenance: Vec<Maintenance>,
    pub endpoints: Vec<Endpoint>,
    /// Run settings from the files (flags and environment win; see `settings`).
    pub run: RunDoc,
}

/// The directory look-ups every ldaps:// endpoint runs, from the profile's identifiers.
fn builtin_searches(party_key: Option<&str>, asid: Option<&str>) -> Vec<SearchDoc> {
    use crate::spine_directory as sds;
    let search = |name: &str, filter: &str, attributes: &[&str]| SearchDoc {
        name: name.to_string(),
        base: sds::BASE.to_string(),
        filter: filter.to_string(),
        attributes: attributes.iter().map(|a| a.to_string()).collect(),
        min_entries: 1,
    };
    let mut searches = Vec::new();
    if party_key.is_some() {
        searches.push(search(
            "party-key",
            sds::PARTY_KEY_TEMPLATE,
            sds::PARTY_KEY_ATTRIBUTES,
        ));
    }
    if asid.is_some() {
        searches.push(search("asid", sds::ASID_TEMPLATE, sds::ASID_ATTRIBUTES));
    }
    searches
}

impl Profile {
    pub fn resolve(doc: ProfileDoc) -> Result<Profile, UsageError> {
        let registration = doc.client.as_ref().and_then(|c| {
            (c.asid.is_some() || c.party_key.is_some()).then(|| Registration {
                asid: c.asid.clone(),
                party_key: c.party_key.clone(),
                ods: c.ods.clone(),
                interactions: c.interactions.clone().unwrap_or_default(),
                fqdn: c.fqdn.clone(),
            })
        });
        if let Some(client) = &doc.client
            && client.interactions.as_ref().is_some_and(|i| !i.is_empty())
            && client.party_key.is_none()
            && client.asid.is_none()
        {
            return Err(UsageError::new("[client] interactions are set, but neither [client] asid nor party_key")
                .hint("the interactions are looked up under your ASID and party key: set [client] asid and party_key"));
        }
        let client = match doc.client {
            None => None,
            Some(ClientDoc {
                cert: None,
                key: None,
                ..
            }) => None,
            Some(ClientDoc {
                cert: Some(cert),
                key: Some(key),
                fqdn,
                ..
            }) => Some(ClientPaths { cert, key, fqdn }),
            Some(ClientDoc { cert: None, .. }) => {
                return Err(UsageError::new(
                    "a client key is configured but no client certificate",
                )
                .hint("set both [client] cert and key (or --client-cert and --client-key)"));
            }
            // A PEM file with the certificate and its key together (what curl --cert takes).
            Some(ClientDoc {
                cert: Some(cert),
                key: None,
                fqdn,
                ..
            }) if holds_private_key(&cert) => Some(ClientPaths {
                key: cert.clone(),
                cert,
                fqdn,
            }),
            Some(ClientDoc { key: None, .. }) => {
                return Err(
                    UsageError::new("a client certificate is configured but no key")
                        .hint("set both [client] cert and key (or --client-cert and --client-key); a PEM certificate file with its key in it needs no separate key"),
                );
            }
        };
        let trust = doc.trust.unwrap_or_default();
        let builtin = builtin_searches(doc.party_key.as_deref(), doc.asid.as_deref());
        let endpoints: Vec<Endpoint> = doc
            .endpoints
            .into_iter()
            .map(|e| {
                let mut searches = Vec::new();
                if e.url.scheme == Scheme::Ldaps {
                    let own = e.search.unwrap_or_default();
                    // A search of the same name in the profile replaces the built-in one.
                    searches.extend(
                        builtin
                            .iter()
                            .filter(|b| !own.iter().any(|o| o.name == b.name))
                            .cloned(),
                    );
                    searches.extend(own);
                }
                let network = e
                    .network
                    .unwrap_or_else(|| Network::of_host(&e.url.host, e.url.ip));
                Endpoint {
                    name: e.name,
                    url: e.url,
                    service: e.service,
                    mtls: e.mtls,
                    ca_files: e.ca_files,
                    trust: e.trust.unwrap_or_default(),
                    network,
                    method: e.method.unwrap_or_default(),
                    expect_status: e.expect_status,
                    expect: BodyExpectation {
                        json: e.expect_json.map(|fields| {
                            fields
                                .into_iter()
                                .filter_map(|(path, value)| Some((path, json_value(&value).ok()?)))
                                .collect()
                        }),
                        contains: e.expect_body,
                    },
                    searches,
                    bind_dn: e.bind_dn,
                    bind_password_env: e.bind_password_env,
                    mesh: None,
                    origin: Origin::Profile,
                }
            })
            .collect();
        let mut endpoints = endpoints;
        if let Some(mesh) = doc.mesh.as_ref().filter(|m| m.mailbox.is_some()) {
            attach_mesh(&mut endpoints, mesh)?;
        }
        let name = doc.name.unwrap_or_else(|| "custom".to_string());
        if endpoints.is_empty() {
            return Err(
                UsageError::new(format!("profile `{name}` has no endpoints"))
                    .hint("add at least one [[endpoint]] with a name and url"),
            );
        }
        Ok(Profile {
            description: doc.description.unwrap_or_else(|| name.clone()),
            name,
            party_key: doc.party_key,
            asid: doc.asid,
            ods: doc.ods,
            allow_loopback: doc
                .dns
                .as_ref()
                .and_then(|d| d.allow_loopback)
                .unwrap_or(false),
            dns_zones: doc
                .dns
                .as_ref()
                .and_then(|d| d.zone.clone())
                .unwrap_or_default(),
            dns_servers: doc.dns.and_then(|d| d.servers).unwrap_or_default(),
            ca_files: trust.ca_files.unwrap_or_default(),
            crl_files: trust.crl_files.unwrap_or_default(),
            revocation: trust.revocation.unwrap_or_default(),
            legacy_g1: trust.legacy_g1.unwrap_or(false),
            min_tls: trust.min_tls.unwrap_or(MinTls::V1_2),
            expiry_warning_days: trust.expiry_warning_days.unwrap_or(30),
            client,
            registration,
            inbound_sources: doc
                .inbound
                .and_then(|i| i.sources)
                .unwrap_or_else(|| vec![SPINE_INBOUND_SOURCES.to_string()]),
            discover: doc
                .discovery
                .as_ref()
                .and_then(|d| d.enabled)
                .unwrap_or(false),
            discover_interactions: doc
                .discovery
                .as_ref()
                .and_then(|d| d.interactions.clone())
                .unwrap_or_default(),
            max_discovered: doc
                .discovery
                .and_then(|d| d.max_endpoints)
                .map_or(DEFAULT_MAX_DISCOVERED, usize::from),
            proxy: doc.http.and_then(|h| h.proxy),
            maintenance: doc.maintenance.unwrap_or_default(),
            endpoints,
            run: doc.run.unwrap_or_default(),
        })
    }
}

/// Gives `[mesh]` to its endpoint: the one it names, else the first https:// endpoint whose path
/// is under /messageexchange.
fn attach_mesh(endpoints: &mut [Endpoint], mesh: &MeshDoc) -> Result<(), UsageError> {
    let mailbox = mesh.mailbox.clone().unwrap_or_default();
    let (Some(password_env), Some(shared_key_env)) = (&mesh.password_env, &mesh.shared_key_env)
    else {
        return Err(UsageError::new("[mesh] mailbox is set, but not both password_env and shared_key_env")
            .hint("name the environment variables that hold the mailbox password and the environment's shared key: [mesh] password_env = \"MESH_PASSWORD\", shared_key_env = \"MESH_SHARED_KEY\" (the secrets never go in a file)"));
    };
    let is_mesh = |e: &Endpoint| {
        e.url.scheme == Scheme::Https
            && url::Url::parse(&e.url.raw).is_ok_and(|u| u.path().starts_with("/messageexchange"))
    };
    let target = match &mesh.endpoint {
        Some(name) => endpoints.iter_mut().find(|e| &e.name == name),
        None => endpoints.iter_mut().find(|e| is_mesh(e)),
    };
    let Some(target) = target else {
        return Err(UsageError::new(match &mesh.endpoint {
            Some(name) => format!("[mesh] endpoint `{name}` is not an endpoint of the profile"),
            None => "[mesh] mailbox is set, but no https:// endpoint's path starts with /messageexchange".to_string(),
        })
        .hint("name the MESH endpoint with [mesh] endpoint = \"mesh-internet\", or add one: url = \"https://msg.intspineservices.nhs.uk/messageexchange/_ping\""));
    };
    if target.url.scheme != Scheme::Https {
        return Err(
            UsageError::new(format!("[mesh] endpoint `{}` is not https://", target.name))
                .hint("the MESH handshake is an HTTPS request: name an https:// endpoint"),
        );
    }
    target.mesh = Some(MeshAuth {
        mailbox,
        password_env: password_env.clone(),
        shared_key_env: shared_key_env.clone(),
    });
    Ok(())
}

/// Turns a TOML error into `file:line:col: message`.
fn toml_error(error: &toml::de::Error, text: &str, origin: &str) -> UsageError {
    let message = error.message().trim().replace('\n', " ");
    let location = match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("{origin}:{line}:{column}")
        }
        None => origin.to_string(),
    };
    // A secret written into the file: say where secrets go instead (the value is never echoed).
    if ["`password`", "`shared_key`", "`bind_password`"]
        .iter()
        .any(|key| message.starts_with(&format!("unknown field {key}")))
    {
        return UsageError::new(format!("{location}: {message}")).hint(
            "secrets never go in a file: name the environment variable that holds it (password_env, shared_key_env, bind_password_env), and remove the secret from this file",
        );
    }
    UsageError::new(format!("{location}: {message}"))
        .hint("see config.example.toml for every key, or `int-check profiles show int` for a working profile")
}

/// A short reason for an I/O error, without Rust's "(os error 2)" noise.
pub fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        std::io::ErrorKind::ConnectionReset => "the peer reset the connection".to_string(),
        std::io::ErrorKind::ConnectionAborted => "the connection was aborted".to_string(),
        std::io::ErrorKind::BrokenPipe => "the peer closed the connection".to_string(),
        // rustls says this with a link to its manual; people need the fact only.
        std::io::ErrorKind::UnexpectedEof => {
            "the peer closed the connection without ending TLS properly".to_string()
        }
        _ => {
            let text = error.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_resolve() {
        for b in BUILTINS {
            let doc = load_profile(b.name).unwrap();
            let profile = Profile::resolve(doc).unwrap();
            assert_eq!(profile.name, b.name);
            assert!(!profile.endpoints.is_empty());
        }
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let text = "name = \"x\"\n[trust]\nmin_tls = \"1.2\"\ncolour = true\n";
        let err = ProfileDoc::parse(text, "p.toml", Path::new(".")).unwrap_err();
        assert!(err.message.starts_with("p.toml:4:1:"), "{}", err.message);
        assert!(err.message.contains("colour"), "{}", err.message);
    }

    #[test]
    fn scheme_specific_keys_are_checked() {
        let parse = |t: &str| {
            ProfileDoc::parse(t, "p.toml", Path::new("."))
                .unwrap_err()
                .message
        };
        assert!(
            parse("[[endpoint]]\nname = \"a\"\nurl = \"https://a/\"\nexpect_status = []\n")
                .contains("expect_status is empty")
        );
        assert!(
            parse("[[endpoint]]\nname = \"a\"\nurl = \"https://a/\"\nexpect_status = [99]\n")
                .contains("not an HTTP status")
        );
        assert!(
            parse("[[endpoint]]\nname = \"a\"\nurl = \"tcp://a:1\"\nmethod = \"GET\"\n")
                .contains("https:// endpoints only")
        );
        assert!(
            parse("[[endpoint]]\nname = \"a\"\nurl = \"https://a/\"\nbind_dn = \"x\"\n")
                .contains("ldaps:// endpoints only")
        );
    }

    #[test]
    fn overlay_replaces_same_name_and_appends_new() {
        let base = ProfileDoc::parse(
            "[[endpoint]]\nname = \"a\"\nurl = \"tcp://a:1\"\n[[endpoint]]\nname = \"b\"\nurl = \"tcp://b:1\"\n",
            "base",
            Path::new("/base"),
        )
        .unwrap();
        let top = ProfileDoc::parse(
            "[client]\ncert = \"c.pem\"\nkey = \"k.pem\"\n[[endpoint]]\nname = \"b\"\nurl = \"tcp://b2:2\"\n[[endpoint]]\nname = \"c\"\nurl = \"tcp://c:3\"\n",
            "top",
            Path::new("/top"),
        )
        .unwrap();
        let profile = Profile::resolve(base.overlay(top)).unwrap();
        let urls: Vec<_> = profile
            .endpoints
            .iter()
            .map(|e| e.url.authority())
            .collect();
        assert_eq!(urls, ["a:1", "b2:2", "c:3"]);
        assert_eq!(profile.client.unwrap().cert, PathBuf::from("/top/c.pem"));
    }
}
