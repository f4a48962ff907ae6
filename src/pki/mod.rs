//! Trust anchors, certificate files and the client identity: everything read from disk about PKI.
//! Files are untrusted input: size-bounded, PEM or DER, each failure a one-line reason.

pub mod conformance;
pub mod crl;
pub mod identity;
pub mod legacy;

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor, UnixTime};
use serde_json::{Value, json};

use crate::error::UsageError;
use crate::profile::io_reason;

/// The built-in NHS PTL Root Authority G2 (SHA-256 54:0F:7C:D6...:7F:8F).
pub const G2_ROOT_PEM: &str = include_str!("../../fixtures/nhs-ptl-root-authority-g2.pem");
/// The built-in NHS INT Authentication G2 SubCA (SHA-256 EB:17:B9:FE...:F8:57).
pub const G2_INT_SUBCA_PEM: &str = include_str!("../../fixtures/nhs-int-authentication-g2.pem");

/// Certificate and key files larger than this are not certificate files.
const MAX_PKI_FILE_BYTES: u64 = 1 << 20;

/// What a chain is judged against: the endpoint's anchors (with its CRLs and rules), the crypto
/// provider's signature algorithms, and the instant.
#[derive(Clone, Copy)]
pub struct Against<'a> {
    pub trust: &'a TrustStore,
    pub algs: &'a [&'a dyn rustls::pki_types::SignatureVerificationAlgorithm],
    pub now: UnixTime,
}

impl<'a> Against<'a> {
    pub fn new(
        trust: &'a TrustStore,
        provider: &'a rustls::crypto::CryptoProvider,
        now: UnixTime,
    ) -> Against<'a> {
        Against {
            trust,
            algs: provider.signature_verification_algorithms.all,
            now,
        }
    }
}

/// What a run trusts: roots (anchors) and intermediates it may use to complete a chain.
#[derive(Clone, Debug)]
pub struct TrustStore {
    /// Where the anchors came from, for the report ("built-in G2" or file names).
    pub source: String,
    pub roots: Vec<CertificateDer<'static>>,
    pub intermediates: Vec<CertificateDer<'static>>,
    pub anchors: Vec<TrustAnchor<'static>>,
    /// The legacy G1 hierarchy was added on purpose (`legacy_g1 = true`): chains under it are
    /// trusted, with a warning.
    pub legacy_g1: bool,
    /// Revocation lists (`crl_files`), for the identity and, per `revocation`, server chains.
    pub crls: Vec<std::sync::Arc<crl::LoadedCrl>>,
    pub revocation: crate::profile::RevocationMode,
}

impl TrustStore {
    /// The profile's own anchors: its `ca_files`, or the built-in G2 chain.
    pub fn for_profile(profile: &crate::profile::Profile) -> Result<TrustStore, UsageError> {
        let store = if profile.ca_files.is_empty() {
            TrustStore::builtin()
        } else {
            TrustStore::from_files(&profile.ca_files)?
        };
        let mut store = if profile.legacy_g1 {
            store.with_legacy_g1()
        } else {
            store
        };
        store.crls = crl::read_all(&profile.crl_files)?;
        store.revocation = profile.revocation;
        Ok(store)
    }

    /// These anchors plus the legacy G1 root and its two Level 1C CAs.
    pub fn with_legacy_g1(mut self) -> TrustStore {
        let mut g1 = legacy::certificates().into_iter();
        if let Some(root) = g1.next() {
            if let Ok(anchor) = webpki::anchor_from_trusted_cert(&root) {
                self.anchors.push(anchor.to_owned());
            }
            self.roots.push(root);
        }
        self.intermediates.extend(g1);
        self.source
            .push_str(" + legacy G1 (NHS PTL Root Authority, NHS INT/DEP Level 1C)");
        self.legacy_g1 = true;
        self
    }

    /// The built-in G2 chain: root as anchor, INT SubCA as known intermediate.
    pub fn builtin() -> TrustStore {
        let parse = |pem: &str| {
            CertificateDer::from_pem_slice(pem.as_bytes()).expect("embedded G2 PEM is valid")
        };
        Self::from_certs(
            "built-in NHS PTL Root Authority G2 + NHS INT Authentication G2".to_string(),
            vec![parse(G2_ROOT_PEM), parse(G2_INT_SUBCA_PEM)],
        )
        .expect("embedded G2 certificates are usable anchors")
    }

