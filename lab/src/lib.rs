//! A hermetic lab for end-to-end tests: a PKI shaped like the NHS G2 chain, an in-process DNS
//! server (hickory-server), TLS servers on 127.0.0.x with ephemeral ports, and a runner that
//! drives the real `int-check` binary. Nothing leaves loopback. Built only with the `lab`
//! feature, which the tests and benches turn on.

pub mod latency;
pub mod needs;
pub mod proxies;
pub mod slapd;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA};
use hickory_server::proto::rr::{RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

// ---------------------------------------------------------------------------------------------
// PKI

/// A CA: its parameters (for issuing) and key.
pub struct Ca {
    pub params: CertificateParams,
    pub key: KeyPair,
    pub cert: CertificateDer<'static>,
    pub pem: String,
}

impl Ca {
    pub fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }
}

fn nhs_name(cn: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, "GB");
    name.push(DnType::OrganizationName, "nhs");
    name.push(DnType::OrganizationalUnitName, "CA");
    name.push(DnType::CommonName, cn);
    name
}

/// Sets validity to [today + from_days, today + to_days]; past 9999-12-31 (RFC 5280's "no
/// expiry") is that date.
pub fn set_validity(params: &mut CertificateParams, from_days: i64, to_days: i64) {
    let date = |days: i64| {
        let today = jiff::Timestamp::now()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .date();
        match today.checked_add(jiff::Span::new().days(days)) {
            Ok(d) => rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8),
            Err(_) => rcgen::date_time_ymd(9999, 12, 31),
        }
    };
    params.not_before = date(from_days);
    params.not_after = date(to_days);
}

fn make_ca(cn: &str, parent: Option<&Ca>, pathlen: Option<u8>) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = nhs_name(cn);
    // As real CAs issue them: the issuer's key identifier in every certificate it signs.
    params.use_authority_key_identifier_extension = parent.is_some();
    params.is_ca = match pathlen {
        Some(n) => IsCa::Ca(BasicConstraints::Constrained(n)),
        None => IsCa::Ca(BasicConstraints::Unconstrained),
    };
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    set_validity(&mut params, -365, 3650);
    let key = KeyPair::generate().unwrap();
    let cert = match parent {
        None => params.self_signed(&key).unwrap(),
        Some(parent) => params.signed_by(&key, &parent.issuer()).unwrap(),
    };
    Ca {
        pem: cert.pem(),
        cert: cert.der().clone(),
        params,
        key,
    }
}

/// How a leaf certificate should look.
#[derive(Clone)]
pub struct LeafSpec {
    pub cn: String,
    /// subjectAltName DNS names; empty with `cn_only` means no SAN extension at all.
    pub sans: Vec<String>,
    pub cn_only: bool,
    pub valid_from_days: i64,
    pub valid_to_days: i64,
    pub client: bool,
    /// No extendedKeyUsage extension at all.
    pub no_eku: bool,
    /// Use the committed test RSA-2048 key instead of a fresh P-256 key.
    pub rsa: bool,
    /// A CRL distribution point (URI) to name in the certificate.
    pub crl_url: Option<String>,
}

impl LeafSpec {
    pub fn server(name: &str) -> LeafSpec {
        LeafSpec {
            cn: name.to_string(),
            sans: vec![name.to_string()],
            cn_only: false,
            valid_from_days: -30,
            valid_to_days: 365,
            client: false,
            no_eku: false,
            rsa: false,
            crl_url: None,
        }
    }

    pub fn client(fqdn: &str) -> LeafSpec {
        LeafSpec {
            client: true,
            ..LeafSpec::server(fqdn)
        }
    }
}

/// A leaf certificate and its key.
pub struct Leaf {
    pub cert: CertificateDer<'static>,
    pub pem: String,
    pub key_pem: String,
}

impl Leaf {
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap()
    }
}

/// A root and SubCA named like NHS PTL Root Authority G2 / NHS INT Authentication G2.
pub struct Pki {
    pub root: Ca,
    pub subca: Ca,
}

impl Pki {
    pub fn g2() -> Pki {
        let root = make_ca("NHS PTL Root Authority G2", None, None);
        let subca = make_ca("NHS INT Authentication G2", Some(&root), Some(1));
        Pki { root, subca }
    }

