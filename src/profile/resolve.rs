//! Resolution: the layered `ProfileDoc` checked and turned, once, into the immutable `Profile`
//! a run uses (defaults applied, endpoints with their trust, MESH settings and searches).

use super::*;

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
    /// Which address families of the host are probed.
    pub ip: IpFamily,
    /// `address` / `--connect-to`: connect here instead of resolving the host; SNI, the name
    /// check and HTTP Host stay the URL's host.
    pub connect_to: Option<std::net::IpAddr>,
    /// The endpoint's own `proxy` (none: the profile's and the environment's rules). Boxed:
    /// few endpoints have one, and a profile may have ten thousand endpoints.
    pub proxy: Option<Box<EndpointProxy>>,
    /// The endpoint's own `revocation` (none: the profile's).
    pub revocation: Option<RevocationMode>,
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
            ip: IpFamily::Any,
            connect_to: None,
            proxy: None,
            revocation: None,
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
pub(super) fn json_value(value: &toml::Value) -> Result<serde_json::Value, String> {
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
    /// The HTTP proxy for https:// endpoints from the profile/config (HTTPS_PROXY is read at
    /// run time).
    pub proxy: Option<ProxyUrl>,
    /// The variable holding the proxy's `user:password` (`[http] proxy_credentials_env`).
    pub proxy_credentials_env: Option<String>,
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
        let profile_ip = doc.ip;
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
                    ip: e.ip.or(profile_ip).unwrap_or_default(),
                    connect_to: e.address,
                    proxy: e.proxy,
                    revocation: e.revocation,
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
        let proxy = doc
            .http
            .as_ref()
            .and_then(|h| h.proxy.as_deref())
            .filter(|p| !p.trim().is_empty())
            .map(|p| ProxyUrl::parse(p, "[http] proxy"))
            .transpose()
            .map_err(|e| {
                UsageError::new(e).hint("set [http] proxy = \"http://HOST:PORT\", or leave it out to go direct (HTTPS_PROXY is used when it is set)")
            })?;
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
            proxy,
            proxy_credentials_env: doc.http.and_then(|h| h.proxy_credentials_env),
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
