//! The rules of RFC 5280 and the CA/Browser Forum's TLS certificate profile that webpki does not
//! enforce, checked on a path webpki accepted (leaf, intermediates, the pinned anchor). Each
//! breach names the certificate and the rule. Where mainstream clients refuse the chain
//! (OpenSSL's defaults among them, measured with `openssl verify` on x509-limbo's cases) it is a
//! refusal; where they accept it, it is a named nonconformity, a warning.

use rustls::pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};

/// Where a certificate sits in the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Leaf,
    /// An intermediate, counted from the leaf's issuer (1).
    Intermediate(usize),
    /// The pinned trust anchor the path ends at.
    Anchor,
}

/// Whether clients refuse what a breach describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Mainstream clients (OpenSSL's defaults among them) refuse the chain.
    Refused,
    /// The standard forbids it; common clients accept it.
    Nonconformant,
}

/// One rule a certificate breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breach {
    pub role: Role,
    /// The certificate's CN or subject, as reports show it.
    pub name: String,
    /// The rule, in words, with its source.
    pub rule: String,
    pub severity: Severity,
    /// A key no TLS client can use (DSA, a curve below 224 bits): reported as a weak key.
    pub weak_key: bool,
}

impl Breach {
    /// `the server's certificate 'x'`, `intermediate 1 'y'`, `the pinned anchor 'z'`.
    pub fn whose(&self) -> String {
        match self.role {
            Role::Leaf => format!("the server's certificate '{}'", self.name),
            Role::Intermediate(n) => format!("intermediate {n} '{}'", self.name),
            Role::Anchor => format!("the pinned anchor '{}'", self.name),
        }
    }
}

const AKI: &str = "2.5.29.35";
const SKI: &str = "2.5.29.14";
const SAN: &str = "2.5.29.17";
const BASIC_CONSTRAINTS: &str = "2.5.29.19";
const NAME_CONSTRAINTS: &str = "2.5.29.30";
const POLICY_CONSTRAINTS: &str = "2.5.29.36";
const EKU: &str = "2.5.29.37";
const AIA: &str = "1.3.6.1.5.5.7.1.1";