    /// A root and SubCA with the given common names (a rogue CA, or hostile names).
    pub fn named(root_cn: &str, subca_cn: &str) -> Pki {
        let root = make_ca(root_cn, None, None);
        let subca = make_ca(subca_cn, Some(&root), Some(1));
        Pki { root, subca }
    }

    /// Named like the legacy G1 hierarchy (NHS PTL Root Authority / NHS INT Level 1C), with
    /// keys made here: the names are G1's, the fingerprints are not.
    pub fn g1_shaped() -> Pki {
        let root = make_ca("NHS PTL Root Authority", None, None);
        let subca = make_ca("NHS INT Level 1C", Some(&root), Some(1));
        Pki { root, subca }
    }

    pub fn leaf(&self, spec: &LeafSpec) -> Leaf {
        let sans = if spec.cn_only {
            Vec::new()
        } else {
            spec.sans.clone()
        };
        let mut params = CertificateParams::new(sans).unwrap();
        params.use_authority_key_identifier_extension = true;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, spec.cn.as_str());
        params.distinguished_name = name;
        params.is_ca = IsCa::ExplicitNoCa;
        if let Some(url) = &spec.crl_url {
            params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
                uris: vec![url.clone()],
            }];
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = if spec.no_eku {
            Vec::new()
        } else if spec.client {
            vec![ExtendedKeyUsagePurpose::ClientAuth]
        } else {
            vec![ExtendedKeyUsagePurpose::ServerAuth]
        };
        set_validity(&mut params, spec.valid_from_days, spec.valid_to_days);
        let key = if spec.rsa {
            let pem = std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fixtures/test-keys/rsa-2048.pem"
            ))
            .unwrap();
            let pem: String = pem
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect();
            KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap()
        } else {
            KeyPair::generate().unwrap()
        };
        let cert = params.signed_by(&key, &self.subca.issuer()).unwrap();
        Leaf {
            pem: cert.pem(),
            cert: cert.der().clone(),
            key_pem: key.serialize_pem(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DNS

/// What the lab DNS server does for a name.
#[derive(Clone, Debug)]
pub enum DnsAnswer {
    Addresses(Vec<IpAddr>),
    NxDomain,
    ServFail,
    /// Never answer (a dead resolver path).
    Silent,
    /// SERVFAIL to the first A query, then these addresses (a flaky resolver path).
    FlakyThen(Vec<IpAddr>),
}

#[derive(Clone, Default)]
struct Zone(Arc<Mutex<HashMap<String, DnsAnswer>>>);

#[async_trait::async_trait]
impl RequestHandler for Zone {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let info = request.request_info().expect("a query");
        let name = info
            .query
            .name()
            .to_string()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let qtype = info.query.query_type();
        if std::env::var_os("LAB_DNS_TRACE").is_some() {
            eprintln!("lab dns: {name} {qtype:?} over {:?}", request.protocol());
        }
        let answer = {
            let mut zone = self.0.lock().unwrap();
            let answer = zone.get(&name).cloned().unwrap_or(DnsAnswer::NxDomain);
            match answer {
                DnsAnswer::FlakyThen(ips) if qtype == RecordType::A => {
                    zone.insert(name.clone(), DnsAnswer::Addresses(ips));
                    DnsAnswer::ServFail
                }
                other => other,
            }
        };
        let builder = MessageResponseBuilder::from_message_request(request);
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let result = match answer {
            DnsAnswer::Silent => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                unreachable!()
            }
            DnsAnswer::NxDomain => {
                response_handle
                    .send_response(builder.error_msg(&request.metadata, ResponseCode::NXDomain))
                    .await
            }
            DnsAnswer::ServFail => {
                response_handle
                    .send_response(builder.error_msg(&request.metadata, ResponseCode::ServFail))
                    .await
            }
            DnsAnswer::Addresses(ips) | DnsAnswer::FlakyThen(ips) => {
                let records: Vec<Record> = ips
                    .iter()
                    .filter_map(|ip| match (ip, qtype) {
                        (IpAddr::V4(v4), RecordType::A) => Some(RData::A(A(*v4))),
                        (IpAddr::V6(v6), RecordType::AAAA) => Some(RData::AAAA(AAAA(*v6))),
                        _ => None,
                    })
                    .map(|rdata| Record::from_rdata(info.query.name().into(), 60, rdata))
                    .collect();
                let response = builder.build(metadata, records.iter(), [], [], []);
                response_handle.send_response(response).await
            }
        };
        result.expect("response sent")
    }
}

