//! A chain's verdict, without a connection: the TLS check and `certs judge` share it. webpki
//! validates the path against the profile's anchors; on top of it, what webpki leaves out or
//! answers too coarsely: the leaf's own key and key usage, names found only in the CN (held to
//! the name constraints), expiry of every element, and each refusal named with the certificate
//! at fault and the rule it breaks.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::findings::ChainCert;
use crate::pki::{CertInfo, TrustStore, conformance, legacy, rfc3339};
use crate::probe::ProbeFailure;
use crate::reasons::Reason;

/// The verdict on a presented chain.
#[derive(Clone, Debug)]
pub struct Assessment {
    pub chain: Vec<CertInfo>,
    /// The DNS name constraints of every CA above the leaf, the pinned anchors included: a
    /// name webpki never looked at (a CN) must keep to them too.
    pub constraints: Vec<(String, crate::pki::DnsConstraints)>,
    /// The chain as reports show it, made once and shared by every check that saw it.
    pub shown: Arc<[ChainCert]>,
    /// Fatal problem, if any.
    pub problem: Option<ProbeFailure>,
    /// Non-fatal findings, most important first.
    pub warnings: Vec<(Reason, String)>,
}

/// The chain's verdict against `trust`, whatever host it is for (`for_name` adds the name check).
pub fn assess(
    against: crate::pki::Against<'_>,
    expiry_warning: Duration,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Assessment {
    let crate::pki::Against { trust, algs, now } = against;
    // Every certificate sent, in any order (RFC 8446 4.4.2): rustls bounds the whole message
    // (64 KiB), webpki bounds the path building.
    let presented: Vec<CertificateDer<'_>> = intermediates.to_vec();
    let chain: Vec<CertInfo> = std::iter::once(end_entity)
        .chain(presented.iter())
        .filter_map(CertInfo::of)
        .collect();
    let shown = chain.iter().map(chain_cert).collect();
    // The CAs that could have issued anything in the chain: those presented, and the pinned
    // ones named as an issuer (the anchor webpki built the path to).
    let issuers: Vec<&str> = chain.iter().map(|c| c.issuer.as_str()).collect();
    let pinned: Vec<CertInfo> = trust
        .roots
        .iter()
        .chain(&trust.intermediates)
        .filter_map(CertInfo::of)
        .filter(|c| issuers.contains(&c.subject.as_str()))
        .collect();
    let constraints = chain
        .iter()
        .skip(1)
        .chain(&pinned)
        .filter_map(|c| Some((short_name(c), c.dns_constraints.clone()?)))
        .collect();
    let mut assessment = Assessment {
        constraints,
        chain,
        shown,
        problem: None,
        warnings: Vec::new(),
    };
    let ee = match webpki::EndEntityCert::try_from(end_entity) {
        Ok(ee) => ee,
        Err(e) => {
            // Parsing already judges some rules (an unknown critical extension).
            let now_secs = now.as_secs() as i64;
            assessment.problem = Some(chain_problem(&e, &assessment.chain, trust, now_secs));
            return assessment;
        }
    };
    let usage = webpki::KeyUsage::server_auth();
    let verify =
        |pool: &[CertificateDer<'_>]| -> Result<Vec<CertificateDer<'static>>, webpki::Error> {
            ee.verify_for_usage(algs, &trust.anchors, pool, now, usage, None, None)
                .map(|path| {
                    path.intermediate_certificates()
                        .map(|c| CertificateDer::from(c.der().to_vec()))
                        .collect()
                })
        };
    let mut result = verify(&presented);
    if matches!(result, Err(webpki::Error::UnknownIssuer)) && !trust.intermediates.is_empty() {
        let mut pool = presented.clone();
        pool.extend(trust.intermediates.iter().cloned());
        if let Ok(path) = verify(&pool) {
            let added: Vec<String> = path
                .iter()
                .filter(|c| !presented.iter().any(|p| p.as_ref() == c.as_ref()))
                .filter_map(CertInfo::of)
                .map(|i| short_name(&i))
                .collect();
            assessment.warnings.push((
            Reason::TlsMissingIntermediate,
            format!(
                "the server did not send {}; the chain was completed from the profile's intermediates",
                added.join(", ")
            ),
        ));
            result = Ok(path);
        }
    }
    // A self-issued CA certificate (a key rollover): RFC 5280 builds through it, webpki does not.
    // (Not after webpki's own work limits were hit: that chain is an attack, not a rollover.)
    if result.as_ref().is_err_and(|e| {
        !matches!(
            e,
            webpki::Error::MaximumPathBuildCallsExceeded
                | webpki::Error::MaximumSignatureChecksExceeded
                | webpki::Error::MaximumPathDepthExceeded
        )
    }) && let Some(path) =
        super::rollover::path_through_self_issued(against, end_entity, &presented, None)
    {
        result = Ok(path);
    }
    let now_secs = now.as_secs() as i64;
    let path = match result {
        Ok(path) => path,
        Err(error) => {
            assessment.problem = Some(chain_problem(&error, &assessment.chain, trust, now_secs));
            return assessment;
        }
    };
    // What webpki does not judge: the leaf's own key (it signs the handshake) and its key
    // usage (rustls ignores keyUsage; OpenSSL and others do not).
    if let Some(leaf) = assessment.chain.first() {
        if let Some(bits) = leaf.rsa_bits.filter(|b| *b < 2048) {
            assessment.problem = Some(ProbeFailure::new(
                Reason::TlsWeakKey,
                format!(
                    "{} has an RSA key of {bits} bits; at least 2048 are required",
                    at(&assessment.chain, 0)
                ),
            ));
            return assessment;
        }
        if let Some((signature, encipherment)) = leaf.key_usage
            && !signature
            && !(encipherment && leaf.rsa_bits.is_some())
        {
            assessment.problem = Some(ProbeFailure::new(
                Reason::TlsLeafUsage,
                format!(
                    "{} has a keyUsage that does not allow digitalSignature, which a TLS server key needs",
                    at(&assessment.chain, 0)
                ),
            ));
            return assessment;
        }
    }

    // What RFC 5280 and the CA/Browser Forum profile ask beyond webpki, anchor included.
    let anchor = anchor_of(trust, &path, &assessment.chain);
    let mut roles: Vec<(conformance::Role, &CertificateDer<'_>)> =
        vec![(conformance::Role::Leaf, end_entity)];
    roles.extend(
        path.iter()
            .enumerate()
            .map(|(i, c)| (conformance::Role::Intermediate(i + 1), c)),
    );
    if let Some(anchor) = anchor {
        roles.push((conformance::Role::Anchor, anchor));
    }
    let breaches = conformance::check_path(&roles);
    if let Some(refused) = breaches
        .iter()
        .find(|b| b.severity == conformance::Severity::Refused)
    {
        let reason = if refused.weak_key {
            Reason::TlsWeakKey
        } else {
            Reason::TlsChainStructure
        };
        assessment.problem = Some(ProbeFailure::new(
            reason,
            format!("{}: {}", refused.whose(), refused.rule),
        ));
        return assessment;
    }
    if !breaches.is_empty() {
        let said: Vec<String> = breaches
            .iter()
            .take(3)
            .map(|b| format!("{}: {}", b.whose(), b.rule))
            .collect();
        let more = match breaches.len() {
            n if n > 3 => format!(" (and {} more)", n - 3),
            _ => String::new(),
        };
        assessment.warnings.push((
            Reason::TlsNonconformant,
            format!("{}{more}", said.join("; ")),
        ));
    }

    // Revocation, when the profile asks for it and gives CRLs (NHS's own clients do not check it).
    if trust.revocation != crate::profile::RevocationMode::Off && !trust.crls.is_empty() {
        // Lists RFC 5280 does not let a client use are set aside: the status they would give
        // is unknown, and said so.
        let unusable = unusable_lists(trust, &assessment.chain, &presented);
        let usable_only;
        let against = match unusable.is_empty() {
            true => against,
            false => {
                let mut trust = trust.clone();
                trust
                    .crls
                    .retain(|c| !unusable.iter().any(|(u, _)| Arc::ptr_eq(u, c)));
                usable_only = trust;
                crate::pki::Against {
                    trust: &usable_only,
                    ..against
                }
            }
        };
        for (_, text) in unusable {
            assessment.warnings.push((Reason::CrlStatusUnknown, text));
        }
        match revoked_in_path(against, &ee, end_entity, &presented, &path) {
            Revoked::No => {}
            Revoked::Yes(text) if trust.revocation == crate::profile::RevocationMode::Fail => {
                assessment.problem = Some(ProbeFailure::new(Reason::TlsRevoked, text));
                return assessment;
            }
            Revoked::Yes(text) => assessment.warnings.push((Reason::TlsRevoked, text)),
            Revoked::Unknown(text) => assessment.warnings.push((Reason::CrlStatusUnknown, text)),
        }
    }

    // Trusted on purpose, still worth saying: G1 is the hierarchy being retired.
    if trust.legacy_g1
        && let Some(path) = legacy::path_in(&assessment.chain)
    {
        assessment.warnings.push((
            Reason::TlsLegacyG1,
            format!(
                "{}, trusted because the profile sets legacy_g1 = true",
                legacy::described(&path)
            ),
        ));
    }
    // Expiry: the verified path (leaf, intermediates) and the root it ends at.
    let top_issuer = path
        .last()
        .and_then(CertInfo::of)
        .or_else(|| assessment.chain.first().cloned())
        .map(|i| i.issuer);
    let root = trust
        .roots
        .iter()
        .filter_map(CertInfo::of)
        .find(|r| Some(&r.subject) == top_issuer.as_ref());
    let elements: Vec<CertInfo> = assessment
        .chain
        .first()
        .cloned()
        .into_iter()
        .chain(path.iter().filter_map(CertInfo::of))
        .chain(root)
        .collect();
    if elements.iter().any(|c| c.not_after < now_secs) {
        assessment.problem = Some(ProbeFailure::new(
            Reason::TlsExpired,
            expired_text(&elements, trust, now_secs),
        ));
        return assessment;
    }
    let horizon = now_secs + expiry_warning.as_secs() as i64;
    for cert in elements.iter().filter(|c| c.not_after < horizon) {
        let days = (cert.not_after - now_secs) / 86_400;
        assessment.warnings.push((
            Reason::TlsExpiringSoon,
            format!(
                "{} expires on {} (in {days} days)",
                short_name(cert),
                rfc3339(cert.not_after)
            ),
        ));
    }
    assessment
}

/// The TLS phase's verdict on a chain for `name` at `now`, exactly as a handshake would give
/// it: leaf first, then whatever else the server sent.
pub fn judge(
    trust: &TrustStore,
    chain: &[CertificateDer<'_>],
    name: &ServerName<'_>,
    now: UnixTime,
    expiry_warning: Duration,
) -> Option<Assessment> {
    let provider = rustls::crypto::ring::default_provider();
    let (leaf, rest) = chain.split_first()?;
    let assessment = assess(
        crate::pki::Against::new(trust, &provider, now),
        expiry_warning,
        leaf,
        rest,
    );
    let judged = for_name(Arc::new(assessment), leaf, name);
    Some(Arc::unwrap_or_clone(judged))
}

/// The reason of a chain's problem, else of its first warning, else `None` (a pass), for `host`
/// now. For tests and tools.
pub fn judge_chain(
    trust: Arc<TrustStore>,
    chain: &[CertificateDer<'static>],
    host: &str,
) -> Option<Reason> {
    let name = ServerName::try_from(host.to_string()).ok()?;
    let assessment = judge(
        &trust,
        chain,
        &name,
        UnixTime::now(),
        Duration::from_secs(30 * 86_400),
    )?;
    assessment.verdict()
}

impl Assessment {
    /// The reason of the problem, else of the first warning, else `None` (a pass).
    pub fn verdict(&self) -> Option<Reason> {
        self.problem
            .as_ref()
            .map(|p| p.reason)
            .or_else(|| self.warnings.first().map(|(r, _)| *r))
    }
}

/// Signature algorithms ring verifies in certificates (by the names `CertInfo` gives them).
const SIGNATURES_VERIFIED: [&str; 6] = [
    "sha256WithRSAEncryption",
    "sha384WithRSAEncryption",
    "sha512WithRSAEncryption",
    "ecdsa-with-SHA256",
    "ecdsa-with-SHA384",
    "Ed25519",
];

/// Name-constraint comparisons a client makes at most (webpki's bound, 250,000).
const MAX_NAME_CONSTRAINT_COMPARISONS: usize = 250_000;

/// What the name check adds to a chain's verdict for one host: a CN-only warning, or a problem.
enum NameVerdict {
    Fits,
    Warning(Reason, String),
    Problem(ProbeFailure),
}

/// Checks the leaf's names against `server_name` (webpki: subjectAltName only).
fn name_verdict(
    end_entity: &CertificateDer<'_>,
    assessment: &Assessment,
    server_name: &ServerName<'_>,
) -> NameVerdict {
    let chain = assessment.chain.as_slice();
    let Ok(ee) = webpki::EndEntityCert::try_from(end_entity) else {
        return NameVerdict::Fits; // a leaf that does not parse is the chain's problem already
    };
    let Err(error) = ee.verify_is_valid_for_subject_name(server_name) else {
        return NameVerdict::Fits;
    };
    let leaf = chain.first();
    let host = server_name_text(server_name);
    match (leaf, error) {
        (Some(leaf), webpki::Error::CertNotValidForName(_))
            if cn_matches(leaf, &host)
                && leaf.subject_attributes
                    * assessment
                        .constraints
                        .iter()
                        .map(|(_, c)| c.subtrees)
                        .sum::<usize>()
                    > MAX_NAME_CONSTRAINT_COMPARISONS =>
        {
            NameVerdict::Problem(ProbeFailure::new(
                Reason::TlsChainStructure,
                format!(
                    "{host} is only in the certificate's CN, and checking its {} subject names against the CAs' name constraints needs more comparisons than clients allow (a denial-of-service pattern; OpenSSL refuses it too)",
                    leaf.subject_attributes
                ),
            ))
        }
        (Some(leaf), webpki::Error::CertNotValidForName(_))
            if cn_matches(leaf, &host)
                && assessment.constraints.iter().any(|(_, c)| !c.allows(&host)) =>
        {
            // The CN fallback must not reach what the CAs' name constraints forbid: OpenSSL
            // applies them to a CN that looks like a host name too, and refuses.
            let ca = assessment
                .constraints
                .iter()
                .find(|(_, c)| !c.allows(&host))
                .map(|(ca, _)| ca.as_str())
                .unwrap_or("an issuing CA");
            NameVerdict::Problem(ProbeFailure::new(
                Reason::TlsChainStructure,
                format!(
                    "{host} is only in the certificate's CN, and {ca} does not allow that name (its name constraints): the chain is refused, by OpenSSL clients too"
                ),
            ))
        }
        (Some(leaf), webpki::Error::CertNotValidForName(_)) if cn_matches(leaf, &host) => {
            NameVerdict::Warning(
                Reason::TlsCnOnly,
                format!(
                    "{host} is only in the certificate's CN (no subjectAltName): OpenSSL clients accept it, rustls/webpki and other strict clients reject it"
                ),
            )
        }
        (leaf, webpki::Error::CertNotValidForName(_)) => {
            let names = leaf.map(valid_names).unwrap_or_default();
            NameVerdict::Problem(ProbeFailure::new(
                Reason::TlsHostnameMismatch,
                format!(
                    "the certificate is not valid for {host}; it is valid for {}",
                    if names.is_empty() {
                        "no host name".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            ))
        }
        (_, other) => NameVerdict::Problem(
            ProbeFailure::new(
                Reason::TlsHandshakeFailed,
                "the certificate's names could not be checked",
            )
            .raw(other),
        ),
    }
}

/// The chain's verdict for one host: the name check on top of the shared chain verdict. A
/// problem found before names are looked at (an untrusted chain, a weak key) stands; a wrong
/// name outranks expiry.
pub fn for_name(
    shared: Arc<Assessment>,
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
) -> Arc<Assessment> {
    if shared
        .problem
        .as_ref()
        .is_some_and(|p| p.reason != Reason::TlsExpired)
    {
        return shared;
    }
    match name_verdict(end_entity, &shared, server_name) {
        NameVerdict::Fits => shared,
        NameVerdict::Warning(reason, text) => {
            let mut own = (*shared).clone();
            own.warnings.insert(0, (reason, text));
            Arc::new(own)
        }
        NameVerdict::Problem(problem) => {
            let mut own = (*shared).clone();
            own.problem = Some(problem);
            Arc::new(own)
        }
    }
}

/// `'NHS INT Authentication G2' (position 2 of the chain)`: how a report names one element.
fn at(chain: &[CertInfo], index: usize) -> String {
    match (chain.get(index), index) {
        (Some(cert), 0) => format!("the server's certificate {}", short_name(cert)),
        (Some(cert), i) => format!("{} (position {} of the chain)", short_name(cert), i + 1),
        (None, _) => "a certificate of the chain".to_string(),
    }
}

/// The pinned certificate (anchor or known intermediate) with the same subject as `cert`.
fn pinned_namesake(trust: &TrustStore, cert: &CertInfo) -> Option<CertInfo> {
    trust
        .roots
        .iter()
        .chain(trust.intermediates.iter())
        .filter_map(CertInfo::of)
        .find(|p| p.subject == cert.subject)
}

/// Names the fault behind webpki's verdict, from what the chain itself shows.
fn chain_problem(
    error: &webpki::Error,
    chain: &[CertInfo],
    trust: &TrustStore,
    now: i64,
) -> ProbeFailure {
    use webpki::Error as E;
    let top = chain.last();
    let issuer = top.map(|c| c.issuer.clone()).unwrap_or_default();
    // Issuers only: a self-signed root's own signature is never checked.
    let issuers = || {
        chain
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.self_signed || chain.len() == 1)
    };
    let (reason, message) = match error {
        E::CertExpired { .. } => (Reason::TlsExpired, expired_text(chain, trust, now)),
        E::CertNotValidYet { .. } => {
            let early = chain.iter().position(|c| c.not_before > now);
            let text = match early {
                Some(i) => format!(
                    "{} is not valid until {}",
                    at(chain, i),
                    rfc3339(chain[i].not_before)
                ),
                None => "a certificate in the chain is not valid yet".to_string(),
            };
            (Reason::TlsNotYetValid, text)
        }
        E::CaUsedAsEndEntity => (
            Reason::TlsLeafUsage,
            format!(
                "{} is a CA certificate (basicConstraints CA:TRUE), not a server certificate",
                at(chain, 0)
            ),
        ),
        E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => (
            Reason::TlsLeafUsage,
            format!(
                "{} is not for TLS servers: its extended key usage lacks serverAuth",
                at(chain, 0)
            ),
        ),
        E::EndEntityUsedAsCa => {
            let culprit = (1..chain.len())
                .find(|i| chain[*i].ca.is_none())
                .unwrap_or(1);
            (
                Reason::TlsChainStructure,
                format!(
                    "{} is not a CA certificate, but the chain uses it to issue {}",
                    at(chain, culprit),
                    short_name(
                        &chain[culprit.saturating_sub(1).min(chain.len().saturating_sub(1))]
                    )
                ),
            )
        }
        E::PathLenConstraintViolated => {
            let limited = (1..chain.len())
                .find_map(|i| chain[i].ca.flatten().map(|n| (i, n)))
                .map(|(i, n)| format!("{} allows {n} CA(s) below it", at(chain, i)))
                .unwrap_or_else(|| "an issuing CA limits the path length".to_string());
            (
                Reason::TlsChainStructure,
                format!("the chain has more CA certificates than allowed: {limited}"),
            )
        }
        E::NameConstraintViolation => (
            Reason::TlsChainStructure,
            format!(
                "{} names a host outside the name constraints of a CA that issued it",
                at(chain, 0)
            ),
        ),
        E::UnsupportedCriticalExtension => {
            let found = chain
                .iter()
                .enumerate()
                .find_map(|(i, c)| c.unknown_critical.first().map(|oid| (i, oid.clone())));
            let text = match found {
                Some((i, oid)) => format!(
                    "{} carries a critical extension ({oid}) that TLS clients do not understand and must refuse",
                    at(chain, i)
                ),
                None => {
                    "a certificate carries a critical extension TLS clients must refuse".to_string()
                }
            };
            (Reason::TlsChainStructure, text)
        }
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            if let Some((i, cert)) = issuers().find(|(_, c)| c.weak_signature) {
                (
                    Reason::TlsWeakSignature,
                    format!(
                        "{} is signed with {} (SHA-1 or MD5), which is broken: clients refuse it",
                        at(chain, i),
                        cert.signature_algorithm
                    ),
                )
            } else if let Some((i, cert)) = chain
                .iter()
                .enumerate()
                .find(|(_, c)| c.rsa_bits.is_some_and(|b| b < 2048))
            {
                (
                    Reason::TlsWeakKey,
                    format!(
                        "{} has an RSA key of {} bits; at least 2048 are required",
                        at(chain, i),
                        cert.rsa_bits.unwrap_or_default()
                    ),
                )
            } else {
                // Which certificate, and what of it: ring (the one crypto library int-check is
                // built with) has no P-521, Ed448 or RSA-PSS keys, nor ecdsa-with-SHA512.
                let what = chain.iter().enumerate().find_map(|(i, c)| {
                    if c.key.starts_with("EC 52") {
                        Some(format!("{} has a P-521 key", at(chain, i)))
                    } else if !SIGNATURES_VERIFIED.contains(&c.signature_algorithm.as_str())
                        && (!c.self_signed || chain.len() == 1)
                    {
                        Some(format!(
                            "{} is signed with {}",
                            at(chain, i),
                            c.signature_algorithm
                        ))
                    } else {
                        None
                    }
                });
                let what = what.unwrap_or_else(|| {
                    "the chain uses a signature or key algorithm".to_string()
                });
                (
                    Reason::TlsUnsupportedAlgorithm,
                    format!(
                        "{what}, which this tool cannot verify (its crypto library, ring, lacks P-521, Ed448 and RSA-PSS keys); the chain may well be valid, and OpenSSL-based clients can accept it: this result alone is not a server fault"
                    ),
                )
            }
        }
        E::InvalidSignatureForPublicKey | E::SignatureAlgorithmMismatch
            if chain.iter().any(|c| !c.signature_fields_agree) =>
        {
            let i = chain
                .iter()
                .position(|c| !c.signature_fields_agree)
                .unwrap_or(0);
            (
                Reason::TlsChainStructure,
                format!(
                    "{} names one signature algorithm outside its signed part and another inside it; RFC 5280 (4.1.1.2) requires them to be the same, and clients refuse it",
                    at(chain, i)
                ),
            )
        }
        E::InvalidSignatureForPublicKey | E::SignatureAlgorithmMismatch
            if weak_pinned_issuer(chain, trust).is_some() =>
        {
            let (name, bits) = weak_pinned_issuer(chain, trust).unwrap_or_default();
            (
                Reason::TlsWeakKey,
                format!(
                    "the pinned {name} has an RSA key of {bits} bits: what it signed cannot be verified (at least 2048 are required), so nothing chains to it"
                ),
            )
        }
        E::InvalidSignatureForPublicKey | E::SignatureAlgorithmMismatch
            if unreadable_pinned_issuer(chain, trust).is_some() =>
        {
            let name = unreadable_pinned_issuer(chain, trust).unwrap_or_default();
            (
                Reason::TlsChainStructure,
                format!(
                    "the pinned {name} has a public key that cannot be used (it does not even verify its own self-signature), so no signature verifies against it: the anchor itself is broken"
                ),
            )
        }
        E::InvalidSignatureForPublicKey | E::SignatureAlgorithmMismatch => {
            // A certificate that carries a pinned certificate's name but is not it.
            let impostor = chain.iter().enumerate().skip(1).find_map(|(i, c)| {
                pinned_namesake(trust, c)
                    .filter(|p| p.sha256 != c.sha256)
                    .map(|p| (i, p))
            });
            let reason = if impostor.is_some() {
                Reason::TlsWrongIntermediate
            } else {
                Reason::TlsUntrustedIssuer
            };
            let text = match impostor {
                Some((i, pinned)) => format!(
                    "{} carries the name of the pinned {} but is not it (SHA-256 {} instead of {}): a stale or impostor intermediate, whose signature does not verify with the pinned certificate",
                    at(chain, i),
                    short_name(&pinned),
                    chain[i].sha256,
                    pinned.sha256
                ),
                None => format!(
                    "issued by a CA named {issuer}, but its signature does not verify against the pinned certificate of that name: a different (rogue or replaced) CA"
                ),
            };
            (reason, text)
        }
        E::UnknownIssuer if !trust.legacy_g1 && legacy::path_in(chain).is_some() => (
            Reason::TlsLegacyG1,
            format!(
                "{}, which this profile does not trust",
                legacy::described(&legacy::path_in(chain).unwrap_or_default())
            ),
        ),
        E::UnknownIssuer if chain.first().is_some_and(|c| c.self_signed) => (
            Reason::TlsSelfSigned,
            format!(
                "{} is self-signed: no CA issued it, so it cannot chain to {}",
                at(chain, 0),
                trust_label(trust)
            ),
        ),
        // An issuer that is there by name but cannot issue: not a CA, or not allowed to sign.
        E::UnknownIssuer if unusable_issuer(chain).is_some() => {
            let (i, why) = unusable_issuer(chain).unwrap_or_default();
            (
                Reason::TlsChainStructure,
                format!(
                    "{} is the issuer by name of {}, but {why}, so it cannot issue certificates",
                    at(chain, i),
                    short_name(&chain[i - 1])
                ),
            )
        }
        E::UnknownIssuer if unusable_pinned_issuer(chain, trust).is_some() => {
            let (name, why) = unusable_pinned_issuer(chain, trust).unwrap_or_default();
            (
                Reason::TlsChainStructure,
                format!(
                    "the chain's issuer is the pinned intermediate {name}, but {why}, so it cannot issue certificates: the profile's intermediate is the wrong certificate"
                ),
            )
        }
        E::UnknownIssuer => (
            Reason::TlsUntrustedIssuer,
            format!(
                "issued by {}, which does not chain to {}",
                if issuer.is_empty() {
                    "an empty name"
                } else {
                    issuer.as_str()
                },
                trust_label(trust)
            ),
        ),
        E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded
        | E::MaximumPathDepthExceeded => (
            Reason::TlsChainStructure,
            format!(
                "the server sent {} certificates: too many to build a path within this client's limits",
                chain.len()
            ),
        ),
        E::UnsupportedCertVersion if chain.iter().any(|c| c.version < 3) => {
            let i = chain.iter().position(|c| c.version < 3).unwrap_or(0);
            (
                Reason::TlsChainStructure,
                format!(
                    "{} is an X.509 version {} certificate: without extensions it cannot say it is a CA or a server certificate, and TLS clients refuse it",
                    at(chain, i),
                    chain[i].version
                ),
            )
        }
        E::BadDer
        | E::BadDerTime
        | E::TrailingData(_)
        | E::UnsupportedCertVersion
        | E::ExtensionValueInvalid
        | E::MalformedExtensions
        | E::InvalidCertValidity
        | E::InvalidSerialNumber => (
            Reason::TlsChainStructure,
            "a certificate in the server's chain is not valid X.509 DER (the details carry the parser's error)".to_string(),
        ),
        E::MalformedNameConstraint => (
            Reason::TlsChainStructure,
            format!(
                "a CA above {} has malformed name constraints (a subtree that is not a valid name, such as a wildcard), which clients must refuse",
                at(chain, 0)
            ),
        ),
        E::InvalidNetworkMaskConstraint => (
            Reason::TlsChainStructure,
            format!(
                "a CA above {} has an IP address name constraint whose network mask is not a valid prefix",
                at(chain, 0)
            ),
        ),
        E::MaximumNameConstraintComparisonsExceeded => (
            Reason::TlsChainStructure,
            format!(
                "checking the names of {} against the CAs' name constraints needs more comparisons than clients allow (a denial-of-service pattern)",
                at(chain, 0)
            ),
        ),
        E::MalformedDnsIdentifier => (
            Reason::TlsChainStructure,
            format!(
                "{} holds a DNS name that is not a valid host name, so no name constraint can be applied to it",
                at(chain, 0)
            ),
        ),
        E::UnsupportedNameType => (
            Reason::TlsChainStructure,
            format!(
                "{} holds a name of a type the CAs' name constraints cannot be checked against",
                at(chain, 0)
            ),
        ),
        E::CertDistrusted | E::CertRevoked => (
            Reason::TlsUntrustedIssuer,
            format!("{} is distrusted or revoked", at(chain, 0)),
        ),
        _ => (
            Reason::TlsChainStructure,
            "the chain breaks a rule of certificate paths that this tool does not name yet (the details carry the library's words)".to_string(),
        ),
    };
    ProbeFailure::new(reason, message).raw(error)
}

/// Which element expired, and whether it is the pinned anchor itself or the server's own
/// (stale) copy of a pinned certificate.
fn expired_text(elements: &[CertInfo], trust: &TrustStore, now: i64) -> String {
    let Some(i) = elements.iter().position(|c| c.not_after < now) else {
        return "a certificate in the chain has expired".to_string();
    };
    let expired = &elements[i];
    let when = rfc3339(expired.not_after);
    match pinned_namesake(trust, expired) {
        Some(pinned) if pinned.sha256 == expired.sha256 => format!(
            "the pinned {} itself expired on {when}: the profile's trust anchors need its replacement",
            short_name(expired)
        ),
        Some(pinned) => format!(
            "{} expired on {when}: the server sends an old copy; the pinned {} is valid until {}",
            at(elements, i),
            short_name(&pinned),
            rfc3339(pinned.not_after)
        ),
        None => format!("{} expired on {when}", at(elements, i)),
    }
}

fn trust_label(trust: &TrustStore) -> String {
    let roots: Vec<String> = trust
        .roots
        .iter()
        .filter_map(CertInfo::of)
        .map(|i| short_name(&i))
        .collect();
    if roots.is_empty() {
        // Anchors without certificates: the public web roots.
        return format!("any of the {}", trust.source);
    }
    format!("the pinned root {}", roots.join(" or "))
}

/// `CN=...` when the certificate has a CN, else the whole subject.
pub fn short_name(cert: &CertInfo) -> String {
    match &cert.common_name {
        Some(cn) => format!("'{cn}'"),
        None => format!("'{}'", cert.subject),
    }
}

fn valid_names(cert: &CertInfo) -> Vec<String> {
    let mut names = cert.dns_names.clone().unwrap_or_default();
    if let Some(cn) = &cert.common_name {
        names.push(format!("CN {cn}"));
    }
    names
}

/// Whether `host` is the certificate's CN as OpenSSL's fallback matches it: only when there is
/// no subjectAltName at all, never for an IP address, and a wildcard only as a whole leftmost
/// label over at least two more (`*.example.com`, never `*.com` or `f*.example.com`).
fn cn_matches(cert: &CertInfo, host: &str) -> bool {
    if cert.dns_names.is_some() || host.parse::<IpAddr>().is_ok() {
        return false;
    }
    let Some(cn) = cert.common_name.as_deref() else {
        return false;
    };
    let (cn, host) = (cn.to_ascii_lowercase(), host.to_ascii_lowercase());
    match cn.strip_prefix("*.") {
        Some(suffix) => {
            suffix.contains('.')
                && !suffix.contains('*')
                && host.split_once('.').is_some_and(|(_, rest)| rest == suffix)
        }
        None => !cn.contains('*') && cn == host,
    }
}

fn server_name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(d) => d.as_ref().to_string(),
        ServerName::IpAddress(ip) => IpAddr::from(*ip).to_string(),
        _ => "the server".to_string(),
    }
}

/// A certificate of the presented chain, as reports show it.
pub fn chain_cert(info: &CertInfo) -> ChainCert {
    ChainCert {
        subject: crate::text::untrusted(&info.subject).into_owned(),
        issuer: crate::text::untrusted(&info.issuer).into_owned(),
        not_before: rfc3339(info.not_before),
        not_after: rfc3339(info.not_after),
        sha256: info.sha256.clone(),
    }
}

/// `certificate 'x' valid until 2027-01-01 (issuer ...)`: the leaf as a passing TLS check
/// describes it.
pub fn certificate_summary(assessment: &Assessment) -> Option<String> {
    let leaf = assessment.chain.first()?;
    Some(format!(
        "certificate {} valid until {} (issuer {})",
        short_name(leaf),
        &rfc3339(leaf.not_after)[..10],
        leaf.issuer
    ))
}

/// A TLS check's verdict from a chain's assessment, worded as the TLS phase words it (the TLS
/// check and `certs judge` both end here): the problem (the library's error in the details),
/// else the warnings before `summary`, else a pass with `summary`.
pub fn verdict_check(
    check: crate::findings::Check,
    assessment: &Assessment,
    summary: String,
) -> crate::findings::Check {
    let check = check.with_detail(|d| d.tls().chain = Some(assessment.shown.clone()));
    if let Some(problem) = &assessment.problem {
        return check.failed(problem.clone());
    }
    let Some((reason, _)) = assessment.warnings.first() else {
        return check.pass(summary);
    };
    let text: Vec<&str> = assessment
        .warnings
        .iter()
        .map(|(_, m)| m.as_str())
        .collect();
    let codes = assessment
        .warnings
        .iter()
        .map(|(r, _)| r.code().to_string())
        .collect();
    check
        .with_detail(|d| d.tls().warnings = Some(codes))
        .warn(*reason, format!("{}; {summary}", text.join("; ")))
}

/// The pinned anchor a verified path ends at: the root whose subject is the top's issuer (and
/// whose key verifies it, when two share a name).
fn anchor_of<'a>(
    trust: &'a TrustStore,
    path: &[CertificateDer<'static>],
    chain: &[CertInfo],
) -> Option<&'a CertificateDer<'static>> {
    let top = path
        .last()
        .and_then(CertInfo::of)
        .or_else(|| chain.first().cloned())?;
    let named: Vec<&CertificateDer<'static>> = trust
        .roots
        .iter()
        .filter(|r| CertInfo::of(r).is_some_and(|i| i.subject == top.issuer))
        .collect();
    if named.len() <= 1 {
        return named.first().copied();
    }
    // Two pinned roots of one name (a key rollover): the one the top's AKI names.
    let ski = |der: &[u8]| -> Option<Vec<u8>> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        cert.extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => {
                    Some(id.0.to_vec())
                }
                _ => None,
            })
    };
    let wanted = path.last().and_then(|top| {
        let (_, cert) = x509_parser::parse_x509_certificate(top.as_ref()).ok()?;
        cert.extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    aki.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            })
    });
    named
        .iter()
        .find(|root| wanted.is_some() && ski(root.as_ref()) == wanted)
        .or(named.first())
        .copied()
}

