//! Certificate revocation lists read from files (`[trust] crl_files`, `--crl-file`): parsed and
//! bounded once, then used by the client-identity checks (`cert.revoked`) and, when the profile
//! asks for it (`[trust] revocation`), by the server-chain verdict (`tls.revoked`). webpki checks
//! a CRL's signature against the certificate's issuer; the entry's date and reason come from
//! x509-parser for the words.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::UsageError;
use crate::profile::io_reason;

/// A CRL file larger than this is refused (the INT SubCA's is a few kilobytes).
pub const MAX_CRL_BYTES: u64 = 16 << 20;

/// One CRL, ready for webpki and for reports.
#[derive(Debug)]
pub struct LoadedCrl {
    pub path: PathBuf,
    /// The list as read (DER), for its signature check.
    pub der: Vec<u8>,
    pub crl: webpki::CertRevocationList<'static>,
    /// The issuer's name as reports write it (`C=GB, O=nhs, ...`).
    pub issuer: String,
    /// `thisUpdate` and `nextUpdate` (seconds since the epoch; no nextUpdate: `None`).
    pub this_update: i64,
    pub next_update: Option<i64>,
    /// What makes the list unusable by RFC 5280 (5.2.3: a CRL number, not critical), said in
    /// words: clients that follow the RFC refuse it, so the status it gives is unknown.
    pub nonconformant: Option<String>,
}

/// A revoked certificate's entry, for the words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub date: i64,
    pub reason: Option<String>,
}

impl LoadedCrl {
    /// Reads and parses a CRL file (PEM or DER).
    pub fn read(path: &Path) -> Result<LoadedCrl, UsageError> {
        let refuse = |why: String| {
            UsageError::new(format!("{}: {why}", path.display()))
                .hint("give a certificate revocation list as its issuer publishes it (PEM `-----BEGIN X509 CRL-----` or DER), e.g. from the CRL distribution point in the certificate (`int-check certs inspect` shows it)")
        };
        let size = std::fs::metadata(path)
            .map_err(|e| refuse(format!("cannot read it: {}", io_reason(&e))))?
            .len();
        if size > MAX_CRL_BYTES {
            return Err(refuse(format!(
                "{size} bytes: larger than the {} MiB a CRL file may be",
                MAX_CRL_BYTES >> 20
            )));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| refuse(format!("cannot read it: {}", io_reason(&e))))?;
        LoadedCrl::parse(bytes, path.to_path_buf()).map_err(refuse)
    }

    /// Parses a CRL (PEM or DER) that came from `source` (a file, or the URL it was fetched
    /// from); the error says why it is not a CRL clients can use.
    pub fn parse(bytes: Vec<u8>, source: PathBuf) -> Result<LoadedCrl, String> {
        let der = match std::str::from_utf8(&bytes)
            .ok()
            .filter(|t| t.contains("-----BEGIN X509 CRL-----"))
        {
            Some(text) => {
                use rustls::pki_types::pem::PemObject;
                rustls::pki_types::CertificateRevocationListDer::from_pem_slice(text.as_bytes())
                    .map_err(|_| "its PEM block cannot be decoded".to_string())?
                    .as_ref()
                    .to_vec()
            }
            None => bytes,
        };
        let (_, parsed) = x509_parser::parse_x509_crl(&der)
            .map_err(|_| "it is not a certificate revocation list".to_string())?;
        let issuer = crate::text::untrusted(&parsed.issuer().to_string()).into_owned();
        let this_update = parsed.last_update().timestamp();
        let crl_number = parsed
            .extensions()
            .iter()
            .find(|e| e.oid == x509_parser::oid_registry::OID_X509_EXT_CRL_NUMBER);
        let nonconformant = match crl_number {
            None => Some("it has no CRL number; RFC 5280 (5.2.3) requires one".to_string()),
            Some(e) if e.critical => Some(
                "its CRL number is marked critical; RFC 5280 (5.2.3) requires it not to be"
                    .to_string(),
            ),
            Some(_) => None,
        };
        let next_update = parsed.next_update().map(|t| t.timestamp());
        let owned = webpki::OwnedCertRevocationList::from_der(&der).map_err(|e| {
            use webpki::Error as E;
            let why = match e {
                E::UnsupportedCrlVersion => "it is not a version 2 CRL",
                E::UnsupportedDeltaCrl => "it is a delta CRL, which clients do not use",
                E::UnsupportedIndirectCrl => "it is an indirect CRL, which clients do not use",
                E::UnsupportedCrlIssuingDistributionPoint => {
                    "its issuing distribution point is of a kind clients do not support"
                }
                E::UnsupportedRevocationReason => {
                    "it lists a revocation reason that is not defined"
                }
                _ => "it is malformed, or lacks what clients need (version 2, nextUpdate)",
            };
            format!("a CRL clients cannot use: {why}")
        })?;
        Ok(LoadedCrl {
            path: source,
            der: der.clone(),
            crl: webpki::CertRevocationList::from(owned),
            issuer,
            this_update,
            next_update,
            nonconformant,
        })
    }

    /// Whether the list is signed by the key of `issuer` (a certificate, DER).
    pub fn signed_by(&self, issuer: &rustls::pki_types::CertificateDer<'_>) -> bool {
        let Ok((_, issuer)) = x509_parser::parse_x509_certificate(issuer.as_ref()) else {
            return false;
        };
        x509_parser::parse_x509_crl(&self.der)
            .is_ok_and(|(_, crl)| crl.verify_signature(issuer.public_key()).is_ok())
    }

    /// The entry for a serial number (big-endian bytes, as in the certificate), if listed.
    pub fn revocation_of(&self, serial: &[u8]) -> Option<Revocation> {
        let entry = self.crl.find_serial(serial).ok()??;
        Some(Revocation {
            date: entry.revocation_date.as_secs() as i64,
            reason: entry.reason_code.map(|r| reason_words(r).to_string()),
        })
    }
}

/// webpki's revocation options over `lists` at `depth`: an unlisted certificate passes (a list
/// need not cover it), an expired list is judged apart (it is reported, not a failure).
pub fn options<'a>(
    lists: &'a [&'a webpki::CertRevocationList<'a>],
    depth: webpki::RevocationCheckDepth,
) -> Option<webpki::RevocationOptions<'a>> {
    Some(
        webpki::RevocationOptionsBuilder::new(lists)
            .ok()?
            .with_depth(depth)
            .with_status_policy(webpki::UnknownStatusPolicy::Allow)
            .with_expiration_policy(webpki::ExpirationPolicy::Ignore)
            .build(),
    )
}

/// Reads every CRL file, in order.
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<Arc<LoadedCrl>>, UsageError> {
    paths
        .iter()
        .map(|p| LoadedCrl::read(p).map(Arc::new))
        .collect()
}

fn reason_words(reason: webpki::RevocationReason) -> &'static str {
    use webpki::RevocationReason as R;
    match reason {
        R::Unspecified => "unspecified",
        R::KeyCompromise => "key compromise",
        R::CaCompromise => "CA compromise",
        R::AffiliationChanged => "affiliation changed",
        R::Superseded => "superseded (a replacement was issued)",
        R::CessationOfOperation => "cessation of operation",
        R::CertificateHold => "certificate hold",
        R::RemoveFromCrl => "remove from CRL",
        R::PrivilegeWithdrawn => "privilege withdrawn",
        R::AaCompromise => "AA compromise",
    }
}
