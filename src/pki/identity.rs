//! Identity phase: local, offline checks of the client certificate and key, run once before any
//! mutual-TLS probe so that a wrong key is reported once, clearly.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::sign::CertifiedKey;

use crate::error::UsageError;
use crate::findings::{Check, CheckKind};
use crate::pki::{self, CertInfo, TrustStore, rfc3339};
use crate::profile::ClientPaths;
use crate::reasons::Reason;

/// The endpoint name identity checks are reported under.
pub const IDENTITY: &str = "client-identity";

/// The verdict on a client identity.
pub struct IdentityVerdict {
    pub checks: Vec<Check>,
    /// The key and chain, when the key matches the certificate.
    pub usable: Option<Arc<CertifiedKey>>,
    /// Whether any check failed (mutual-TLS probes are then skipped).
    pub failed: bool,
}

/// Accepts any extended key usage: the EKU is judged separately, so that a chain problem and an
/// EKU problem are reported as what they are.
struct AnyUsage;

impl webpki::ExtendedKeyUsageValidator for AnyUsage {
    fn validate(&self, _iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

/// Runs every identity check. File problems (missing, not PEM, not a key) are usage errors.
pub fn verify(
    paths: &ClientPaths,
    trust: &TrustStore,
    provider: &CryptoProvider,
    at: UnixTime,
    expiry_warning_days: u32,
) -> Result<IdentityVerdict, UsageError> {
    let chain = pki::read_certificates(&paths.cert)?;
    let key = pki::read_private_key(&paths.key)?;
    let target = paths.cert.display().to_string();
    let new = || Check::new(IDENTITY, CheckKind::Identity, target.clone());
    let leaf = CertInfo::of(&chain[0]).expect("read_certificates returns parsable certificates");
    let mut checks = Vec::new();

    // 1. The key belongs to the certificate.
    let usable = match CertifiedKey::from_der(chain.clone(), key, provider) {
        Ok(certified) => {
            checks.push(
                new()
                    .with_detail(|d| d.identity().key = Some(leaf.key.clone()))
                    .pass(if paths.key == paths.cert {
                        format!(
                            "the key in {} (beside the certificate, as curl --cert takes it) matches the certificate ({})",
                            paths.key.display(),
                            leaf.key
                        )
                    } else {
                        format!(
                            "the key {} matches the certificate ({})",
                            paths.key.display(),
                            leaf.key
                        )
                    }),
            );
            Some(Arc::new(certified))
        }
        Err(rustls::Error::InconsistentKeys(_)) => {
            checks.push(new().fail(
                Reason::CertKeyMismatch,
                format!(
                    "the key {} does not belong to the certificate {}",
                    paths.key.display(),
                    target
                ),
            ));
            None
        }
        Err(e) => {
            checks.push(new().fail(
                Reason::CertKeyMismatch,
                format!(
                    "the key {} cannot be used with this certificate: {e}",
                    paths.key.display()
                ),
            ));
            None
        }
    };
    if let Some(bits) = leaf.rsa_bits.filter(|b| *b < 2048) {
        checks.push(new().fail(
            Reason::CertWeakKey,
            format!("the certificate's RSA key has {bits} bits; at least 2048 are needed"),
        ));
    }

    // 2. Key file permissions, like ssh.
    if let Some(check) = key_permissions(new(), &paths.key) {
        checks.push(check);
    }

    // 2b. File names that say another encoding or content than the file holds: int-check reads
    // either, but other tools (and the next person) go by the name.
    let mut files = vec![&paths.cert];
    if paths.key != paths.cert {
        files.push(&paths.key);
    }
    for file in files {
        if let Ok(inspection) = pki::inspect_file(file)
            && let Some(lie) = inspection.extension_lies
        {
            checks.push(new().warn(
                Reason::CertFileMisnamed,
                format!("{}: {lie}", file.display()),
            ));
        }
    }

    // 3. Validity at `at`.
    let now = at.as_secs() as i64;
    let days_left = (leaf.not_after - now).div_euclid(86_400);
    let validity = new().with_detail(|d| {
        d.identity().not_before = Some(rfc3339(leaf.not_before));
        d.identity().not_after = Some(rfc3339(leaf.not_after));
        d.identity().days_left = Some(days_left);
    });
    checks.push(if leaf.not_after < now {
        validity.fail(
            Reason::CertExpired,
            format!(
                "the certificate expired on {} ({} days ago)",
                rfc3339(leaf.not_after),
                -days_left
            ),
        )
    } else if leaf.not_before > now {
        validity.fail(
            Reason::CertNotYetValid,
            format!(
                "the certificate is not valid until {}",
                rfc3339(leaf.not_before)
            ),
        )
    } else if days_left < i64::from(expiry_warning_days) {
        validity.warn(
            Reason::CertExpiringSoon,
            format!(
                "the certificate expires on {} (in {days_left} days)",
                rfc3339(leaf.not_after)
            ),
        )
    } else {
        validity.pass(format!(
            "valid until {} ({days_left} days left)",
            rfc3339(leaf.not_after)
        ))
    });

    // 4. The chain leads to the profile's anchors (validity judged above, so use a time inside it).
    checks.push(chain_check(new(), &chain, trust, provider, &leaf));

    // 5. Extended key usage.
    checks.push(match leaf.client_auth_eku {
        Some(true) => new().pass("extended key usage includes clientAuth"),
        Some(false) => new().fail(
            Reason::CertNoClientAuth,
            "the extended key usage does not include clientAuth: servers reject it for mutual TLS",
        ),
        None => new().warn(
            Reason::CertNoClientAuth,
            "the certificate has no extended key usage: servers that require clientAuth reject it",
        ),
    });

    // 6b. Revocation, against the CRLs given.
    if let Some(check) = revocation(new(), &chain, pki::Against::new(trust, provider, at), &leaf) {
        checks.push(check);
    }

    // 6. The FQDN it is registered for.
    if let Some(fqdn) = &paths.fqdn {
        let mut names: Vec<String> = leaf.dns_names.clone().unwrap_or_default();
        names.extend(leaf.common_name.clone());
        // The CN is usually one of the SANs too: each name once.
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.to_ascii_lowercase()));
        let matches = names.iter().any(|n| n.eq_ignore_ascii_case(fqdn));
        let shown = if names.is_empty() {
            "no name".to_string()
        } else {
            names.join(", ")
        };
        checks.push(if matches {
            new().pass(format!("issued for {fqdn}"))
        } else {
            new().fail(
                Reason::CertFqdnMismatch,
                format!("issued for {shown}, not {fqdn}"),
            )
        });
    }