/// A pinned certificate named as an issuer in the chain whose RSA key is too weak to verify
/// anything: its name and size.
fn weak_pinned_issuer(chain: &[CertInfo], trust: &TrustStore) -> Option<(String, usize)> {
    trust
        .roots
        .iter()
        .chain(&trust.intermediates)
        .filter_map(CertInfo::of)
        .filter(|p| chain.iter().any(|c| c.issuer == p.subject))
        .find_map(|p| {
            p.rsa_bits
                .filter(|b| *b < 2048)
                .map(|b| (short_name(&p), b))
        })
}

/// A presented certificate that issues another by name but is not a CA, or whose keyUsage does
/// not allow keyCertSign: its position and what is wrong.
fn unusable_issuer(chain: &[CertInfo]) -> Option<(usize, &'static str)> {
    (1..chain.len()).find_map(|i| {
        let issues = chain[..i]
            .iter()
            .any(|below| below.issuer == chain[i].subject);
        if !issues
            || chain[i].self_signed
                && chain.len() > 1
                && i == chain.len() - 1
                && chain[i].ca.is_some()
        {
            return None;
        }
        if chain[i].ca.is_none() {
            Some((
                i,
                "it is not a CA certificate (no basicConstraints CA:TRUE)",
            ))
        } else if chain[i].key_cert_sign == Some(false) {
            Some((i, "its keyUsage does not allow keyCertSign"))
        } else {
            None
        }
    })
}

