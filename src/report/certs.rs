//! `certs show` and `certs inspect` for people.

use std::fmt::Write as _;

use crate::documents::{CertsDoc, InspectDoc, InspectedItem};

/// Anchors expiring sooner than this are flagged.
pub const YEAR: i64 = 365 * 86_400;

pub fn show(doc: &CertsDoc) -> String {
    let mut out = format!("Trust anchors of profile {}: {}\n", doc.profile, doc.source);
    for cert in &doc.certificates {
        let name = cert.common_name.as_deref().unwrap_or(&cert.subject);
        let _ = writeln!(out, "\n{}  {name}", cert.role);
        let _ = writeln!(out, "  subject  {}", cert.subject);
        let issuer = if cert.issuer == cert.subject {
            "(self-signed)"
        } else {
            &cert.issuer
        };
        let _ = writeln!(out, "  issuer   {issuer}");
        let _ = writeln!(out, "  serial   {}", cert.serial);
        let _ = writeln!(
            out,
            "  valid    {} to {} ({} days left)",
            cert.not_before, cert.not_after, cert.days_left
        );
        let _ = writeln!(out, "  key      {}", cert.key);
        let _ = writeln!(out, "  sha256   {}", cert.sha256);
        for url in &cert.crl_points {
            let _ = writeln!(out, "  CRL      {url}");
        }
        for url in &cert.ocsp {
            let _ = writeln!(out, "  OCSP     {url}");
        }
        if cert.days_left < 0 {
            let _ = writeln!(out, "  FAIL     expired: replace this anchor");
        } else if cert.expires_within_a_year {
            let _ = writeln!(
                out,
                "  WARN     expires within a year: plan the replacement"
            );
        }
    }
    out
}

pub fn inspect(doc: &InspectDoc) -> String {
    let mut out = format!("{}: {}", doc.file, doc.encoding);
    if doc.items.is_empty() {
        out.push_str(", no certificate or key found\n");
    } else {
        let _ = writeln!(out, ", {} item(s)", doc.items.len());
        for item in &doc.items {
            let _ = writeln!(out, "  {}", describe(item));
        }
    }
    if doc.encoding == "PEM on one line" {
        out.push_str("  the PEM is on one line, as the NHS page prints it: put BEGIN/END on lines of their own and split the base64 into 64-character lines\n");
    }
    if let Some(lie) = &doc.extension_lies {
        let _ = writeln!(out, "WARN {lie}");
    }
    out
}

fn describe(item: &InspectedItem) -> String {
    match item {
        InspectedItem::Certificate {
            subject,
            issuer,
            not_before,
            not_after,
            sha256,
            self_signed,
            pinned,
            hierarchy,
            key,
            revocation,
        } => {
            let role = if *self_signed {
                "root certificate"
            } else {
                "certificate"
            };
            let pinned = match (pinned, hierarchy) {
                (Some(n), _) => format!(" (the pinned {n})"),
                (None, Some(h)) => format!(" [{h}, not trusted by a G2 profile]"),
                (None, None) => String::new(),
            };
            let mut points = String::new();
            if !revocation.crl_points.is_empty() {
                points.push_str(&format!("; CRL {}", revocation.crl_points.join(", ")));
            }
            if !revocation.ocsp.is_empty() {
                points.push_str(&format!("; OCSP {}", revocation.ocsp.join(", ")));
            }
            format!(
                "{role} {subject}{pinned}, issued by {issuer}, valid {not_before} to {not_after}, {key}, SHA-256 {sha256}{points}"
            )
        }
        InspectedItem::PrivateKey { format } => format!("private key ({format})"),
        InspectedItem::EncryptedPrivateKey => "encrypted private key (PKCS#8)".to_string(),
        InspectedItem::CertificateRequest => "certificate signing request".to_string(),
        InspectedItem::Pkcs12 => "PKCS#12 bundle (certificate and key, usually under a password): extract them with `openssl pkcs12 -in FILE -clcerts -nokeys -out cert.pem` and `openssl pkcs12 -in FILE -nocerts -nodes -out key.pem`".to_string(),
        InspectedItem::Other { label } => format!("PEM block `{label}`"),
    }
}