    /// The public web roots (Mozilla's list, from webpki-roots), for internet services. Only the
    /// anchors' names and keys are built in, not the certificates: no root expiry is reported.
    pub fn public() -> TrustStore {
        TrustStore {
            source: "public web roots (Mozilla's list, built in)".to_string(),
            roots: Vec::new(),
            intermediates: Vec::new(),
            anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            legacy_g1: false,
            crls: Vec::new(),
            revocation: Default::default(),
        }
    }

    /// From `--ca-file`s: self-signed certificates become roots, the others known intermediates.
    pub fn from_files(files: &[PathBuf]) -> Result<TrustStore, UsageError> {
        let mut certs = Vec::new();
        for file in files {
            certs.extend(read_certificates(file)?);
        }
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        Self::from_certs(names.join(", "), certs)
    }

    /// From certificates: self-signed ones become roots (anchors), the others known intermediates.
    pub fn from_certs(
        source: String,
        certs: Vec<CertificateDer<'static>>,
    ) -> Result<TrustStore, UsageError> {
        let (roots, intermediates): (Vec<_>, Vec<_>) = certs
            .into_iter()
            .partition(|c| CertInfo::of(c).is_some_and(|i| i.self_signed));
        if roots.is_empty() {
            return Err(UsageError::new(format!(
                "no root certificate among the trust anchors ({source})"
            ))
            .hint("include the self-signed root (for INT: NHS PTL Root Authority G2) as well as the SubCA"));
        }
        let mut anchors = Vec::with_capacity(roots.len());
        for root in &roots {
            let anchor = webpki::anchor_from_trusted_cert(root).map_err(|_| {
                UsageError::new(format!(
                    "a root certificate in {source} cannot be used as a trust anchor (it is not a valid X.509 CA certificate)"
                ))
                .hint("check the file with `int-check certs inspect`: an anchor must be a self-signed CA certificate")
            })?;
            anchors.push(anchor.to_owned());
        }
        Ok(TrustStore {
            source,
            roots,
            intermediates,
            anchors,
            legacy_g1: false,
            crls: Vec::new(),
            revocation: Default::default(),
        })
    }
}

/// Reads every certificate in a PEM or DER file.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, UsageError> {
    let bytes = read_pki_file(path, "certificate")?;
    let pem_items: Vec<_> = CertificateDer::pem_slice_iter(&bytes).collect();
    let certs: Vec<CertificateDer<'static>> = if pem_items.is_empty() {
        // No PEM sections: maybe DER (the NHS page tells people to name PEM files .der, and vice versa).
        if bytes.first() == Some(&0x30)
            && CertInfo::of(&CertificateDer::from(bytes.as_slice())).is_some()
        {
            vec![CertificateDer::from(bytes.clone())]
        } else {
            if let Some(named) = mixed_up(path, &bytes, "certificate") {
                return Err(named);
            }
            return Err(UsageError::new(format!(
                "{} holds no certificate (neither PEM nor DER)",
                path.display()
            ))
            .hint("expected -----BEGIN CERTIFICATE----- blocks; the NHS page prints each certificate on one line: split the base64 into 64-character lines"));
        }
    } else {
        let mut certs = Vec::new();
        for item in pem_items {
            certs.push(item.map_err(|e| pem_error(path, &bytes, &e))?);
        }
        certs
    };
    if certs.is_empty() {
        return Err(mixed_up(path, &bytes, "certificate").unwrap_or_else(|| {
            UsageError::new(format!("{} holds no certificate", path.display()))
                .hint("a private key or other PEM block is not a certificate")
        }));
    }
    for cert in &certs {
        if CertInfo::of(cert).is_none() {
            return Err(UsageError::new(format!(
                "{} contains data that is not an X.509 certificate",
                path.display()
            ))
            .hint(
                "re-copy the certificate text exactly; a truncated or edited PEM block fails here",
            ));
        }
    }
    Ok(certs)
}

/// The names the profile's client certificate is issued for (see `names_in_certificate`); empty
/// without a client identity.
pub fn client_names(profile: &crate::profile::Profile) -> Vec<String> {
    profile
        .client
        .as_ref()
        .map(|c| names_in_certificate(&c.cert))
        .unwrap_or_default()
}

