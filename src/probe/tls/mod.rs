//! TLS phase: a handshake over the connected socket that trusts only the profile's anchors.
//!
//! Our own `ServerCertVerifier` validates the chain with webpki, names every problem, and records
//! the presented chain even when it rejects it. A recording client-certificate resolver notes
//! whether the server asked for a client certificate, and which CAs it accepts.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{AlertDescription, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

pub mod chain;
pub mod fetched_crls;
pub mod rollover;
pub mod stall;
pub mod suites;

pub use chain::{Assessment, chain_cert, for_name, judge, judge_chain, short_name};

use super::wire_bytes::{Recorded, not_tls};
use super::{ProbeContext, ProbeFailure};
use crate::findings::{Check, CheckKind};
use crate::pki::TrustStore;
use crate::profile::MinTls;
use crate::reasons::Reason;

/// The shortest wait for a TLS 1.3 server's verdict on our client certificate.
const MIN_ALERT_WAIT: Duration = Duration::from_millis(10);

/// What every TLS connection of a run shares: provider, versions, identity, clock.
pub struct TlsSetup {
    provider: Arc<CryptoProvider>,
    min_tls: MinTls,
    identity: Option<Arc<CertifiedKey>>,
    expiry_warning: Duration,
    /// Evaluate certificate dates at this instant instead of now.
    at: Option<UnixTime>,
    verdicts: Arc<Verdicts>,
}

/// Chain verdicts already reached in this run. The same chain for the same name under the same
/// anchors, seen on many endpoints (a host with several paths, a directory listing thousands),
/// is verified once and its findings shared; each handshake still checks the server's signature
/// over the handshake, which proves it holds the certificate's key.
#[derive(Debug, Default)]
pub struct Verdicts {
    seen: Mutex<HashMap<[u8; 32], Arc<VerdictSlot>>>,
}

/// One chain's verdict: filled by the first handshake that sees the chain.
type VerdictSlot = OnceLock<Arc<Assessment>>;

impl Verdicts {
    /// The verdict for `key`, reached by `assess` once; callers with the same key wait for it.
    fn get_or_assess(&self, key: [u8; 32], assess: impl FnOnce() -> Assessment) -> Arc<Assessment> {
        let slot = match self.seen.lock() {
            Ok(mut seen) => seen.entry(key).or_default().clone(),
            Err(_) => return Arc::new(assess()),
        };
        slot.get_or_init(|| Arc::new(assess())).clone()
    }
}