/// The breaches of every certificate of a path webpki accepted.
pub fn check_path(path: &[(Role, &CertificateDer<'_>)]) -> Vec<Breach> {
    let mut breaches = Vec::new();
    for (role, der) in path {
        if let (Ok((_, cert)), Some(info)) = (
            x509_parser::parse_x509_certificate(der.as_ref()),
            super::CertInfo::of(der),
        ) {
            check_certificate(*role, &cert, &info.unknown_critical, &mut breaches);
        }
    }
    breaches
}

fn display_name(cert: &X509Certificate<'_>) -> String {
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    crate::text::untrusted(&cn.unwrap_or_else(|| cert.subject().to_string())).into_owned()
}

/// `unknown_critical`: the critical extensions no TLS client here understands (`CertInfo`'s list).
fn check_certificate(
    role: Role,
    cert: &X509Certificate<'_>,
    unknown_critical: &[String],
    out: &mut Vec<Breach>,
) {
    let name = display_name(cert);
    let mut breach = |severity: Severity, rule: String| {
        out.push(Breach {
            role,
            name: name.clone(),
            rule,
            severity,
            weak_key: false,
        });
    };
    use Severity::{Nonconformant, Refused};
    let extension = |oid: &str| {
        cert.extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == oid)
    };
    let self_issued = cert.subject().as_raw() == cert.issuer().as_raw();
    let is_ca = cert
        .basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|bc| bc.value.ca);

    // Serial number (RFC 5280 4.1.2.2: positive, at most 20 octets).
    let serial = cert.raw_serial();
    if serial.iter().all(|b| *b == 0) {
        breach(
            Nonconformant,
            "its serial number is zero; RFC 5280 (4.1.2.2) requires a positive one".into(),
        );
    } else if serial.first().is_some_and(|b| b & 0x80 != 0) {
        breach(
            Nonconformant,
            "its serial number is negative; RFC 5280 (4.1.2.2) requires a positive one".into(),
        );
    } else if serial.len() > 20 {
        breach(
            Nonconformant,
            format!(
                "its serial number is {} octets long; RFC 5280 (4.1.2.2) allows at most 20",
                serial.len()
            ),
        );
    }

    // Key identifiers (RFC 5280 4.2.1.1, 4.2.1.2).
    if let Some(aki) = extension(AKI) {
        if aki.critical {
            breach(Refused, "its authorityKeyIdentifier is marked critical; RFC 5280 (4.2.1.1) forbids it, and OpenSSL refuses the chain".into());
        }
        if let ParsedExtension::AuthorityKeyIdentifier(value) = aki.parsed_extension() {
            if value.key_identifier.is_none() {
                breach(Nonconformant, "its authorityKeyIdentifier has no keyIdentifier; RFC 5280 (4.2.1.1) requires one".into());
            }
            if role == Role::Anchor
                && (value.authority_cert_issuer.is_some() || value.authority_cert_serial.is_some())
            {
                breach(Refused, "its authorityKeyIdentifier names an issuer and serial number: a trust anchor's must not, and OpenSSL then looks for another issuer and refuses the chain".into());
            }
            if role == Role::Anchor
                && let (Some(key_id), Some(ski)) = (&value.key_identifier, subject_key_id(cert))
                && key_id.0 != ski
            {
                breach(Refused, "its authorityKeyIdentifier does not match its own subjectKeyIdentifier: it does not name itself as its issuer, and OpenSSL refuses the chain".into());
            }
        }
    } else if !self_issued {
        breach(Nonconformant, "it has no authorityKeyIdentifier; RFC 5280 (4.2.1.1) requires one in every certificate but a self-signed root".into());
    }
    match extension(SKI) {
        Some(ski) if ski.critical => breach(Refused, "its subjectKeyIdentifier is marked critical; RFC 5280 (4.2.1.2) forbids it, and OpenSSL refuses the chain".into()),
        None if is_ca || role == Role::Anchor => breach(Nonconformant, "it is a CA certificate without a subjectKeyIdentifier; RFC 5280 (4.2.1.2) requires one".into()),
        _ => {}
    }

    // basicConstraints and keyUsage of CAs (RFC 5280 4.2.1.9, 4.2.1.3).
    let key_cert_sign = cert
        .key_usage()
        .ok()
        .flatten()
        .map(|ku| ku.value.key_cert_sign());
    match (role, extension(BASIC_CONSTRAINTS)) {
        (Role::Anchor | Role::Intermediate(_), None) => breach(Nonconformant, "it is used as a CA but has no basicConstraints; RFC 5280 (4.2.1.9) requires CA:TRUE".into()),
        (Role::Anchor | Role::Intermediate(_), Some(bc)) if !bc.critical => breach(Nonconformant, "its basicConstraints is not marked critical; RFC 5280 (4.2.1.9) requires it in CA certificates".into()),
        _ => {}
    }
    if role == Role::Anchor
        && key_cert_sign == Some(true)
        && !is_ca
        && extension(BASIC_CONSTRAINTS).is_some()
    {
        breach(Refused, "its keyUsage allows keyCertSign while its basicConstraints says it is not a CA; RFC 5280 (4.2.1.3) forbids the combination, and OpenSSL refuses the chain".into());
    }
    if matches!(role, Role::Anchor | Role::Intermediate(_)) && key_cert_sign == Some(false) {
        breach(Refused, "it is used as a CA, but its keyUsage does not allow keyCertSign (RFC 5280 4.2.1.3); OpenSSL refuses the chain".into());
    }
    if role == Role::Leaf && key_cert_sign == Some(true) && !is_ca {
        breach(
            Nonconformant,
            "its keyUsage allows keyCertSign, but it is not a CA; RFC 5280 (4.2.1.3) forbids it"
                .into(),
        );
    }
    // A critical AKI is its own breach above.
    let unknown: Vec<&str> = unknown_critical
        .iter()
        .map(String::as_str)
        .filter(|oid| *oid != AKI)
        .collect();
    if role == Role::Anchor && !unknown.is_empty() {
        let oids = unknown.join(", ");
        breach(
            Refused,
            format!(
                "it carries a critical extension clients do not understand ({oids}); webpki ignores an anchor's extensions, OpenSSL refuses the chain"
            ),
        );
    }

    // nameConstraints (RFC 5280 4.2.1.10).
    if let Some(nc) = extension(NAME_CONSTRAINTS) {
        if !is_ca {
            breach(Nonconformant, "it is not a CA but carries nameConstraints; RFC 5280 (4.2.1.10) allows them only in CA certificates".into());
        }
        if !nc.critical {
            breach(
                Nonconformant,
                "its nameConstraints are not marked critical; RFC 5280 (4.2.1.10) requires it"
                    .into(),
            );
        }
        if let ParsedExtension::NameConstraints(value) = nc.parsed_extension() {
            let empty = |s: &Option<Vec<x509_parser::extensions::GeneralSubtree>>| {
                s.as_ref().is_none_or(|v| v.is_empty())
            };
            if empty(&value.permitted_subtrees) && empty(&value.excluded_subtrees) {
                breach(Nonconformant, "its nameConstraints have neither permitted nor excluded subtrees; RFC 5280 (4.2.1.10) requires at least one".into());
            }
            let dns_with_period = value
                .permitted_subtrees
                .iter()
                .chain(value.excluded_subtrees.iter())
                .flatten()
                .any(|t| matches!(t.base, GeneralName::DNSName(n) if n.starts_with('.')));
            if dns_with_period {
                breach(Nonconformant, "a DNS name constraint starts with a period; RFC 5280 (4.2.1.10) writes subtrees as host names (example.com holds every name below it)".into());
            }
        }
    }

    // policyConstraints (RFC 5280 4.2.1.11).
    if extension(POLICY_CONSTRAINTS).is_some_and(|pc| !pc.critical) {
        breach(
            Nonconformant,
            "its policyConstraints are not marked critical; RFC 5280 (4.2.1.11) requires it".into(),
        );
    }

    // authorityInfoAccess that does not parse.
    if let Some(aia) = extension(AIA)
        && matches!(
            aia.parsed_extension(),
            ParsedExtension::ParseError { .. } | ParsedExtension::UnsupportedExtension { .. }
        )
    {
        breach(
            Nonconformant,
            "its authorityInfoAccess extension is malformed (RFC 5280 4.2.2.1)".into(),
        );
    }

    // Keys.
    if let Ok(key) = cert.public_key().parsed() {
        match key {
            x509_parser::public_key::PublicKey::RSA(rsa)
                if !modulus_bits(rsa.modulus).is_multiple_of(8) =>
            {
                breach(
                    Nonconformant,
                    format!(
                        "its RSA modulus is {} bits, not a multiple of 8 (CA/Browser Forum Baseline Requirements 6.1.5)",
                        modulus_bits(rsa.modulus)
                    ),
                )
            }
            x509_parser::public_key::PublicKey::DSA(_) if role == Role::Leaf => {
                push_weak(
                    out,
                    role,
                    &name,
                    "it has a DSA key, which TLS clients no longer accept (TLS 1.3 has no DSA; CA/Browser Forum 6.1.5 allows RSA and ECDSA only)",
                );
            }
            x509_parser::public_key::PublicKey::EC(ec)
                if ec.key_size() > 0 && ec.key_size() < 224 && role == Role::Leaf =>
            {
                push_weak(
                    out,
                    role,
                    &name,
                    &format!(
                        "it has an EC key of {} bits (P-192): TLS clients accept P-256 and larger",
                        ec.key_size()
                    ),
                );
            }
            _ => {}
        }
    }

    match role {
        Role::Leaf => check_leaf(cert, &name, out),
        Role::Anchor => {
            if extension(EKU).is_some() {
                out.push(Breach {
                    role,
                    name: name.clone(),
                    rule: "it is a root with an extendedKeyUsage; the CA/Browser Forum profile (7.1.2.1) forbids it".into(),
                    severity: Nonconformant,
                    weak_key: false,
                });
            }
        }
        Role::Intermediate(_) => {}
    }
}