/// The names a client certificate file's leaf is issued for (CN and DNS SANs); empty when the
/// file cannot be read (the identity phase says why).
pub fn names_in_certificate(path: &Path) -> Vec<String> {
    let Some(leaf) = read_certificates(path)
        .ok()
        .and_then(|chain| chain.first().and_then(CertInfo::of))
    else {
        return Vec::new();
    };
    let mut names = leaf.dns_names.unwrap_or_default();
    names.extend(leaf.common_name);
    names.dedup();
    names
}

/// Explains a PEM syntax error, recognising the NHS page's one-line certificates.
fn pem_error(path: &Path, bytes: &[u8], error: &rustls::pki_types::pem::Error) -> UsageError {
    use rustls::pki_types::pem::Error as E;
    let text = String::from_utf8_lossy(bytes);
    let one_line = text.lines().any(|line| {
        line.trim_start().starts_with("-----BEGIN")
            && line.trim_end().len() > 40
            && line.trim_end().ends_with("-----")
            && line.matches("-----").count() > 2
    });
    if one_line {
        return UsageError::new(format!(
            "{} holds a certificate on one line (as the NHS page prints it), which is not valid PEM",
            path.display()
        ))
        .hint("put -----BEGIN CERTIFICATE----- and -----END CERTIFICATE----- on lines of their own and split the base64 between them into lines of 64 characters");
    }
    let what = match error {
        E::MissingSectionEnd { .. } => {
            "a -----BEGIN line has no matching -----END line".to_string()
        }
        E::IllegalSectionStart { .. } => "a -----BEGIN line is malformed".to_string(),
        E::Base64Decode(_) => "the base64 text between BEGIN and END is damaged".to_string(),
        other => other.to_string(),
    };
    UsageError::new(format!("{} is not valid PEM: {what}", path.display()))
        .hint("each certificate must sit between -----BEGIN CERTIFICATE----- and -----END CERTIFICATE----- lines, base64 in lines of 64 characters; re-copy it exactly")
}

/// Reads a private key (PKCS#8, PKCS#1 or SEC1; PEM or DER). Its bytes are never shown.
pub fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, UsageError> {
    let bytes = read_pki_file(path, "key")?;
    if let Ok(key) = PrivateKeyDer::from_pem_slice(&bytes) {
        return Ok(key);
    }
    let encrypted = String::from_utf8_lossy(&bytes).contains("ENCRYPTED PRIVATE KEY");
    // A DER key and a DER certificate or PKCS#12 bundle all start alike: name the mix-ups first
    // (an encrypted key beside its certificate is the encrypted key's problem, not a mix-up).
    if !encrypted && let Some(named) = mixed_up(path, &bytes, "key") {
        return Err(named);
    }
    PrivateKeyDer::try_from(bytes).map_err(|_| {
        if encrypted {
            UsageError::new(format!("{} holds an encrypted private key; int-check never asks for its password (it runs unattended, in CI)", path.display()))
                .hint("decrypt it once to a file only you can read: openssl pkey -in KEY -out key-plain.pem && chmod 600 key-plain.pem, then pass --client-key key-plain.pem")
        } else {
            UsageError::new(format!(
                "{} holds no private key (PKCS#8, PKCS#1 or SEC1, PEM or DER)",
                path.display()
            ))
            .hint("check --client-key points at the key file, not the certificate (`int-check certs inspect FILE` tells what a file holds)")
        }
    })
}

fn read_pki_file(path: &Path, what: &str) -> Result<Vec<u8>, UsageError> {
    let unreadable = |reason: String| {
        UsageError::new(format!("cannot read {what} file {}: {reason}", path.display()))
            .hint("check the path and that this user can read it; relative paths in a profile are taken from the profile's folder")
    };
    let meta = std::fs::metadata(path).map_err(|e| unreadable(io_reason(&e)))?;
    if meta.is_dir() {
        return Err(unreadable("it is a directory".to_string()));
    }
    if meta.len() > MAX_PKI_FILE_BYTES {
        return Err(unreadable(format!(
            "{} bytes is too large for a {what} file",
            meta.len()
        )));
    }
    std::fs::read(path).map_err(|e| unreadable(io_reason(&e)))
}