    let failed = checks
        .iter()
        .any(|c| c.status == crate::findings::Status::Fail);
    Ok(IdentityVerdict {
        checks,
        usable,
        failed,
    })
}

/// How the identity's chain leads into the legacy G1 hierarchy, if it does.
fn legacy_path(chain: &[CertificateDer<'static>], leaf: &CertInfo) -> Option<String> {
    let infos: Vec<CertInfo> = std::iter::once(leaf.clone())
        .chain(chain[1..].iter().filter_map(CertInfo::of))
        .collect();
    super::legacy::path_in(&infos)
}

fn chain_check(
    check: Check,
    chain: &[CertificateDer<'static>],
    trust: &TrustStore,
    provider: &CryptoProvider,
    leaf: &CertInfo,
) -> Check {
    let Ok(ee) = webpki::EndEntityCert::try_from(&chain[0]) else {
        return check.fail(
            Reason::CertUntrustedIssuer,
            "the certificate cannot be parsed for path validation",
        );
    };
    let mut pool: Vec<CertificateDer<'static>> = chain[1..].to_vec();
    pool.extend(trust.intermediates.iter().cloned());
    // Validity was judged on its own: validate the path at a moment inside the leaf's validity.
    let inside = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        leaf.not_before.max(0) as u64 + 1,
    ));
    let algs = provider.signature_verification_algorithms.all;
    match ee.verify_for_usage(algs, &trust.anchors, &pool, inside, AnyUsage, None, None) {
        Ok(path) => {
            let mut names: Vec<String> = path
                .intermediate_certificates()
                .filter_map(|c| CertInfo::of(&CertificateDer::from(c.der().to_vec())))
                .map(|i| i.common_name.unwrap_or(i.subject))
                .collect();
            names.push(
                trust
                    .roots
                    .iter()
                    .filter_map(CertInfo::of)
                    .find(|r| r.subject_raw_matches(path.anchor().subject.as_ref()))
                    .map(|r| r.common_name.unwrap_or(r.subject))
                    .unwrap_or_else(|| "a pinned root".to_string()),
            );
            let chains_to = format!("chains to {}", names.join(" -> "));
            match legacy_path(chain, leaf) {
                Some(path) if trust.legacy_g1 => check.warn(
                    Reason::CertLegacyG1,
                    format!(
                        "{}, trusted because the profile sets legacy_g1 = true; Spine's G2 services will refuse it ({chains_to})",
                        super::legacy::described(&path)
                    ),
                ),
                _ => check.pass(chains_to),
            }
        }
        Err(webpki::Error::UnknownIssuer) if legacy_path(chain, leaf).is_some() => check.fail(
            Reason::CertLegacyG1,
            format!(
                "{}, which this profile does not trust",
                super::legacy::described(&legacy_path(chain, leaf).unwrap_or_default())
            ),
        ),
        Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }) => check
            .fail(
                Reason::CertUntrustedIssuer,
                "a CA certificate in the chain is outside its validity period",
            ),
        // A certificate made with `openssl req -x509` (a test one, or one made while waiting for
        // the real one): said as such, since no issuer can be found for it.
        Err(e) if leaf.self_signed => check.with_detail(|d| d.error = Some(e.to_string())).fail(
            Reason::CertUntrustedIssuer,
            format!(
                "the certificate is self-signed ({}): servers that pin the profile's anchors ({}) accept only certificates issued under them",
                leaf.subject, trust.source
            ),
        ),
        Err(e) => check.with_detail(|d| d.error = Some(e.to_string())).fail(
            Reason::CertUntrustedIssuer,
            format!(
                "issued by {}, which does not chain to the profile's anchors ({})",
                leaf.issuer,
                match e {
                    webpki::Error::UnknownIssuer => "unknown issuer",
                    webpki::Error::InvalidSignatureForPublicKey => {
                        "a CA of that name, but not the pinned one: the signature does not verify"
                    }
                    _ => "the chain breaks a certificate rule; the details say which",
                }
            ),
        ),
    }
}