/// An in-process DNS server on 127.0.0.1 (UDP and TCP on the same ephemeral port).
pub struct DnsServer {
    pub addr: SocketAddr,
    zone: Zone,
}

impl DnsServer {
    pub async fn start() -> DnsServer {
        let zone = Zone::default();
        for _ in 0..20 {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = udp.local_addr().unwrap();
            let Ok(tcp) = TcpListener::bind(addr).await else {
                continue;
            };
            let mut server = hickory_server::Server::new(zone.clone());
            server.register_socket(udp);
            server.register_listener(tcp, Duration::from_secs(5), 4096);
            tokio::spawn(async move {
                let _ = server.block_until_done().await;
            });
            return DnsServer { addr, zone };
        }
        panic!("no free port pair for the lab DNS server");
    }

    pub fn set(&self, name: &str, answer: DnsAnswer) {
        self.zone
            .0
            .lock()
            .unwrap()
            .insert(name.to_ascii_lowercase(), answer);
    }

    pub fn point(&self, name: &str, ips: &[IpAddr]) {
        self.set(name, DnsAnswer::Addresses(ips.to_vec()));
    }
}

// ---------------------------------------------------------------------------------------------
// TLS servers

pub enum ClientAuth {
    None,
    /// Ask for a certificate, accept the handshake without one.
    Optional(CertificateDer<'static>),
    /// Demand a certificate chaining to this root.
    Required(CertificateDer<'static>),
}

/// What the lab TLS server answers to an HTTP request.
#[derive(Clone)]
pub enum HttpReply {
    /// Status line and extra headers; the body echoes the request line.
    Echo { status: String, headers: String },
    /// A 200 with a body that starts and never finishes.
    SlowBody,
    /// Read the request, answer nothing.
    Silent,
    /// 400 with nginx's body when no client certificate was presented, 200 otherwise.
    NginxClientCert,
    /// Speak just enough LDAP to accept a bind, then send half a search entry and hang up.
    LdapCloseMidSearch,
    /// Wait this long, then answer 200 (a slow service, for the benchmark).
    Delayed(Duration),
    /// Answer the first request with these bytes, whatever they are, and close.
    Raw(Vec<u8>),
    /// A 200 announcing 100000 bytes that sends 16 and stalls.
    StalledBody,
    /// `100 Continue` every 100 ms, never a final answer.
    Informational,
    /// The start of a head, then nothing.
    PartialHead,
    /// A MESH-like server: `_ping` answers 200; `POST /messageexchange/{mailbox}` checks the
    /// NHSMESH Authorization header exactly (HMAC, password, timestamp window).
    Mesh(MeshLab),
}

/// What the lab's MESH server accepts. It answers as NHS's MESH API specification and its
/// sandbox (NHSDigital/mesh-sandbox) do: 200 for a good handshake, 400 with a validation list
/// for a missing mex-* header, 403 with the sandbox's words for every refusal (never 404); v2
/// error bodies when the client sends `Accept: application/vnd.mesh.v2+json`, v1 otherwise.
#[derive(Clone, Debug)]
pub struct MeshLab {
    pub mailbox: String,
    pub password: String,
    pub shared_key: String,
    /// The server's clock is this far ahead of the real one (seconds; negative: behind).
    pub clock_offset_secs: i64,
    /// Refuse every handshake with this 403 text (an inactive mailbox, a reused token).
    pub refusal: Option<String>,
    /// Treat this request header as missing (a proxy that strips it): the 400 names it.
    pub stripped_header: Option<String>,
    /// Handshakes received (`serve` must not send one per scheduled run).
    pub handshakes: Arc<std::sync::atomic::AtomicUsize>,
    /// Handshakes that asked for version 2 (`Accept: application/vnd.mesh.v2+json`).
    pub v2_handshakes: Arc<std::sync::atomic::AtomicUsize>,
    /// Tokens seen: a token is valid for one request only.
    pub seen: Arc<Mutex<std::collections::HashSet<String>>>,
}

impl MeshLab {
    pub fn new(mailbox: &str, password: &str, shared_key: &str, clock_offset_secs: i64) -> MeshLab {
        MeshLab {
            mailbox: mailbox.into(),
            password: password.into(),
            shared_key: shared_key.into(),
            clock_offset_secs,
            refusal: None,
            stripped_header: None,
            handshakes: Arc::default(),
            v2_handshakes: Arc::default(),
            seen: Arc::default(),
        }
    }

    /// The answer to a request: status and body. `headers` are (lower-case name, value).
    pub fn answer(&self, method: &str, path: &str, headers: &[(String, String)]) -> (u16, String) {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if method == "GET" && path.ends_with("/_ping") {
            return (200, "{\"ping\": true}".into());
        }
        let Some(requested) = path.strip_prefix("/messageexchange/") else {
            return (404, String::new());
        };
        if method != "POST" && method != "GET" {
            return (405, String::new());
        }
        self.handshakes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let v2 = header("accept").is_some_and(|a| a.contains("vnd.mesh.v2"));
        if v2 {
            self.v2_handshakes
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let refuse = |text: &str| {
            let body = if v2 {
                format!(
                    "{{\"internal_id\": \"lab\", \"detail\": [{{\"event\": \"AUTH\", \"code\": \"403\", \"msg\": \"{text}\"}}]}}"
                )
            } else {
                format!(
                    "{{\"errorEvent\": \"AUTH\", \"errorCode\": \"403\", \"errorDescription\": \"{text}\"}}"
                )
            };
            (403, body)
        };
        for required in ["mex-clientversion", "mex-osname", "mex-osversion"] {
            if header(required).is_none_or(str::is_empty)
                || self.stripped_header.as_deref() == Some(required)
            {
                return (
                    400,
                    format!(
                        "{{\"detail\": [{{\"loc\": [\"header\", \"{required}\"], \"msg\": \"field required\", \"type\": \"value_error.missing\"}}]}}"
                    ),
                );
            }
        }
        if let Some(text) = &self.refusal {
            return refuse(text);
        }
        let Some(token) = header("authorization").and_then(|a| a.strip_prefix("NHSMESH ")) else {
            return refuse("Error reading from Authorization header");
        };
        let parts: Vec<&str> = token.split(':').collect();
        let [mailbox, nonce, count, timestamp, hash] = parts[..] else {
            return refuse("Error reading from Authorization header");
        };
        if mailbox != requested {
            return refuse("Mailbox id does not match token");
        }
        if requested != self.mailbox {
            return refuse("No mailbox matched");
        }
        let now = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(self.clock_offset_secs))
            .unwrap_or_else(|_| jiff::Timestamp::now());
        // The specification: a token more than 2 hours from the server's time is refused.
        let fresh = jiff::Timestamp::strptime("%Y%m%d%H%M%z", format!("{timestamp}+0000"))
            .is_ok_and(|t| now.duration_since(t).as_secs().abs() <= 7200);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.shared_key.as_bytes());
        let message = format!("{mailbox}:{nonce}:{count}:{}:{timestamp}", self.password);
        let expected: String = ring::hmac::sign(&key, message.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if !fresh || hash != expected {
            return refuse("Invalid Authentication Token");
        }
        if let Ok(mut seen) = self.seen.lock()
            && !seen.insert(token.to_string())
        {
            return refuse("Error Duplicated Authentication Token");
        }
        if v2 {
            (200, String::new())
        } else {
            (200, format!("{{\"mailboxId\": \"{mailbox}\"}}"))
        }
    }

    /// The server's Date header (its own, offset clock).
    pub fn date(&self) -> String {
        let now = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(self.clock_offset_secs))
            .unwrap_or_else(|_| jiff::Timestamp::now());
        now.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
    }
}

impl HttpReply {
    pub fn status(status: &str) -> HttpReply {
        HttpReply::Echo {
            status: status.to_string(),
            headers: String::new(),
        }
    }
}

pub struct TlsServerSpec {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub client_auth: ClientAuth,
    pub tls12_only: bool,
    pub reply: HttpReply,
}

impl TlsServerSpec {
    /// Sends leaf + SubCA, no client authentication.
    pub fn new(pki: &Pki, leaf: &Leaf) -> TlsServerSpec {
        TlsServerSpec {
            chain: vec![leaf.cert.clone(), pki.subca.cert.clone()],
            key: leaf.key(),
            client_auth: ClientAuth::None,
            tls12_only: false,
            reply: HttpReply::status("200 OK"),
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Starts a TLS server on `ip` (ephemeral port). After the handshake it answers any request
/// with a small HTTP response and closes.
pub async fn tls_server(ip: IpAddr, spec: TlsServerSpec) -> SocketAddr {
    let builder = rustls::ServerConfig::builder_with_provider(provider());
    let builder = if spec.tls12_only {
        builder
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
    } else {
        builder.with_safe_default_protocol_versions().unwrap()
    };
    let builder = match spec.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Optional(root) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(root).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .allow_unauthenticated()
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        ClientAuth::Required(root) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(root).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(spec.chain, spec.key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reply = spec.reply;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let reply = reply.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let has_client_cert = tls.get_ref().1.peer_certificates().is_some();
                let mut buf = [0u8; 4096];
                let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buf)).await
                else {
                    return;
                };
                if n == 0 {
                    return;
                }
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                let request_line = request.lines().next().unwrap_or("").to_string();
                let simple = |status: &str, headers: &str, body: &str| {
                    format!(
                        "HTTP/1.1 {status}\r\nServer: lab\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
                        body.len()
                    )
                };
                match reply {
                    HttpReply::LdapCloseMidSearch => {
                        // LDAPMessage ::= SEQUENCE { messageID INTEGER, protocolOp ... } (short forms).
                        let id = buf.get(4).copied().unwrap_or(1);
                        let bind_ok = [
                            0x30, 0x0c, 0x02, 0x01, id, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00,
                            0x04, 0x00,
                        ];
                        let _ = tls.write_all(&bind_ok).await;
                        let Ok(n) = tls.read(&mut buf).await else {
                            return;
                        };
                        let id = if n > 4 { buf[4] } else { 2 };
                        // A SearchResultEntry that announces 0x40 bytes and stops after a few.
                        let partial = [
                            0x30, 0x40, 0x02, 0x01, id, 0x64, 0x3b, 0x04, 0x10, b'u', b'n', b'i',
                        ];
                        let _ = tls.write_all(&partial).await;
                        let _ = tls.flush().await;
                        return;
                    }
                    HttpReply::Mesh(mesh) => {
                        let mut words = request_line.split_whitespace();
                        let (method, path) =
                            (words.next().unwrap_or(""), words.next().unwrap_or(""));
                        let headers: Vec<(String, String)> = request
                            .lines()
                            .skip(1)
                            .filter_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                Some((name.trim().to_ascii_lowercase(), value.trim().to_string()))
                            })
                            .collect();
                        let (status, body) = mesh.answer(method, path, &headers);
                        let reason = match status {
                            200 => "OK",
                            400 => "Bad Request",
                            401 => "Unauthorized",
                            403 => "Forbidden",
                            404 => "Not Found",
                            _ => "Error",
                        };
                        let headers = format!(
                            "Date: {}\r\nContent-Type: application/json\r\n",
                            mesh.date()
                        );
                        let response = simple(&format!("{status} {reason}"), &headers, &body);
                        let _ = tls.write_all(response.as_bytes()).await;
                    }
                    HttpReply::Echo { status, headers } => {
                        let response = simple(&status, &headers, &request_line);
                        let _ = tls.write_all(response.as_bytes()).await;
                    }
                    HttpReply::NginxClientCert if !has_client_cert => {
                        let body = "<html><head><title>400 No required SSL certificate was sent</title></head></html>";
                        let response = simple("400 Bad Request", "", body);
                        let _ = tls.write_all(response.as_bytes()).await;
                    }
                    HttpReply::NginxClientCert => {
                        let _ = tls.write_all(simple("200 OK", "", "pong").as_bytes()).await;
                    }
                    HttpReply::SlowBody => {
                        let head = "HTTP/1.1 500 Internal Server Error\r\nServer: lab\r\nContent-Length: 100000\r\n\r\n<soap:Fault>slow";
                        let _ = tls.write_all(head.as_bytes()).await;
                        let _ = tls.flush().await;
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    HttpReply::Delayed(delay) => {
                        tokio::time::sleep(delay).await;
                        let _ = tls.write_all(simple("200 OK", "", "ok").as_bytes()).await;
                    }
                    HttpReply::Silent => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    HttpReply::StalledBody => {
                        let head = "HTTP/1.1 200 OK\r\nServer: lab\r\nContent-Length: 100000\r\n\r\n0123456789abcdef";
                        let _ = tls.write_all(head.as_bytes()).await;
                        let _ = tls.flush().await;
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    HttpReply::Informational => loop {
                        if tls
                            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                            .await
                            .is_err()
                            || tls.flush().await.is_err()
                        {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    },
                    HttpReply::PartialHead => {
                        let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-").await;
                        let _ = tls.flush().await;
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    HttpReply::Raw(bytes) => {
                        let _ = tls.write_all(&bytes).await;
                        let _ = tls.flush().await;
                    }
                }
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

/// `openssl s_server -www` on 127.0.0.1: a TLS stack this project did not write. Stopped when
/// dropped.
pub struct OpensslServer {
    pub port: u16,
    child: std::process::Child,
}

impl OpensslServer {
    /// Serves the chain in `cert` (leaf first) with `key`; `extra` adds s_server flags.
    pub async fn start(cert: &Path, key: &Path, extra: &[&str]) -> OpensslServer {
        let port = unused_port(lo(1)).await;
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the openssl CLI is needed: apt-get install -y openssl (.ci/run does this)");
        let server = OpensslServer { port, child };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(
                started.elapsed().as_secs() < 10,
                "openssl s_server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server
    }
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A path-MTU black hole in front of `upstream`: a connection whose MSS lets full-size segments
/// through is read and never answered (the server's large packets "vanish"); one that advertised
/// a small MSS (at most 1000 bytes) is passed to `upstream` both ways.
pub async fn mtu_black_hole(ip: IpAddr, upstream: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mss = socket2::SockRef::from(&stream)
                    .tcp_mss()
                    .unwrap_or(u32::MAX);
                if mss > 1000 {
                    let mut sink = [0u8; 4096];
                    while let Ok(n) = stream.read(&mut sink).await {
                        if n == 0 {
                            return;
                        }
                    }
                    return;
                }
                if let Ok(mut server) = TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut stream, &mut server).await;
                }
            });
        }
    });
    addr
}

/// A server that starts a TLS handshake and stops: after the ClientHello it sends the first
/// bytes of a ServerHello record, then nothing more (on every connection).
pub async fn partial_handshake_server(ip: IpAddr) -> SocketAddr {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut hello = [0u8; 4096];
                if stream.read(&mut hello).await.unwrap_or(0) == 0 {
                    return;
                }
                // A handshake record announcing 100 bytes, of which 9 arrive.
                let start = [
                    0x16, 0x03, 0x03, 0x00, 0x64, 0x02, 0x00, 0x00, 0x60, 0x03, 0x03, 1, 2, 3,
                ];
                let _ = stream.write_all(&start).await;
                let _ = stream.flush().await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            });
        }
    });
    addr
}