/// The facts about one certificate that reports show.
#[derive(Clone, Debug)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    /// DNS names from the subjectAltName extension; `None` when there is no SAN extension.
    pub dns_names: Option<Vec<String>>,
    pub not_before: i64,
    pub not_after: i64,
    pub self_signed: bool,
    pub sha256: String,
    pub serial: String,
    /// "RSA 4096 bits", "EC 256 bits", ...
    pub key: String,
    /// RSA modulus size, when RSA.
    pub rsa_bits: Option<usize>,
    /// `None` when there is no extendedKeyUsage extension; else whether it allows clientAuth.
    pub client_auth_eku: Option<bool>,
    /// The DER of the subject name.
    pub subject_der: Vec<u8>,
    /// The signature algorithm, by name (`sha256WithRSAEncryption`, `ecdsa-with-SHA1`, ...).
    pub signature_algorithm: String,
    /// SHA-1 or MD5: broken for signatures.
    pub weak_signature: bool,
    /// basicConstraints: `Some(pathlen)` for a CA (`Some(None)` without a limit), `None` otherwise.
    pub ca: Option<Option<u32>>,
    /// `None` without an extendedKeyUsage extension; else whether it allows serverAuth.
    pub server_auth_eku: Option<bool>,
    /// `None` without a keyUsage extension; else whether it allows digitalSignature and
    /// keyEncipherment.
    pub key_usage: Option<(bool, bool)>,
    /// Critical extensions this tool does not know (by OID).
    pub unknown_critical: Vec<String>,
    /// nameConstraints on DNS names, when the certificate (a CA) has them.
    pub dns_constraints: Option<DnsConstraints>,
    /// Attributes in the subject name (a name-constraint check compares each).
    pub subject_attributes: usize,
    /// The X.509 version: 1, 2 or 3.
    pub version: u32,
    /// The DER of the issuer name (a self-issued certificate has it equal to `subject_der`).
    pub issuer_der: Vec<u8>,
    /// `None` without a keyUsage extension; else whether it allows keyCertSign.
    pub key_cert_sign: Option<bool>,
    /// `None` without a keyUsage extension; else whether it allows cRLSign.
    pub crl_sign: Option<bool>,
    /// The serial number's bytes, as a CRL lists them.
    pub serial_der: Vec<u8>,
    /// Where its issuer publishes revocation: CRL distribution points and OCSP responders (URLs).
    pub crl_points: Vec<String>,
    pub ocsp: Vec<String>,
    /// Whether the signature algorithm outside and inside the signed part agree (RFC 5280
    /// 4.1.1.2 requires it).
    pub signature_fields_agree: bool,
}

/// A CA's nameConstraints on DNS names (RFC 5280 4.2.1.10): a name below it must lie in one of
/// the permitted subtrees (when any are listed) and in none of the excluded ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsConstraints {
    pub permitted: Vec<String>,
    pub excluded: Vec<String>,
    /// Subtrees of every name type, for the bound on comparisons.
    pub subtrees: usize,
}

impl DnsConstraints {
    /// Whether `host` is allowed under these constraints.
    pub fn allows(&self, host: &str) -> bool {
        (self.permitted.is_empty() || self.permitted.iter().any(|c| dns_within(host, c)))
            && !self.excluded.iter().any(|c| dns_within(host, c))
    }
}

/// Whether `host` lies in the DNS subtree `constraint`: the name itself or any name below it
/// (`example.com` holds `a.example.com`; `.example.com` only the names below it).
fn dns_within(host: &str, constraint: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let constraint = constraint.trim_end_matches('.').to_ascii_lowercase();
    if constraint.is_empty() {
        return true;
    }
    if let Some(below) = constraint.strip_prefix('.') {
        return host.ends_with(&format!(".{below}"));
    }
    host == constraint || host.ends_with(&format!(".{constraint}"))
}