/// A pinned certificate named as an issuer in the chain whose key cannot be used: it cannot be
/// parsed, or (a root) its own self-signature does not verify with it.
fn unreadable_pinned_issuer(chain: &[CertInfo], trust: &TrustStore) -> Option<String> {
    trust
        .roots
        .iter()
        .chain(&trust.intermediates)
        .filter_map(|der| Some((der, CertInfo::of(der)?)))
        .filter(|(_, p)| chain.iter().any(|c| c.issuer == p.subject))
        .find(|(der, p)| {
            p.key == "unknown key"
                || (p.self_signed
                    && x509_parser::parse_x509_certificate(der.as_ref())
                        .is_ok_and(|(_, c)| c.verify_signature(None).is_err()))
        })
        .map(|(_, p)| short_name(&p))
}

/// A pinned intermediate named as an issuer in the chain that cannot issue: its name and why.
fn unusable_pinned_issuer(
    chain: &[CertInfo],
    trust: &TrustStore,
) -> Option<(String, &'static str)> {
    trust
        .intermediates
        .iter()
        .filter_map(CertInfo::of)
        .filter(|p| chain.iter().any(|c| c.issuer == p.subject))
        .find_map(|p| {
            let why = if p.ca.is_none() {
                "it is not a CA certificate (no basicConstraints CA:TRUE)"
            } else if p.key_cert_sign == Some(false) {
                "its keyUsage does not allow keyCertSign"
            } else {
                return None;
            };
            Some((short_name(&p), why))
        })
}