#[cfg(unix)]
fn key_permissions(check: Check, key: &std::path::Path) -> Option<Check> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(key).ok()?.permissions().mode() & 0o777;
    let check = check.with_detail(|d| d.identity().key_mode = Some(format!("{mode:04o}")));
    Some(if mode & 0o077 != 0 {
        check.warn(
            Reason::CertKeyPermissions,
            format!(
                "the key file {} has mode {mode:04o}: other users can read it",
                key.display()
            ),
        )
    } else {
        check.pass(format!("the key file is private (mode {mode:04o})"))
    })
}

#[cfg(not(unix))]
fn key_permissions(_check: Check, _key: &std::path::Path) -> Option<Check> {
    None
}

/// The MESH API's client certificates are named `LOCALID.ODS.api.mesh-client.nhs.uk` (the MESH
/// API specification); Spine endpoint certificates carry the FQDN registered in SDS.
const MESH_CLIENT_SUFFIX: &str = ".api.mesh-client.nhs.uk";

/// Which of the profile's mutual-TLS endpoints the client certificate can serve, said before any
/// handshake: a MESH API certificate for Spine endpoints, or a Spine endpoint certificate for
/// MESH, is a `cert.wrong_service` warning naming the endpoints and the convention. The chain
/// cannot say which environment a certificate is for (INT and DEP share one SubCA): the message
/// says so, and the registration checks (SDS) decide.
pub fn purpose(
    verdict: &mut IdentityVerdict,
    paths: &ClientPaths,
    profile: &crate::profile::Profile,
) {
    let Ok(chain) = pki::read_certificates(&paths.cert) else {
        return;
    };
    let Some(leaf) = chain.first().and_then(CertInfo::of) else {
        return;
    };
    let mut names: Vec<String> = leaf.dns_names.clone().unwrap_or_default();
    names.extend(leaf.common_name.clone());
    let shown = names
        .first()
        .cloned()
        .unwrap_or_else(|| "no name".to_string());
    let is_mesh = |e: &crate::profile::Endpoint| {
        url::Url::parse(&e.url.raw).is_ok_and(|u| u.path().starts_with("/messageexchange"))
            || e.mesh.is_some()
    };
    let mtls: Vec<&crate::profile::Endpoint> =
        profile.endpoints.iter().filter(|e| e.mtls).collect();
    if mtls.is_empty() {
        return;
    }
    let mesh: Vec<&str> = mtls
        .iter()
        .filter(|e| is_mesh(e))
        .map(|e| e.name.as_str())
        .collect();
    let spine: Vec<&str> = mtls
        .iter()
        .filter(|e| !is_mesh(e))
        .map(|e| e.name.as_str())
        .collect();
    let mesh_certificate = names
        .iter()
        .any(|n| n.to_ascii_lowercase().ends_with(MESH_CLIENT_SUFFIX));
    let check = Check::new(
        IDENTITY,
        CheckKind::Identity,
        paths.cert.display().to_string(),
    );
    let environment = "the chain cannot tell INT from DEP (they share one SubCA): the FQDN's registration in SDS decides";
    let check = if mesh_certificate && !spine.is_empty() {
        check.warn(
            Reason::CertWrongService,
            format!(
                "{shown} is a MESH API certificate (LOCALID.ODS.api.mesh-client.nhs.uk), which only MESH accepts: {} expect your Spine endpoint certificate, issued for the FQDN registered in SDS",
                list(&spine)
            ),
        )
    } else if !mesh_certificate && !mesh.is_empty() && spine.is_empty() {
        check.warn(
            Reason::CertWrongService,
            format!(
                "{shown} is not a MESH API certificate: {} expect one named LOCALID.ODS.api.mesh-client.nhs.uk (the MESH API's convention)",
                list(&mesh)
            ),
        )
    } else if mesh_certificate {
        check.pass(format!(
            "{shown} is a MESH API certificate, for {}; {environment}",
            list(&mesh)
        ))
    } else {
        check.pass(format!(
            "{shown} is a Spine endpoint certificate, for {}{}; {environment}",
            list(&spine),
            if mesh.is_empty() {
                String::new()
            } else {
                format!(
                    " (MESH over the internet ({}) expects a MESH API certificate, LOCALID.ODS.api.mesh-client.nhs.uk)",
                    mesh.join(", ")
                )
            }
        ))
    };
    verdict.checks.push(check);
}