impl CertInfo {
    /// Parses a certificate; `None` when it is not valid X.509.
    pub fn of(der: &CertificateDer<'_>) -> Option<CertInfo> {
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(|cn| crate::text::untrusted(cn).into_owned());
        let dns_names = cert.subject_alternative_name().ok().flatten().map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    x509_parser::extensions::GeneralName::DNSName(n) => {
                        Some(crate::text::untrusted(n).into_owned())
                    }
                    _ => None,
                })
                .collect()
        });
        let (key, rsa_bits) = match cert.public_key().parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
                (format!("RSA {} bits", rsa.key_size()), Some(rsa.key_size()))
            }
            Ok(x509_parser::public_key::PublicKey::EC(ec)) => {
                (format!("EC {} bits", ec.key_size()), None)
            }
            Ok(other) => (format!("{} bits", other.key_size()), None),
            Err(_) => ("unknown key".to_string(), None),
        };
        let client_auth_eku = cert
            .extended_key_usage()
            .ok()
            .flatten()
            .map(|eku| eku.value.client_auth || eku.value.any);
        let server_auth_eku = cert
            .extended_key_usage()
            .ok()
            .flatten()
            .map(|eku| eku.value.server_auth || eku.value.any);
        let key_usage = cert
            .key_usage()
            .ok()
            .flatten()
            .map(|ku| (ku.value.digital_signature(), ku.value.key_encipherment()));
        let ca = match cert.basic_constraints() {
            Ok(Some(bc)) if bc.value.ca => Some(bc.value.path_len_constraint),
            _ => None,
        };
        let sig_oid = cert.signature_algorithm.algorithm.to_id_string();
        let (signature_algorithm, weak_signature) = signature_name(&sig_oid);
        const KNOWN: [&str; 9] = [
            "2.5.29.15", // keyUsage
            "2.5.29.17", // subjectAltName
            "2.5.29.19", // basicConstraints
            "2.5.29.37", // extendedKeyUsage
            "2.5.29.30", // nameConstraints
            "2.5.29.32", // certificatePolicies
            "2.5.29.36", // policyConstraints
            "2.5.29.54", // inhibitAnyPolicy
            "2.5.29.14", // subjectKeyIdentifier
        ];
        let unknown_critical = cert
            .extensions()
            .iter()
            .filter(|e| e.critical)
            .map(|e| e.oid.to_id_string())
            .filter(|oid| !KNOWN.contains(&oid.as_str()))
            .collect();
        let dns_constraints = cert.name_constraints().ok().flatten().map(|nc| {
            let dns = |subtrees: &Option<Vec<x509_parser::extensions::GeneralSubtree>>| {
                subtrees
                    .iter()
                    .flatten()
                    .filter_map(|t| match t.base {
                        x509_parser::extensions::GeneralName::DNSName(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect::<Vec<String>>()
            };
            let count = |s: &Option<Vec<x509_parser::extensions::GeneralSubtree>>| {
                s.as_ref().map_or(0, Vec::len)
            };
            DnsConstraints {
                permitted: dns(&nc.value.permitted_subtrees),
                excluded: dns(&nc.value.excluded_subtrees),
                subtrees: count(&nc.value.permitted_subtrees) + count(&nc.value.excluded_subtrees),
            }
        });
        Some(CertInfo {
            subject_attributes: cert.subject().iter_attributes().count(),
            version: cert.version().0 + 1,
            issuer_der: cert.issuer().as_raw().to_vec(),
            serial_der: cert.raw_serial().to_vec(),
            crl_points: revocation_points(&cert).0,
            ocsp: revocation_points(&cert).1,
            key_cert_sign: cert
                .key_usage()
                .ok()
                .flatten()
                .map(|ku| ku.value.key_cert_sign()),
            crl_sign: cert
                .key_usage()
                .ok()
                .flatten()
                .map(|ku| ku.value.crl_sign()),
            signature_fields_agree: cert.signature_algorithm == cert.tbs_certificate.signature,
            dns_constraints,
            signature_algorithm,
            weak_signature,
            ca,
            server_auth_eku,
            key_usage,
            unknown_critical,
            serial: cert.raw_serial_as_string(),
            key,
            rsa_bits,
            client_auth_eku,
            subject_der: cert.subject().as_raw().to_vec(),
            // Names are whatever the certificate's maker wrote: shown escaped and bounded.
            subject: crate::text::untrusted(&cert.subject().to_string()).into_owned(),
            issuer: crate::text::untrusted(&cert.issuer().to_string()).into_owned(),
            common_name,
            dns_names,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
            sha256: fingerprint(der.as_ref()),
        })
    }

    /// Whether a subject name (with or without its outer SEQUENCE header) is this one's.
    pub fn subject_raw_matches(&self, name: &[u8]) -> bool {
        let der = self.subject_der.as_slice();
        der == name || (der.len() > name.len() && der.ends_with(name) && der[0] == 0x30)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": rfc3339(self.not_before),
            "not_after": rfc3339(self.not_after),
            "sha256": self.sha256,
        })
    }
}