/// The exact size of an RSA modulus in bits (its big-endian bytes, leading zeros ignored).
fn modulus_bits(modulus: &[u8]) -> usize {
    let significant: &[u8] = match modulus.iter().position(|b| *b != 0) {
        Some(first) => &modulus[first..],
        None => return 0,
    };
    significant.len() * 8 - significant[0].leading_zeros() as usize
}

fn push_weak(out: &mut Vec<Breach>, role: Role, name: &str, rule: &str) {
    out.push(Breach {
        role,
        name: name.to_string(),
        rule: rule.to_string(),
        severity: Severity::Refused,
        weak_key: true,
    });
}

fn subject_key_id<'a>(cert: &'a X509Certificate<'a>) -> Option<&'a [u8]> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0),
            _ => None,
        })
}

/// What the CA/Browser Forum profile asks of a server's own certificate.
fn check_leaf(cert: &X509Certificate<'_>, name: &str, out: &mut Vec<Breach>) {
    let mut breach = |rule: &str| {
        out.push(Breach {
            role: Role::Leaf,
            name: name.to_string(),
            rule: rule.to_string(),
            severity: Severity::Nonconformant,
            weak_key: false,
        });
    };
    match cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == EKU)
    {
        None => breach(
            "it has no extendedKeyUsage; the CA/Browser Forum profile (7.1.2.7.10) requires serverAuth",
        ),
        Some(eku) => {
            if eku.critical {
                breach(
                    "its extendedKeyUsage is marked critical; the CA/Browser Forum profile (7.1.2.7.10) requires it not to be",
                );
            }
            if let ParsedExtension::ExtendedKeyUsage(value) = eku.parsed_extension()
                && value.any
            {
                breach(
                    "its extendedKeyUsage includes anyExtendedKeyUsage; the CA/Browser Forum profile (7.1.2.7.10) forbids it",
                );
            }
        }
    }
    let empty_subject = cert.subject().iter().next().is_none();
    let Some(san) = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == SAN)
    else {
        return; // no SAN at all: the name check says tls.cn_only
    };
    if empty_subject && !san.critical {
        breach(
            "its subject is empty and its subjectAltName is not marked critical; RFC 5280 (4.2.1.6) requires it",
        );
    }
    if !empty_subject && san.critical {
        breach(
            "its subjectAltName is marked critical although its subject is not empty; the CA/Browser Forum profile (7.1.2.7.12) requires it not to be",
        );
    }
    let ParsedExtension::SubjectAlternativeName(value) = san.parsed_extension() else {
        return;
    };
    let mut names: Vec<String> = Vec::new();
    for general in &value.general_names {
        match general {
            GeneralName::DNSName(n) => {
                if n.contains('_') {
                    breach(&format!(
                        "its subjectAltName DNS name {} holds an underscore, which host names may not (RFC 5280 4.2.1.6, RFC 1034)",
                        crate::text::untrusted(n)
                    ));
                }
                names.push(n.to_string());
            }
            GeneralName::IPAddress(bytes) => {
                if let Some(ip) = ip_from(bytes) {
                    names.push(ip.to_string());
                }
            }
            _ => {}
        }
    }
    for cn in cert.subject().iter_common_name() {
        let text = cn.as_str().unwrap_or_default();
        if !names.iter().any(|n| n == text) {
            breach(&format!(
                "its subject CN '{}' is not one of its subjectAltName values; the CA/Browser Forum profile (7.1.4.3) requires it to be",
                crate::text::untrusted(text)
            ));
        }
    }
}

fn ip_from(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(std::net::IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}