/// A server that accepts TCP connections and never says anything (a TLS black hole).
pub async fn silent_server(ip: IpAddr) -> SocketAddr {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held: Vec<TcpStream> = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// A loopback port with nothing listening (bound, then released).
/// A port on `ip` that is free now, for a server started by another program to bind.
pub async fn unused_port(ip: IpAddr) -> u16 {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A port on `ip` that refuses connections, and stays refused for the rest of the test run: a
/// socket is bound to it and never listens, so no other test (or process) can take the port
/// and answer on it (a port closed after a bind could be, and was).
pub async fn closed_port(ip: IpAddr) -> u16 {
    static HELD: Mutex<Vec<socket2::Socket>> = Mutex::new(Vec::new());
    let domain = match ip {
        IpAddr::V4(_) => socket2::Domain::IPV4,
        IpAddr::V6(_) => socket2::Domain::IPV6,
    };
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None).expect("a socket");
    socket
        .bind(&SocketAddr::new(ip, 0).into())
        .expect("a free port");
    let port = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("a bound address")
        .port();
    HELD.lock().unwrap_or_else(|e| e.into_inner()).push(socket);
    port
}

pub fn lo(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

// ---------------------------------------------------------------------------------------------
// Profiles and the binary

/// A lab: PKI files in a temp dir, a DNS server, and a profile writer.
pub struct Lab {
    pub dir: tempfile::TempDir,
    pub pki: Pki,
    pub dns: DnsServer,
    pub root_file: PathBuf,
    pub subca_file: PathBuf,
}

#[derive(Clone)]
pub struct EndpointSpec {
    pub name: String,
    pub url: String,
    pub mtls: bool,
    /// Extra TOML lines inside the [[endpoint]] table.
    pub extra: String,
}

impl EndpointSpec {
    pub fn new(name: &str, url: impl Into<String>) -> EndpointSpec {
        EndpointSpec {
            name: name.to_string(),
            url: url.into(),
            mtls: false,
            extra: String::new(),
        }
    }

    pub fn with(mut self, toml: &str) -> EndpointSpec {
        self.extra.push_str(toml);
        self.extra.push('\n');
        self
    }
}

impl Lab {
    pub async fn start() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::g2();
        let root_file = dir.path().join("root.pem");
        let subca_file = dir.path().join("subca.pem");
        std::fs::write(&root_file, &pki.root.pem).unwrap();
        std::fs::write(&subca_file, &pki.subca.pem).unwrap();
        let dns = DnsServer::start().await;
        Lab {
            dir,
            pki,
            dns,
            root_file,
            subca_file,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes a profile using the lab DNS and the lab G2 anchors.
    pub fn profile(&self, file: &str, endpoints: &[EndpointSpec], extra: &str) -> PathBuf {
        self.profile_resolving_with(self.dns.addr, file, endpoints, extra)
    }

    /// Writes a profile whose resolver is `resolver` (the lab DNS behind a proxy, say).
    pub fn profile_resolving_with(
        &self,
        resolver: SocketAddr,
        file: &str,
        endpoints: &[EndpointSpec],
        extra: &str,
    ) -> PathBuf {
        let mut text = format!(
            "name = \"lab\"\ndescription = \"test lab\"\n{extra}\n[dns]\nservers = [\"{}\"]\n# The lab lives on loopback.\nallow_loopback = true\n[trust]\nca_files = [\"{}\", \"{}\"]\n",
            resolver,
            self.root_file.display(),
            self.subca_file.display()
        );
        for e in endpoints {
            text.push_str(&format!(
                "\n[[endpoint]]\nname = \"{}\"\nurl = \"{}\"\nmtls = {}\n{}",
                e.name, e.url, e.mtls, e.extra
            ));
        }
        self.write(file, &text)
    }

    /// Serves `host` from a TLS server on `ip` (a leaf for `host` under the lab SubCA, sent with
    /// the SubCA), shaped by `configure`, and points the lab DNS at it.
    pub async fn serve(
        &self,
        host: &str,
        ip: IpAddr,
        configure: impl FnOnce(&mut TlsServerSpec),
    ) -> SocketAddr {
        let leaf = self.pki.leaf(&LeafSpec::server(host));
        let mut spec = TlsServerSpec::new(&self.pki, &leaf);
        configure(&mut spec);
        let addr = tls_server(ip, spec).await;
        self.dns.point(host, &[ip]);
        addr
    }

    /// Writes a client identity (leaf + SubCA chain, key) and returns (cert, key) paths.
    pub fn client_identity(&self, pki: &Pki, fqdn: &str) -> (PathBuf, PathBuf) {
        self.identity_with(pki, &LeafSpec::client(fqdn))
    }

    /// Writes an identity shaped by `spec`; the key file is private (0600).
    pub fn identity_with(&self, pki: &Pki, spec: &LeafSpec) -> (PathBuf, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let fqdn = spec.cn.as_str();
        let leaf = pki.leaf(spec);
        let cert = self.write(
            &format!("{fqdn}.pem"),
            &format!("{}{}", leaf.pem, pki.subca.pem),
        );
        let key = self.write(&format!("{fqdn}.key"), &leaf.key_pem);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        (cert, key)
    }
}

/// The result of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// Set once stdout has been validated against its document's JSON Schema.
    validated: std::sync::OnceLock<()>,
}

impl Run {
    /// stdout as JSON, validated (once per run) against the JSON Schema its `schema` field names.
    pub fn json(&self) -> Value {
        let value: Value = serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        });
        self.validated.get_or_init(|| validate_document(&value));
        value
    }

    /// Checks of one kind for one endpoint.
    pub fn checks(&self, endpoint: &str, kind: &str) -> Vec<Value> {
        self.json()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["endpoint"] == endpoint && c["kind"] == kind)
            .cloned()
            .collect()
    }

    /// How long the binary says one check took (its `duration_ms`): what "no fixed wait" and "one
    /// timeout, not two" are asserted on, against the run's own timeout, instead of the wall
    /// clock around the process (which a loaded machine stretches by seconds).
    pub fn took(&self, endpoint: &str, kind: &str) -> Duration {
        let check = self.check(endpoint, kind);
        Duration::from_millis(check["duration_ms"].as_u64().expect("duration_ms"))
    }

    /// How long the binary says the whole run took (the report's `duration_ms`).
    pub fn run_took(&self) -> Duration {
        Duration::from_millis(self.json()["duration_ms"].as_u64().expect("duration_ms"))
    }

    /// The single check of one kind for one endpoint.
    pub fn check(&self, endpoint: &str, kind: &str) -> Value {
        let checks = self.checks(endpoint, kind);
        assert_eq!(
            checks.len(),
            1,
            "expected one {kind} check for {endpoint}: {checks:#?}"
        );
        checks.into_iter().next().unwrap()
    }
}