/// The lists of the chain's issuers that a client following RFC 5280 may not use: not signed by
/// the key of the CA whose name it carries, no CRL number or a critical one (5.2.3), or signed by
/// a CA whose keyUsage lacks cRLSign (4.2.1.3).
fn unusable_lists(
    trust: &TrustStore,
    chain: &[CertInfo],
    presented: &[CertificateDer<'_>],
) -> Vec<(Arc<crate::pki::crl::LoadedCrl>, String)> {
    let candidates: Vec<&CertificateDer<'_>> = trust
        .roots
        .iter()
        .chain(&trust.intermediates)
        .chain(presented.iter())
        .collect();
    let issuers: Vec<CertInfo> = trust
        .roots
        .iter()
        .chain(&trust.intermediates)
        .filter_map(CertInfo::of)
        .chain(chain.iter().cloned())
        .collect();
    trust
        .crls
        .iter()
        .filter(|crl| chain.iter().any(|c| c.issuer == crl.issuer))
        .filter_map(|crl| {
            let no_crl_sign = issuers
                .iter()
                .find(|i| i.subject == crl.issuer && i.crl_sign == Some(false))
                .map(|i| {
                    format!(
                        "it is signed by {}, whose keyUsage does not allow cRLSign; RFC 5280 (4.2.1.3) requires it for a CA that issues CRLs",
                        short_name(i)
                    )
                });
            let forged = (!candidates.iter().any(|c| {
                CertInfo::of(c).is_some_and(|i| i.subject == crl.issuer) && crl.signed_by(c)
            }))
            .then(|| "it is not signed by the key of the CA whose name it carries: not believed, whatever it lists".to_string());
            let why = forged.or(crl.nonconformant.clone()).or(no_crl_sign)?;
            Some((
                crl.clone(),
                format!(
                    "the revocation list of {} ({}) cannot be used: {why}; the chain's revocation status is unknown",
                    crl.issuer,
                    crl.path.display()
                ),
            ))
        })
        .collect()
}

enum Revoked {
    No,
    Yes(String),
    Unknown(String),
}

/// The verified path against the profile's CRLs: webpki decides (signatures checked), the
/// entries give the words.
fn revoked_in_path(
    against: crate::pki::Against<'_>,
    ee: &webpki::EndEntityCert<'_>,
    end_entity: &CertificateDer<'_>,
    presented: &[CertificateDer<'_>],
    path: &[CertificateDer<'static>],
) -> Revoked {
    let crate::pki::Against { trust, algs, now } = against;
    let lists: Vec<&webpki::CertRevocationList<'_>> = trust.crls.iter().map(|c| &c.crl).collect();
    let Some(options) = crate::pki::crl::options(&lists, webpki::RevocationCheckDepth::Chain)
    else {
        return Revoked::No;
    };
    let mut pool: Vec<CertificateDer<'_>> = presented.to_vec();
    pool.extend(path.iter().cloned());
    pool.extend(trust.intermediates.iter().cloned());
    let result = ee.verify_for_usage(
        algs,
        &trust.anchors,
        &pool,
        now,
        webpki::KeyUsage::server_auth(),
        Some(options),
        None,
    );
    match result {
        Err(webpki::Error::CertRevoked) => {
            let elements: Vec<CertInfo> = std::iter::once(end_entity)
                .chain(presented.iter())
                .chain(path.iter())
                .filter_map(CertInfo::of)
                .collect();
            let found = elements.iter().find_map(|cert| {
                trust
                    .crls
                    .iter()
                    .filter(|c| c.issuer == cert.issuer)
                    .find_map(|c| Some((cert, c.revocation_of(&cert.serial_der)?)))
            });
            Revoked::Yes(match found {
                Some((cert, entry)) => format!(
                    "{} was revoked on {}{} by its issuer ({})",
                    short_name(cert),
                    rfc3339(entry.date),
                    entry
                        .reason
                        .map(|r| format!(" (reason: {r})"))
                        .unwrap_or_default(),
                    cert.issuer
                ),
                None => "a certificate of the chain is on its issuer's revocation list".to_string(),
            })
        }
        Err(
            webpki::Error::InvalidCrlSignatureForPublicKey
            | webpki::Error::IssuerNotCrlSigner
            | webpki::Error::UnsupportedCrlSignatureAlgorithmContext(_)
            | webpki::Error::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(_),
        ) => Revoked::Unknown(
            "a CRL given carries an issuer's name but not its signature: the chain's revocation status is unknown".to_string(),
        ),
        _ => Revoked::No,
    }
}