/// A signature algorithm's name, and whether it is broken (SHA-1, MD5).
fn signature_name(oid: &str) -> (String, bool) {
    let (name, weak) = match oid {
        "1.2.840.113549.1.1.4" => ("md5WithRSAEncryption", true),
        "1.2.840.113549.1.1.5" => ("sha1WithRSAEncryption", true),
        "1.2.840.10045.4.1" => ("ecdsa-with-SHA1", true),
        "1.2.840.10040.4.3" => ("dsa-with-SHA1", true),
        "1.2.840.113549.1.1.11" => ("sha256WithRSAEncryption", false),
        "1.2.840.113549.1.1.12" => ("sha384WithRSAEncryption", false),
        "1.2.840.113549.1.1.13" => ("sha512WithRSAEncryption", false),
        "1.2.840.113549.1.1.10" => ("RSASSA-PSS", false),
        "1.2.840.10045.4.3.2" => ("ecdsa-with-SHA256", false),
        "1.2.840.10045.4.3.3" => ("ecdsa-with-SHA384", false),
        "1.2.840.10045.4.3.4" => ("ecdsa-with-SHA512", false),
        "1.3.101.112" => ("Ed25519", false),
        "1.3.101.113" => ("Ed448", false),
        other => return (other.to_string(), false),
    };
    (name.to_string(), weak)
}

/// A certificate's CRL distribution points and OCSP responders, as URLs (bounded, escaped).
fn revocation_points(
    cert: &x509_parser::certificate::X509Certificate<'_>,
) -> (Vec<String>, Vec<String>) {
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    let uri = |name: &GeneralName<'_>| match name {
        GeneralName::URI(u) => Some(crate::text::untrusted(u).into_owned()),
        _ => None,
    };
    let (mut crls, mut ocsp) = (Vec::new(), Vec::new());
    for extension in cert.extensions() {
        match extension.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point
                    {
                        crls.extend(names.iter().filter_map(uri));
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(access) => {
                ocsp.extend(
                    access
                        .iter()
                        .filter(|a| a.access_method.to_id_string() == "1.3.6.1.5.5.7.48.1")
                        .filter_map(|a| uri(&a.access_location)),
                );
            }
            _ => {}
        }
    }
    crls.truncate(8);
    ocsp.truncate(8);
    (crls, ocsp)
}

/// SHA-256 fingerprint as colon-separated upper-case hex, the way the NHS page and openssl print it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Seconds since the epoch as RFC 3339 (UTC).
pub fn rfc3339(seconds: i64) -> String {
    // X.509 dates stop at 9999-12-31 ("no expiry"); anything beyond is shown as that.
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| {
            if seconds > 0 {
                "9999-12-31T23:59:59Z".to_string()
            } else {
                "0001-01-01T00:00:00Z".to_string()
            }
        })
}

/// A moment as rustls takes it (certificate dates are judged at it).
pub fn unix_time(at: jiff::Timestamp) -> rustls::pki_types::UnixTime {
    rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        at.as_second().max(0) as u64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_anchors_are_the_published_g2_chain() {
        let store = TrustStore::builtin();
        assert_eq!(store.roots.len(), 1);
        assert_eq!(store.intermediates.len(), 1);
        let root = CertInfo::of(&store.roots[0]).unwrap();
        let subca = CertInfo::of(&store.intermediates[0]).unwrap();
        assert_eq!(
            root.common_name.as_deref(),
            Some("NHS PTL Root Authority G2")
        );
        assert_eq!(
            subca.common_name.as_deref(),
            Some("NHS INT Authentication G2")
        );
        // Fingerprints as printed in shared/nhs-int-facts.md.
        assert_eq!(
            root.sha256,
            "54:0F:7C:D6:11:15:10:EF:8A:4A:78:93:9B:39:A0:75:C7:1A:68:F0:CE:71:BB:F2:81:41:F7:C6:BE:35:7F:8F"
        );
        assert_eq!(
            subca.sha256,
            "EB:17:B9:FE:90:A1:9D:BF:E9:62:BF:41:D3:C9:07:55:8F:6F:78:7E:2F:D1:60:22:68:DF:CA:9D:3F:DB:F8:57"
        );
        assert_eq!(rfc3339(root.not_after), "2042-08-02T15:47:24Z");
        assert_eq!(rfc3339(subca.not_after), "2032-08-04T14:35:43Z");
    }
}

