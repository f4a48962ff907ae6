//! The profile file format: built-in profiles, and TOML profile and config files parsed into
//! `ProfileDoc` (every key optional, unknown keys rejected, values checked where they are read so
//! that an error names its file, line and column).

use super::*;

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
    /// Which address families are probed: `any` (default), `ipv4` or `ipv6` (every endpoint's
    /// default; an endpoint's own `ip` wins).
    pub ip: Option<IpFamily>,
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

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpDoc {
    /// The HTTP proxy https:// endpoints are reached through (DNS, TCP, CONNECT, TLS and HTTP
    /// alike); overrides HTTPS_PROXY.
    pub proxy: Option<String>,
    /// The environment variable holding the proxy's `user:password` when the proxy URL carries
    /// none (never the credentials themselves).
    pub proxy_credentials_env: Option<String>,
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
    /// Which address families of the host are probed (default: the profile's `ip`, else any).
    pub ip: Option<IpFamily>,
    /// Connect to this address instead of resolving the host (one node behind a name); SNI,
    /// the certificate's name check and the HTTP Host stay the URL's host.
    pub address: Option<std::net::IpAddr>,
    /// `"none"` (straight to the host, whatever `[http] proxy` or HTTPS_PROXY say), or the
    /// HTTP proxy this endpoint is reached through (any scheme, ldaps:// included).
    pub proxy: Option<Box<EndpointProxy>>,
    /// Whether this endpoint's chain is checked against revocation lists (default: the
    /// profile's `[trust] revocation`).
    pub revocation: Option<RevocationMode>,
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