/// The `int-check` binary cargo built beside the running test or bench
/// (`target/<profile>/deps/<test>` -> `target/<profile>/int-check`).
pub fn binary_path() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    profile_dir.join("int-check")
}

pub fn binary() -> Command {
    let mut cmd = Command::new(binary_path());
    // Hermetic: an empty environment (no HTTPS_PROXY, INT_CHECK_*, CI or colour settings from
    // the machine running the tests), no colour, and not the machine's /etc/hosts.
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("INT_CHECK_HOSTS_FILE", "/nonexistent/hosts");
    cmd
}

/// Checks a machine document against the JSON Schema of the document its `schema` field names,
/// with a standard validator (Python's `jsonschema`, Draft 2020-12), and panics on a mismatch.
pub fn validate_document(value: &Value) {
    use int_check::documents::Document;
    let id = value["schema"].as_str().unwrap_or_default();
    let document = Document::ALL
        .into_iter()
        .find(|d| d.id() == id)
        .unwrap_or_else(|| panic!("`{id}` is not a document int-check publishes: {value:#}"));
    validate_against(&document.json_schema(), value);
}

/// Validates `value` against `schema` with Python's `jsonschema` (and the schema itself first).
pub fn validate_against(schema: &Value, value: &Value) {
    use std::io::Write;
    // Without Python's jsonschema the rest of the test still runs; this step says it skipped.
    if !needs::step_met("its JSON Schema validation", &[needs::Need::Jsonschema]) {
        return;
    }
    const SCRIPT: &str = "import json, sys\n\
        from jsonschema import Draft202012Validator as V\n\
        schema, value = json.load(sys.stdin)\n\
        V.check_schema(schema)\n\
        errors = sorted(V(schema).iter_errors(value), key=lambda e: list(e.absolute_path))\n\
        for e in errors: print('/'.join(map(str, e.absolute_path)) + ': ' + e.message)\n\
        sys.exit(1 if errors else 0)\n";
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed to validate JSON documents");
    let input = serde_json::to_vec(&(schema, value)).expect("JSON");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("the validator reads its input");
    let output = child.wait_with_output().expect("the validator runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'jsonschema'"),
        "the JSON Schema tests need Python's jsonschema: python3 -m pip install jsonschema (.ci/run does this)"
    );
    assert!(
        output.status.success(),
        "the document does not match its schema {}:\n{}{stderr}\n{value:#}",
        schema["title"],
        String::from_utf8_lossy(&output.stdout)
    );
}