/// What a PKI file really holds, whatever its name says.
#[derive(Clone, Debug)]
pub struct FileInspection {
    /// "PEM", "DER", "PEM on one line" or "unknown".
    pub encoding: &'static str,
    pub items: Vec<FileItem>,
    /// Set when the file name's extension suggests something the content is not.
    pub extension_lies: Option<String>,
}

#[derive(Clone, Debug)]
pub enum FileItem {
    Certificate(Box<CertInfo>),
    PrivateKey(&'static str),
    EncryptedPrivateKey,
    CertificateRequest,
    /// A PKCS#12 bundle (.p12, .pfx): certificate and key together, usually under a password.
    Pkcs12,
    Other(String),
}

/// Whether DER bytes are a PKCS#12 PFX: a SEQUENCE that starts with version 3 (a PKCS#8 key
/// starts with version 0 or 1) followed by a PKCS#7 ContentInfo.
pub fn is_pkcs12(bytes: &[u8]) -> bool {
    const VERSION_3: [u8; 3] = [0x02, 0x01, 0x03];
    const PKCS7: [u8; 8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07];
    let Some((&0x30, rest)) = bytes.split_first() else {
        return false;
    };
    // Skip the outer length (short or long form).
    let skip = match rest.first() {
        Some(&n) if n < 0x80 => 1,
        Some(&n) => 1 + usize::from(n & 0x7F),
        None => return false,
    };
    let Some(body) = rest.get(skip..) else {
        return false;
    };
    body.starts_with(&VERSION_3)
        && body
            .get(..40.min(body.len()))
            .is_some_and(|head| head.windows(PKCS7.len()).any(|w| w == PKCS7))
}

/// Names what a file holds when it is not what the flag wanted: the usual mix-ups.
fn mixed_up(path: &Path, bytes: &[u8], wanted: &str) -> Option<UsageError> {
    let name = path.display();
    let items = inspect_bytes(bytes, "").items;
    let has = |f: fn(&FileItem) -> bool| items.iter().any(f);
    if is_pkcs12(bytes) || has(|i| matches!(i, FileItem::Pkcs12)) {
        return Some(
            UsageError::new(format!(
                "{name} is a PKCS#12 bundle (.p12/.pfx); int-check reads the certificate and the key as PEM or DER files"
            ))
            .hint(format!(
                "extract both (openssl asks for the bundle's password): openssl pkcs12 -in {name} -clcerts -nokeys -out cert.pem && openssl pkcs12 -in {name} -nocerts -nodes -out key.pem && chmod 600 key.pem"
            )),
        );
    }
    let swapped = "did you swap --client-cert and --client-key?";
    match wanted {
        "certificate" if has(|i| matches!(i, FileItem::PrivateKey(_) | FileItem::EncryptedPrivateKey)) => Some(
            UsageError::new(format!("{name} is a private key, not a certificate"))
                .hint("a certificate file was expected there (--client-cert, --ca-file, --chain): did you give a key file in its place, or swap --client-cert and --client-key? (`int-check certs inspect FILE` tells what a file holds)"),
        ),
        "key" if has(|i| matches!(i, FileItem::Certificate(_))) => Some(
            UsageError::new(format!("{name} is a certificate, not a private key"))
                .hint(format!("{swapped} (`int-check certs inspect FILE` tells what a file holds)")),
        ),
        _ if has(|i| matches!(i, FileItem::CertificateRequest)) => Some(
            UsageError::new(format!(
                "{name} is a certificate signing request, not a {}",
                if wanted == "key" { "private key" } else { wanted }
            ))
            .hint("a CSR is what you send to get the certificate: use the certificate issued for it, and the key you made the CSR with"),
        ),
        _ => None,
    }
}

/// The built-in anchor a fingerprint belongs to, if any.
pub fn pinned_name(sha256: &str) -> Option<&'static str> {
    [
        (G2_ROOT_PEM, "NHS PTL Root Authority G2"),
        (G2_INT_SUBCA_PEM, "NHS INT Authentication G2"),
    ]
    .into_iter()
    .find(|(pem, _)| {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .ok()
            .is_some_and(|der| fingerprint(der.as_ref()) == sha256)
    })
    .map(|(_, name)| name)
}