/// What decides a chain's verdict (before the name is checked): the anchors, the second, and
/// every certificate sent.
fn verdict_key(trust: &Arc<TrustStore>, now: UnixTime, chain: &[&CertificateDer<'_>]) -> [u8; 32] {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    digest.update(&(Arc::as_ptr(trust) as usize).to_le_bytes());
    digest.update(&now.as_secs().to_le_bytes());
    for cert in chain {
        digest.update(&cert.len().to_le_bytes());
        digest.update(cert);
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.finish().as_ref());
    key
}

impl TlsSetup {
    pub fn new(
        provider: Arc<CryptoProvider>,
        min_tls: MinTls,
        identity: Option<Arc<CertifiedKey>>,
        expiry_warning_days: u32,
        at: Option<UnixTime>,
    ) -> TlsSetup {
        TlsSetup {
            provider,
            min_tls,
            identity,
            expiry_warning: Duration::from_secs(u64::from(expiry_warning_days) * 86_400),
            at,
            verdicts: Arc::default(),
        }
    }

    /// The instant certificate dates are judged at (`--at`, else now).
    pub fn now(&self) -> UnixTime {
        self.at.unwrap_or_else(UnixTime::now)
    }

    pub fn has_identity(&self) -> bool {
        self.identity.is_some()
    }

    /// A client configuration for one connection, with fresh recorders.
    pub fn client_config(&self, trust: &Arc<TrustStore>) -> (ClientConfig, Arc<Recorder>) {
        let recorder = Arc::new(Recorder {
            trust: trust.clone(),
            provider: self.provider.clone(),
            identity: self.identity.clone(),
            expiry_warning: self.expiry_warning,
            at: self.at,
            verdicts: Some(self.verdicts.clone()),
            assessment: Mutex::new(None),
            client_auth: Mutex::new(None),
        });
        let versions: &[&'static rustls::SupportedProtocolVersion] = match self.min_tls {
            MinTls::V1_2 => &[&rustls::version::TLS13, &rustls::version::TLS12],
            MinTls::V1_3 => &[&rustls::version::TLS13],
        };
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(versions)
            .expect("ring supports TLS 1.2 and 1.3")
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_client_cert_resolver(recorder.clone());
        // Every probe must see the full handshake, never a resumed one.
        config.resumption = Resumption::disabled();
        (config, recorder)
    }
}

/// Records what the handshake showed; also acts as verifier and client-certificate resolver.
#[derive(Debug)]
pub struct Recorder {
    trust: Arc<TrustStore>,
    provider: Arc<CryptoProvider>,
    identity: Option<Arc<CertifiedKey>>,
    expiry_warning: Duration,
    at: Option<UnixTime>,
    /// The run's shared verdicts (none for a one-off judgement).
    verdicts: Option<Arc<Verdicts>>,
    assessment: Mutex<Option<Arc<Assessment>>>,
    /// Set when the server sent a CertificateRequest: the CA names it accepts.
    client_auth: Mutex<Option<Vec<String>>>,
}

impl Recorder {
    pub fn assessment(&self) -> Option<Arc<Assessment>> {
        self.assessment.lock().ok()?.clone()
    }

    pub fn client_cert_requested(&self) -> Option<Vec<String>> {
        self.client_auth.lock().ok()?.clone()
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let now = self.at.unwrap_or(now);
        let assessment = match &self.verdicts {
            Some(verdicts) => {
                let chain: Vec<&CertificateDer<'_>> =
                    std::iter::once(end_entity).chain(intermediates).collect();
                let key = verdict_key(&self.trust, now, &chain);
                let shared =
                    verdicts.get_or_assess(key, || self.assess(end_entity, intermediates, now));
                for_name(shared, end_entity, server_name)
            }
            None => for_name(
                Arc::new(self.assess(end_entity, intermediates, now)),
                end_entity,
                server_name,
            ),
        };
        let trusted = assessment.problem.is_none();
        if let Ok(mut slot) = self.assessment.lock() {
            *slot = Some(assessment);
        }
        if trusted {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl Recorder {
    /// The chain's verdict again, with revocation lists besides the trust store's (fetched from
    /// distribution points after the handshake), and the name check.
    pub fn reassess(
        &self,
        lists: &[Arc<crate::pki::crl::LoadedCrl>],
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
    ) -> Arc<Assessment> {
        let mut trust = (*self.trust).clone();
        trust.crls.extend(lists.iter().cloned());
        let now = self.at.unwrap_or_else(UnixTime::now);
        let assessment = chain::assess(
            crate::pki::Against::new(&trust, &self.provider, now),
            self.expiry_warning,
            end_entity,
            intermediates,
        );
        for_name(Arc::new(assessment), end_entity, server_name)
    }

    /// The chain's verdict with this endpoint's anchors (chain::assess).
    fn assess(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Assessment {
        chain::assess(
            crate::pki::Against::new(&self.trust, &self.provider, now),
            self.expiry_warning,
            end_entity,
            intermediates,
        )
    }
}

impl ResolvesClientCert for Recorder {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let names = root_hint_subjects
            .iter()
            .map(|dn| dn_to_string(dn))
            .collect();
        if let Ok(mut slot) = self.client_auth.lock() {
            *slot = Some(names);
        }
        self.identity.clone()
    }

    fn has_certs(&self) -> bool {
        // Always true, so that rustls tells us about every CertificateRequest.
        true
    }
}

/// Decodes a CA name hint; rustls passes the DER without the outer SEQUENCE.
fn dn_to_string(dn: &[u8]) -> String {
    use x509_parser::prelude::FromDer;
    use x509_parser::x509::X509Name;
    if let Ok((_, name)) = X509Name::from_der(dn) {
        return name.to_string();
    }
    let mut wrapped = vec![0x30];
    let len = dn.len();
    if len < 128 {
        wrapped.push(len as u8);
    } else if len < 256 {
        wrapped.extend([0x81, len as u8]);
    } else {
        wrapped.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    wrapped.extend_from_slice(dn);
    match X509Name::from_der(&wrapped) {
        Ok((_, name)) => name.to_string(),
        Err(_) => "(undecodable name)".to_string(),
    }
}

/// A verified TLS connection the application phase can use instead of connecting again.
pub struct Session {
    pub stream: tokio_rustls::client::TlsStream<Recorded>,
    /// Whether the server asked for a client certificate during the handshake.
    pub client_cert_requested: bool,
}

/// A fresh TCP connection and TLS session to `address`, judged exactly as the TCP and TLS phases
/// judge them (the same reasons: `tcp.timeout`, `tls.client_cert_required`, a chain's verdict, a
/// path-MTU stall): the one connect-and-classify path for whatever opens TLS outside the phase
/// chain (the directory look-ups of `sds`, registration and discovery).
pub async fn connect(ctx: &ProbeContext<'_>, address: SocketAddr) -> Result<Session, ProbeFailure> {
    let stream = match ctx.route.proxy() {
        // `address` is then the proxy's.
        Some(proxy) => super::proxy::open(ctx, proxy, address).await?,
        None => {
            let (stream, tcp_check) = super::tcp::connect(ctx, address).await;
            stream.ok_or_else(|| failure_of(tcp_check))?
        }
    };
    match check(ctx, address, stream, true).await {
        (check, Some(session)) if check.status != crate::findings::Status::Fail => Ok(session),
        (check, _) => Err(failure_of(check)),
    }
}

/// A handshake failure through a proxy's tunnel, said for what it is there: a chain from a CA
/// the profile does not trust is the proxy re-signing TLS (`tls.intercepted`, naming the CA);
/// a connection closed mid-handshake was closed by the proxy or the host behind it.
fn through_proxy(
    failure: ProbeFailure,
    recorder: &Recorder,
    proxy: &crate::profile::ProxyUrl,
    error: &std::io::Error,
) -> ProbeFailure {
    let untrusted = matches!(
        failure.reason,
        Reason::TlsUntrustedIssuer
            | Reason::TlsWrongIntermediate
            | Reason::TlsSelfSigned
            | Reason::TlsMissingIntermediate
    );
    // The CA that issued the certificate, and the top of what was sent when that is another.
    let signers = recorder.assessment().and_then(|a| {
        let (leaf, top) = (a.shown.first()?, a.shown.last()?);
        Some(match top.issuer != leaf.issuer {
            true => format!("\"{}\" (under \"{}\")", leaf.issuer, top.issuer),
            false => format!("\"{}\"", leaf.issuer),
        })
    });
    match (untrusted, signers) {
        (true, Some(signers)) => ProbeFailure {
            reason: Reason::TlsIntercepted,
            message: format!(
                "through the proxy {}, the certificate is issued by {signers}, which this profile does not trust: the proxy (or a device behind it) intercepts TLS and re-signs the chain with its own CA",
                proxy.shown(),
            ),
            raw: failure.raw.or(Some(failure.message)),
        },
        _ if failure.reason == Reason::TlsHandshakeFailed
            && matches!(
                error.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
            ) =>
        {
            ProbeFailure {
                message: format!(
                    "the tunnel through the proxy {} closed during the TLS handshake: the proxy, or the host behind it, ended the connection after CONNECT succeeded",
                    proxy.shown()
                ),
                ..failure
            }
        }
        _ => failure,
    }
}

/// A failed phase's check as the failure of whatever needed it.
fn failure_of(check: Check) -> ProbeFailure {
    ProbeFailure {
        reason: check.reason.unwrap_or(Reason::TlsHandshakeFailed),
        message: check.message,
        raw: check.details.error.clone(),
    }
}

/// Runs the TLS phase over a connected socket and returns its check, and the connection when
/// the phase held and nothing was read from it.
///
/// `reads_next`: a phase (HTTP, LDAP) reads from this connection next, and will meet a TLS 1.3
/// server's verdict on our client certificate there; without one, this phase waits for it.
pub async fn check(
    ctx: &ProbeContext<'_>,
    address: SocketAddr,
    stream: TcpStream,
    reads_next: bool,
) -> (Check, Option<Session>) {
    let (setup, timeout, host) = (ctx.tls, ctx.timeout, ctx.endpoint.url.host.as_str());
    let started = Instant::now();
    let check = ctx.check(CheckKind::Tls, address);
    let server_name = match ServerName::try_from(host.to_string()) {
        Ok(name) => name,
        Err(_) => {
            let message = format!("`{host}` is not a valid TLS server name");
            return (check.fail(Reason::TlsHandshakeFailed, message), None);
        }
    };
    let (config, recorder) = setup.client_config(ctx.trust);
    let connector = TlsConnector::from(Arc::new(config));
    let local = stream.local_addr().ok();
    let (stream, first_bytes) = Recorded::new(stream);
    // What the kernel received is asked while a stalled connection is still open; the
    // connection is closed at the end of this block (a server that serves one connection at a
    // time must be free for the small-packet probe below).
    let (handshake, kernel) = {
        let mut connecting = std::pin::pin!(connector.connect(server_name.clone(), stream));
        let handshake = tokio::time::timeout(timeout, &mut connecting).await;
        let kernel = match (&handshake, local) {
            (Err(_), Some(local)) => super::tcp_info::received(local, address),
            _ => None,
        };
        (handshake, kernel)
    };
    let handshake_time = started.elapsed();
    let sent_cert = setup.has_identity();

    let mut tls = match handshake {
        Err(_) => {
            let check = describe(check, &recorder, sent_cert).took(handshake_time);
            // A banner (SSH, SMTP) then silence is a wrong port, not a slow TLS server.
            if let Some(what) = not_tls(&first_bytes.get()) {
                return (check.fail(Reason::TlsNotTls, what), None);
            }
            // A path-MTU black hole passes small packets (our ClientHello) and drops the
            // server's full-size ones (its certificate flight): the same handshake with the
            // server's packets kept small tells it from a dead server.
            let stall = stall::Stall {
                reply: &first_bytes.get(),
                received: first_bytes.total(),
                kernel,
                timeout,
            };
            // Through a proxy the small-packet retry would reach the proxy, not the host.
            let small_got_through = ctx.route.proxy().is_none()
                && stall::small_packets_get_through(
                    setup,
                    ctx.trust,
                    address,
                    &server_name,
                    timeout,
                )
                .await;
            let (reason, message) = stall.verdict(small_got_through);
            return (check.fail(reason, message), None);
        }
        Ok(Err(error)) => {
            let check = describe(check, &recorder, sent_cert).took(handshake_time);
            let failure = match not_tls(&first_bytes.get()) {
                Some(what) => ProbeFailure::new(Reason::TlsNotTls, what).raw(&error),
                None => {
                    let mut failure = classify_failure(&error, &recorder, sent_cert, false);
                    // Refused before any certificate was asked for: find out what the server
                    // would accept of the suites NHS lists, instead of guessing.
                    if matches!(
                        failure.reason,
                        Reason::TlsHandshakeFailed | Reason::TlsProtocolVersion
                    ) && recorder.client_cert_requested().is_none()
                        && recorder.assessment().is_none()
                        && ctx.route.proxy().is_none()
                    {
                        let found = suites::accepted(address, Some(host), timeout).await;
                        if let Some(named) = suite_failure(&found) {
                            failure = named.raw(&error);
                        }
                    }
                    if too_large(&error) {
                        failure.message.push_str(&format!(
                            " ({} bytes had arrived when the client stopped; the limit is 65535 bytes per handshake message)",
                            first_bytes.total()
                        ));
                    }
                    match ctx.route.proxy() {
                        Some(proxy) => through_proxy(failure, &recorder, proxy, &error),
                        None => failure,
                    }
                }
            };
            return (check.failed(failure), None);
        }
        Ok(Ok(tls)) => tls,
    };

    let (_, session) = tls.get_ref();
    let version = session.protocol_version();
    let suite = session.negotiated_cipher_suite();
    let is_tls13 = version == Some(rustls::ProtocolVersion::TLSv1_3);
    let mut check = describe(check, &recorder, sent_cert).with_detail(|d| {
        d.round_trips = Some(if is_tls13 { 1 } else { 2 });
        d.tls().protocol = Some(version.map(protocol_name).unwrap_or("unknown").to_string());
        d.tls().cipher_suite = suite.map(|s| cipher_suite_name(s.suite()));
    });

    // TLS 1.3 servers judge our certificate after we have finished our side: a rejection
    // arrives as an alert on the first read. When the HTTP or LDAP phase reads next, it meets
    // the alert there at no cost (and the engine reports it as this phase's finding). Only
    // when nothing reads next does this phase wait, for one round trip (the handshake's own
    // time, which is one round trip under TLS 1.3) after our Finished.
    let mut clean = true;
    if is_tls13 && recorder.client_cert_requested().is_some() && !reads_next {
        let remaining = timeout.saturating_sub(started.elapsed());
        let grace = handshake_time.max(MIN_ALERT_WAIT).min(remaining);
        tracing::debug!(
            ?grace,
            "waiting for the server's verdict on the client certificate"
        );
        let mut buf = [0u8; 1];
        match tokio::time::timeout(grace, tls.read(&mut buf)).await {
            Err(_) => {}
            // The server spoke first: fine for TLS, but the stream is no longer a clean start.
            Ok(Ok(1..)) => clean = false,
            Ok(Ok(0)) => {
                check = check.took(started.elapsed());
                let (reason, what) = if sent_cert {
                    (
                        Reason::TlsClientCertRejected,
                        "closed the connection after receiving our client certificate",
                    )
                } else {
                    (
                        Reason::TlsClientCertRequired,
                        "asked for a client certificate and closed the connection when none was sent",
                    )
                };
                return (check.fail(reason, format!("the server {what}")), None);
            }
            Ok(Err(error)) => {
                check = check.took(started.elapsed());
                let failure = classify_failure(&error, &recorder, sent_cert, true);
                return (check.failed(failure), None);
            }
        }
    }
    let check = check.took(handshake_time);
    let mut summary = pass_summary(&recorder, version, sent_cert);
    if ctx.endpoint.mtls && !sent_cert {
        // SDS expects a certificate, yet public transcripts show sessions without one: say so,
        // without failing (the HTTP or LDAP phase shows whether the service itself minds).
        summary.push_str("; the endpoint expects a client certificate, none is configured, and the server accepted the session without one");
    }
    // Revocation lists the chain names, when the profile asks (after the handshake: fetching
    // is not something the verifier inside it may wait for).
    let presented: Vec<CertificateDer<'static>> =
        match ctx.trust.revocation != crate::profile::RevocationMode::Off {
            true => tls
                .get_ref()
                .1
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
                .unwrap_or_default(),
            false => Vec::new(),
        };
    let session = clean.then(|| Session {
        stream: tls,
        client_cert_requested: recorder.client_cert_requested().is_some(),
    });
    let check = match recorder.assessment() {
        Some(assessment) if !presented.is_empty() => {
            // Boxed: the fetch is a large state machine, and most runs never make one.
            let (assessment, asked) = Box::pin(fetched_crls::judge(
                ctx,
                &recorder,
                assessment,
                &presented,
                &server_name,
            ))
            .await;
            let check = match asked {
                Some(asked) => check.with_detail(|d| d.tls().revocation_lists = Some(asked)),
                None => check,
            };
            chain::verdict_check(check, &assessment, summary)
        }
        Some(assessment) => chain::verdict_check(check, &assessment, summary),
        None => check.pass(summary),
    };
    // A revoked chain (revocation = "fail") is a failed phase: its connection carries nothing.
    let session = session.filter(|_| check.status != crate::findings::Status::Fail);
    (check, session)
}

/// Adds what the handshake showed (chain, client-certificate request) to a check.
fn describe(mut check: Check, recorder: &Recorder, sent_cert: bool) -> Check {
    if let Some(assessment) = recorder.assessment() {
        check = check.with_detail(|d| d.tls().chain = Some(assessment.shown.clone()));
    }
    let requested = recorder.client_cert_requested();
    check.with_detail(|d| {
        d.tls().client_cert_requested = Some(requested.is_some());
        if let Some(names) = requested {
            d.tls().acceptable_ca_names = Some(names);
            d.tls().client_cert_sent = Some(sent_cert);
        }
    })
}

fn pass_summary(
    recorder: &Recorder,
    version: Option<rustls::ProtocolVersion>,
    sent_cert: bool,
) -> String {
    let mut parts = vec![version.map(protocol_name).unwrap_or("TLS").to_string()];
    if let Some(certificate) = recorder
        .assessment()
        .and_then(|a| chain::certificate_summary(&a))
    {
        parts.push(certificate);
    }
    match (recorder.client_cert_requested(), sent_cert) {
        (Some(_), true) => parts.push("client certificate requested and accepted".into()),
        (Some(_), false) => parts.push("client certificate requested (optional; none sent)".into()),
        (None, _) => {}
    }
    parts.join(", ")
}

fn protocol_name(version: rustls::ProtocolVersion) -> &'static str {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3",
        rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2",
        rustls::ProtocolVersion::TLSv1_1 => "TLS 1.1",
        rustls::ProtocolVersion::TLSv1_0 => "TLS 1.0",
        _ => "TLS",
    }
}

/// What the probing ClientHellos found, when it explains a refused handshake: only suites
/// rustls does not speak, or only a TLS version below 1.2.
fn suite_failure(found: &suites::Accepted) -> Option<ProbeFailure> {
    let version = found.version.map(suites::version_name).unwrap_or("TLS 1.2");
    if let Some(v) = found.version.filter(|v| *v < 0x0303) {
        return Some(ProbeFailure::new(
            Reason::TlsProtocolVersion,
            format!(
                "the server speaks only {}; NHS services require TLS 1.2 (NRL/SSP and GP Connect security guidance), and this tool offers nothing older",
                suites::version_name(v)
            ),
        ));
    }
    if found.only_unspoken() {
        return Some(ProbeFailure::new(
            Reason::TlsNoCommonSuite,
            format!(
                "the server accepts none of the cipher suites this tool speaks; of the suites NHS's security guidance lists it accepts {} ({version}), which OpenSSL-based clients offer: they can connect, rustls-based ones (this tool among them) cannot",
                found.names().join(", ")
            ),
        ));
    }
    None
}

/// Names a failed handshake, or a failed first read after one (`after_handshake`).
fn classify_failure(
    error: &std::io::Error,
    recorder: &Recorder,
    sent_cert: bool,
    after_handshake: bool,
) -> ProbeFailure {
    if let Some(assessment) = recorder.assessment()
        && let Some(problem) = &assessment.problem
    {
        return problem.clone();
    }
    let asked = recorder.client_cert_requested().is_some();
    let rustls_error = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    let (reason, message) = match rustls_error {
        Some(rustls::Error::AlertReceived(alert)) => {
            classify_alert(*alert, asked, sent_cert, after_handshake)
        }
        Some(rustls::Error::PeerIncompatible(_)) => (
            Reason::TlsProtocolVersion,
            "the server offers no TLS version or cipher suite this client accepts; Spine requires TLS 1.2 or later".to_string(),
        ),
        Some(other) => (Reason::TlsHandshakeFailed, rustls_error_words(other)),
        None => match error.kind() {
            ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe => {
                if asked && !sent_cert {
                    (
                        Reason::TlsClientCertRequired,
                        "the server asked for a client certificate and dropped the connection when none was sent".into(),
                    )
                } else if asked {
                    // The alert, if any, was lost in the reset: the server's last act was to
                    // receive our certificate.
                    (
                        Reason::TlsClientCertRejected,
                        "the server dropped the connection right after receiving our client certificate: it rejected it".into(),
                    )
                } else {
                    (
                        Reason::TlsHandshakeFailed,
                        format!(
                            "the server closed the connection during the handshake ({}): not TLS on this port, or a proxy in the way",
                            crate::profile::io_reason(error)
                        ),
                    )
                }
            }
            _ => (Reason::TlsHandshakeFailed, crate::profile::io_reason(error)),
        },
    };
    ProbeFailure::new(reason, message).raw(error)
}

/// A cipher suite by its IANA name (`TLS13_AES_256_GCM_SHA384`), or its number when rustls has
/// no name for it.
fn cipher_suite_name(suite: rustls::CipherSuite) -> String {
    suite
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("cipher suite 0x{:04x}", u16::from(suite)))
}

/// An alert by its name in the TLS specifications (RFC 8446 section 6), e.g. `unknown_ca`.
pub fn alert_name(alert: AlertDescription) -> String {
    let Some(variant) = alert.as_str() else {
        return format!("alert ({})", u8::from(alert));
    };
    // rustls names the variants in CamelCase (`UnknownCA`); the RFC in snake_case.
    let mut name = String::with_capacity(variant.len() + 4);
    let chars: Vec<char> = variant.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let after_lower = i > 0 && chars[i - 1].is_ascii_lowercase();
        if c.is_ascii_uppercase() && after_lower {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

fn too_large(error: &std::io::Error) -> bool {
    matches!(
        error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::HandshakePayloadTooLarge
                | rustls::InvalidMessage::MessageTooLarge
        ))
    )
}

/// A rustls error in words a person can act on (the error itself goes into the details).
fn rustls_error_words(error: &rustls::Error) -> String {
    use rustls::Error as E;
    use rustls::InvalidMessage as M;
    match error {
        E::InvalidMessage(M::HandshakePayloadTooLarge | M::MessageTooLarge) => {
            "the server sent a handshake message (usually its certificate chain) larger than the 64 KiB a TLS client accepts: the server sends too many or too large certificates".to_string()
        }
        E::InvalidMessage(_) => {
            "the server sent a message that is not valid TLS: a broken TLS implementation, or something on the path rewriting the traffic".to_string()
        }
        E::PeerMisbehaved(_) => {
            "the server broke the TLS protocol during the handshake (a broken TLS implementation or a middlebox)".to_string()
        }
        E::NoCertificatesPresented => "the server sent no certificate".to_string(),
        E::DecryptError => {
            "a handshake message did not decrypt: the connection was altered on the way, or the server is broken".to_string()
        }
        E::InvalidCertificate(_) => "the server's certificate was rejected".to_string(),
        E::PeerIncompatible(_) => {
            "the server offers no TLS version or cipher suite this client accepts; Spine requires TLS 1.2 or later".to_string()
        }
        _ => "the TLS handshake failed".to_string(),
    }
}

fn classify_alert(
    alert: AlertDescription,
    asked: bool,
    sent_cert: bool,
    after_handshake: bool,
) -> (Reason, String) {
    use AlertDescription as A;
    let name = alert_name(alert);
    // In TLS 1.3 our side of the handshake is over when the server judges our certificate,
    // so any alert after it is about the certificate. Servers (rustls, OpenSSL) answer a
    // certificate whose signature does not verify with decrypt_error.
    let about_our_cert = (asked && after_handshake)
        || (asked && sent_cert && alert == A::DecryptError)
        || matches!(
            alert,
            A::CertificateRequired
                | A::BadCertificate
                | A::UnknownCA
                | A::CertificateUnknown
                | A::CertificateExpired
                | A::CertificateRevoked
                | A::UnsupportedCertificate
                | A::AccessDenied
        );
    match alert {
        A::ProtocolVersion => (
            Reason::TlsProtocolVersion,
            "the server refused every TLS version offered (alert protocol_version)".into(),
        ),
        _ if about_our_cert && !sent_cert => (
            Reason::TlsClientCertRequired,
            format!("the server requires a client certificate and none is configured (alert {name})"),
        ),
        _ if about_our_cert => (
            Reason::TlsClientCertRejected,
            format!("the server rejected our client certificate (alert {name})"),
        ),
        A::HandshakeFailure if asked && !sent_cert => (
            Reason::TlsClientCertRequired,
            "the server asked for a client certificate and failed the handshake when none was sent (alert handshake_failure)".into(),
        ),
        _ => (
            Reason::TlsHandshakeFailed,
            format!("the server ended the handshake with the TLS alert {name}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use rustls::AlertDescription as A;

    #[test]
    fn alerts_and_suites_have_their_rfc_names() {
        assert_eq!(super::alert_name(A::UnknownCA), "unknown_ca");
        assert_eq!(super::alert_name(A::BadCertificate), "bad_certificate");
        assert_eq!(
            super::alert_name(A::CertificateRequired),
            "certificate_required"
        );
        assert_eq!(super::alert_name(A::Unknown(200)), "alert (200)");
        assert_eq!(
            super::cipher_suite_name(rustls::CipherSuite::TLS13_AES_256_GCM_SHA384),
            "TLS13_AES_256_GCM_SHA384"
        );
        assert_eq!(
            super::cipher_suite_name(rustls::CipherSuite::Unknown(0xabcd)),
            "cipher suite 0xabcd"
        );
    }
}