/// Runs the binary off the async runtime (the lab servers keep running meanwhile).
pub async fn run(args: &[&str]) -> Run {
    run_with(binary(), args).await
}

pub async fn run_with(mut cmd: Command, args: &[&str]) -> Run {
    cmd.args(args);
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let output = cmd.output().expect("int-check runs");
        Run {
            validated: std::sync::OnceLock::new(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    })
    .await
    .unwrap()
}

/// (status, reason) of a JSON check, for compact assertions.
pub fn status(check: &Value) -> (&str, &str) {
    (
        check["status"].as_str().unwrap(),
        check["reason"].as_str().unwrap_or(""),
    )
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A minimal HTTPS proxy (HTTP CONNECT) on loopback; returns its address and a log of the
/// CONNECT targets it was asked for.
pub async fn connect_proxy() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    match client.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let Some(target) = head
                    .strip_prefix("CONNECT ")
                    .and_then(|r| r.split_whitespace().next())
                else {
                    let _ = client
                        .write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                        .await;
                    return;
                };
                seen.lock().unwrap().push(target.to_string());
                // The lab's names resolve through the lab DNS only: the test maps them for us.
                let Some(upstream) = PROXY_MAP.lock().unwrap().get(target).copied() else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (addr, log)
}

/// host:port -> address, for the lab proxy (which does not use the lab DNS).
pub static PROXY_MAP: std::sync::LazyLock<Mutex<HashMap<String, SocketAddr>>> =
    std::sync::LazyLock::new(|| Mutex::new(HashMap::new()));