/// Tells what a file holds: PEM or DER, certificates or keys, and whether its extension lies.
pub fn inspect_file(path: &Path) -> Result<FileInspection, UsageError> {
    let bytes = read_pki_file(path, "certificate or key")?;
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    Ok(inspect_bytes(&bytes, &extension))
}

/// What bytes hold, given the extension of the file they came from (lower case, no dot).
pub fn inspect_bytes(bytes: &[u8], extension: &str) -> FileInspection {
    use rustls::pki_types::pem::SectionKind;
    let bytes = bytes.to_vec();
    let text = std::str::from_utf8(&bytes).ok();
    let mut items = Vec::new();
    let encoding = if text.is_some_and(|t| t.contains("-----BEGIN ")) {
        let mut broken = false;
        for section in <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(&bytes) {
            match section {
                Ok((SectionKind::Certificate, der)) => {
                    match CertInfo::of(&CertificateDer::from(der)) {
                        Some(info) => items.push(FileItem::Certificate(Box::new(info))),
                        None => items.push(FileItem::Other("CERTIFICATE (not valid X.509)".into())),
                    }
                }
                Ok((SectionKind::PrivateKey, _)) => items.push(FileItem::PrivateKey("PKCS#8")),
                Ok((SectionKind::RsaPrivateKey, _)) => {
                    items.push(FileItem::PrivateKey("PKCS#1 RSA"))
                }
                Ok((SectionKind::EcPrivateKey, _)) => items.push(FileItem::PrivateKey("SEC1 EC")),
                Ok((SectionKind::Csr, _)) => items.push(FileItem::CertificateRequest),
                Ok((kind, _)) => items.push(FileItem::Other(
                    match kind {
                        SectionKind::PublicKey => "PUBLIC KEY",
                        SectionKind::Crl => "X509 CRL",
                        _ => "another kind of PEM block",
                    }
                    .to_string(),
                )),
                Err(_) => broken = true,
            }
        }
        if text.is_some_and(|t| t.contains("ENCRYPTED PRIVATE KEY")) {
            items.push(FileItem::EncryptedPrivateKey);
        }
        if broken && items.is_empty() {
            if text.is_some_and(|t| {
                t.lines()
                    .any(|l| l.contains("-----BEGIN") && l.matches("-----").count() > 2)
            }) {
                "PEM on one line"
            } else {
                "damaged PEM"
            }
        } else {
            "PEM"
        }
    } else if let Some(info) = CertInfo::of(&CertificateDer::from(bytes.as_slice())) {
        items.push(FileItem::Certificate(Box::new(info)));
        "DER"
    } else if is_pkcs12(&bytes) {
        items.push(FileItem::Pkcs12);
        "DER"
    } else if let Ok(key) = PrivateKeyDer::try_from(bytes.as_slice()) {
        items.push(FileItem::PrivateKey(match key {
            PrivateKeyDer::Pkcs8(_) => "PKCS#8",
            PrivateKeyDer::Pkcs1(_) => "PKCS#1 RSA",
            PrivateKeyDer::Sec1(_) => "SEC1 EC",
            _ => "unknown format",
        }));
        "DER"
    } else {
        "unknown"
    };
    let has_cert = items.iter().any(|i| matches!(i, FileItem::Certificate(_)));
    let has_key = items
        .iter()
        .any(|i| matches!(i, FileItem::PrivateKey(_) | FileItem::EncryptedPrivateKey));
    let is_pem = encoding != "DER" && encoding != "unknown";
    let extension_lies = match extension {
        "der" if is_pem => Some(
            "the extension .der says binary DER, but the file is PEM text (the NHS page's instructions produce exactly this): name it .pem, or write real DER with `int-check certs export --format der`"
                .to_string(),
        ),
        "pem" | "crt" if encoding == "DER" => Some(format!(
            "the extension .{extension} says PEM text, but the file is binary DER: tools that expect PEM (update-ca-certificates, most Linux software) will not read it; convert with `openssl x509 -inform der -in FILE -out FILE.pem`"
        )),
        "key" if has_cert && !has_key => Some("the extension .key says private key, but the file holds a certificate".to_string()),
        // .pem and .der name encodings, which keys have too (openssl writes key.pem).
        "crt" | "cer" if has_key && !has_cert => Some(format!(
            "the extension .{extension} suggests a certificate, but the file holds a private key: keep it private"
        )),
        _ => None,
    };
    FileInspection {
        encoding,
        items,
        extension_lies,
    }
}