/// `a, b and 2 more`: endpoint names, bounded.
fn list(names: &[&str]) -> String {
    match names.len() {
        0 => "no endpoint".to_string(),
        1..=3 => names.join(", "),
        n => format!("{} and {} more", names[..3].join(", "), n - 3),
    }
}

/// The client certificate against the CRLs given (none given: no row). webpki decides whether it
/// is revoked (the CRL's signature checked against the issuer); the entry gives the words.
fn revocation(
    check: Check,
    chain: &[CertificateDer<'static>],
    against: pki::Against<'_>,
    leaf: &CertInfo,
) -> Option<Check> {
    let pki::Against {
        trust,
        algs,
        now: at,
    } = against;
    if trust.crls.is_empty() {
        return None;
    }
    let from_issuer: Vec<&pki::crl::LoadedCrl> = trust
        .crls
        .iter()
        .filter(|c| c.issuer == leaf.issuer)
        .map(|c| &**c)
        .collect();
    if from_issuer.is_empty() {
        return Some(check.warn(
            Reason::CrlStatusUnknown,
            format!(
                "none of the CRL files given is from the certificate's issuer ({}): its revocation status is unknown",
                leaf.issuer
            ),
        ));
    }
    // A list that carries the issuer's name but not its signature is not believed, whatever it
    // lists (webpki passes over it as "not authoritative").
    let issuer_cert = chain[1..]
        .iter()
        .chain(&trust.intermediates)
        .chain(&trust.roots)
        .find(|c| CertInfo::of(c).is_some_and(|i| i.subject == leaf.issuer));
    if let Some(forged) = from_issuer
        .iter()
        .find(|c| issuer_cert.is_some_and(|issuer| !c.signed_by(issuer)))
    {
        return Some(check.warn(
            Reason::CrlStatusUnknown,
            format!(
                "the CRL {} carries the issuer's name but not its signature: it cannot be trusted, so the revocation status is unknown",
                forged.path.display()
            ),
        ));
    }
    // Nor is one RFC 5280 does not let a client use (as for server chains).
    let no_crl_sign = issuer_cert
        .and_then(CertInfo::of)
        .is_some_and(|issuer| issuer.crl_sign == Some(false))
        .then(|| "its issuer's keyUsage does not allow cRLSign; RFC 5280 (4.2.1.3) requires it for a CA that issues CRLs".to_string());
    if let Some((list, why)) = from_issuer
        .iter()
        .find_map(|c| Some((c, c.nonconformant.clone().or(no_crl_sign.clone())?)))
    {
        return Some(check.warn(
            Reason::CrlStatusUnknown,
            format!(
                "the CRL {} cannot be used: {why}; the revocation status is unknown",
                list.path.display()
            ),
        ));
    }
    let lists: Vec<&webpki::CertRevocationList<'_>> = from_issuer.iter().map(|c| &c.crl).collect();
    let options = pki::crl::options(&lists, webpki::RevocationCheckDepth::EndEntity)?;
    let ee = webpki::EndEntityCert::try_from(&chain[0]).ok()?;
    let mut pool: Vec<CertificateDer<'static>> = chain[1..].to_vec();
    pool.extend(trust.intermediates.iter().cloned());
    let inside = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        leaf.not_before.max(0) as u64 + 1,
    ));
    let result = ee.verify_for_usage(
        algs,
        &trust.anchors,
        &pool,
        inside,
        AnyUsage,
        Some(options),
        None,
    );
    let named = from_issuer
        .iter()
        .map(|c| c.path.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    match result {
        Err(webpki::Error::CertRevoked) => {
            let entry = from_issuer
                .iter()
                .find_map(|c| c.revocation_of(&leaf.serial_der));
            let when = entry
                .as_ref()
                .map(|e| format!(" on {}", rfc3339(e.date)))
                .unwrap_or_default();
            let why = entry
                .and_then(|e| e.reason)
                .map(|r| format!(" (reason: {r})"))
                .unwrap_or_default();
            Some(check.fail(
                Reason::CertRevoked,
                format!(
                    "revoked{when}{why} by its issuer ({}), according to {named}: servers refuse it",
                    leaf.issuer
                ),
            ))
        }
        Err(
            webpki::Error::InvalidCrlSignatureForPublicKey
            | webpki::Error::IssuerNotCrlSigner
            | webpki::Error::UnsupportedCrlSignatureAlgorithmContext(_)
            | webpki::Error::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(_),
        ) => Some(check.warn(
            Reason::CrlStatusUnknown,
            format!(
                "the CRL {named} carries the issuer's name but not its signature: it cannot be trusted, so the revocation status is unknown"
            ),
        )),
        Err(_) => None,
        Ok(_) => {
            let now = at.as_secs() as i64;
            let newest = from_issuer.iter().max_by_key(|c| c.this_update)?;
            match newest.next_update.filter(|next| *next < now) {
                Some(next) => Some(check.warn(
                    Reason::CrlStatusUnknown,
                    format!(
                        "not on the CRL {named}, but that list expired on {} (its nextUpdate): a later revocation would not show, so the status is unknown",
                        rfc3339(next)
                    ),
                )),
                None => Some(check.pass(format!(
                    "not revoked, according to its issuer's CRL of {} ({named})",
                    rfc3339(newest.this_update)
                ))),
            }
        }
    }
}
