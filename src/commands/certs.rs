//! `int-check certs`: the pinned chain, exporting it for trust stores, inspecting files, and
//! verifying a client identity offline.

use crate::documents::{AnchorCertDoc, CertsDoc, Document, InspectDoc, InspectedItem};
use crate::exit::{Outcome, Stop};
use std::fmt::Write as _;
use std::path::Path;

use rustls::pki_types::CertificateDer;

use super::{profile_trust, unix_time, write_stdout};
use crate::cli::{CertExportFormat, TrustArgs};
use crate::error::UsageError;
use crate::findings::Report;
use crate::pki::identity::{self, IDENTITY};
use crate::pki::{self, CertInfo, TrustStore, rfc3339};
use crate::profile::ClientPaths;
use crate::report::{self, DataFormat, Format};
use crate::settings::resolve_trust_profile;

/// `certs show`: the profile's anchors, with a warning for any expiring within a year.
pub fn show(args: &TrustArgs, format: DataFormat) -> Result<Outcome, Stop> {
    let profile = resolve_trust_profile(&args.sources())?;
    let trust = profile_trust(&profile)?;
    let now = jiff::Timestamp::now().as_second();
    let certificates: Vec<AnchorCertDoc> = trust
        .roots
        .iter()
        .map(|c| ("root", c))
        .chain(trust.intermediates.iter().map(|c| ("intermediate", c)))
        .filter_map(|(role, der)| CertInfo::of(der).map(|info| (role, info)))
        .map(|(role, info)| AnchorCertDoc {
            not_before: rfc3339(info.not_before),
            not_after: rfc3339(info.not_after),
            role,
            days_left: (info.not_after - now).div_euclid(86_400),
            expires_within_a_year: info.not_after - now < report::certs::YEAR,
            subject: info.subject,
            common_name: info.common_name,
            issuer: info.issuer,
            sha256: info.sha256,
            serial: info.serial,
            key: info.key,
            crl_points: info.crl_points,
            ocsp: info.ocsp,
        })
        .collect();
    let expired = certificates.iter().any(|c| c.days_left < 0);
    let doc = CertsDoc {
        schema: Document::Certs.into(),
        profile: profile.name.clone(),
        source: trust.source.clone(),
        certificates,
    };
    write_stdout(&match format {
        DataFormat::Json => report::json::document(&doc),
        DataFormat::Human => report::certs::show(&doc),
    })?;
    Ok(Outcome::failed_if(expired))
}

/// A file name from a certificate's CN: `NHS PTL Root Authority G2` -> `nhs-ptl-root-authority-g2`.
fn slug(info: &CertInfo) -> String {
    let name = info
        .common_name
        .clone()
        .unwrap_or_else(|| info.sha256[..11].replace(':', ""));
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_string()
}

/// `certs export`: the anchors as separate files and a PEM bundle, with install instructions.
pub fn export(args: &TrustArgs, out: &Path, format: CertExportFormat) -> Result<Outcome, Stop> {
    let profile = resolve_trust_profile(&args.sources())?;
    let trust = profile_trust(&profile)?;
    std::fs::create_dir_all(out).map_err(|e| {
        UsageError::new(format!(
            "cannot create {}: {}",
            out.display(),
            crate::profile::io_reason(&e)
        ))
    })?;
    let write = |name: &str, bytes: &[u8]| -> Result<String, Stop> {
        let path = out.join(name);
        std::fs::write(&path, bytes).map_err(|e| {
            Stop::Usage(UsageError::new(format!(
                "cannot write {}: {}",
                path.display(),
                crate::profile::io_reason(&e)
            )))
        })?;
        Ok(path.display().to_string())
    };
    let pem = |der: &CertificateDer<'_>| pem_encode(der.as_ref());
    let mut written = Vec::new();
    let mut bundle = String::new();
    let mut roots = Vec::new();
    let mut intermediates = Vec::new();
    for (role, der) in trust
        .roots
        .iter()
        .map(|c| ("root", c))
        .chain(trust.intermediates.iter().map(|c| ("intermediate", c)))
    {
        let Some(info) = CertInfo::of(der) else {
            continue;
        };
        let base = slug(&info);
        let file = match format {
            CertExportFormat::Pem => {
                written.push(write(&format!("{base}.pem"), pem(der).as_bytes())?);
                // Debian's update-ca-certificates only reads PEM files named *.crt.
                written.push(write(&format!("{base}.crt"), pem(der).as_bytes())?);
                format!("{base}.pem")
            }
            CertExportFormat::Der => {
                written.push(write(&format!("{base}.der"), der.as_ref())?);
                format!("{base}.der")
            }
        };
        bundle.push_str(&pem(der));
        if role == "root" {
            roots.push((base, file));
        } else {
            intermediates.push((base, file));
        }
    }
    written.push(write("trust-bundle.pem", bundle.as_bytes())?);
    let instructions = install_instructions(&roots, &intermediates);
    written.push(write("INSTALL.txt", instructions.as_bytes())?);
    let mut text = format!("Wrote {} files to {}:\n", written.len(), out.display());
    for file in &written {
        let _ = writeln!(text, "  {file}");
    }
    let _ = writeln!(text, "\n{instructions}");
    write_stdout(&text)?;
    Ok(Outcome::Passed)
}

fn install_instructions(roots: &[(String, String)], intermediates: &[(String, String)]) -> String {
    let mut text = String::from(
        "Installing the NHS Path-to-Live trust chain\n\
         ===========================================\n\
         Roots go in the store of trusted roots; the SubCA (intermediate) goes in the intermediate store.\n\n\
         Windows (as administrator; or certlm.msc > import):\n",
    );
    for (_, file) in roots {
        let _ = writeln!(
            text,
            "  certutil -addstore -f Root {file}     # Trusted Root Certification Authorities"
        );
    }
    for (_, file) in intermediates {
        let _ = writeln!(
            text,
            "  certutil -addstore -f CA {file}       # Intermediate Certification Authorities"
        );
    }
    text.push_str("\nDebian / Ubuntu (system store, PEM files named .crt):\n");
    for (base, _) in roots.iter().chain(intermediates) {
        let _ = writeln!(
            text,
            "  sudo cp {base}.crt /usr/local/share/ca-certificates/"
        );
    }
    text.push_str("  sudo update-ca-certificates\n  (with --format der: convert first, openssl x509 -inform der -in FILE.der -out FILE.crt)\n");
    text.push_str("\nJava keystore:\n");
    for (base, file) in roots.iter().chain(intermediates) {
        let _ = writeln!(
            text,
            "  keytool -importcert -noprompt -trustcacerts -alias {base} -file {file} -keystore truststore.jks -storepass changeit"
        );
    }
    text.push_str("\nApplications that take a CA file (curl --cacert, OpenSSL, int-check --ca-file): use trust-bundle.pem.\n");
    text
}

fn pem_encode(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// `certs inspect FILE`: what a file really is.
pub fn inspect(file: &Path, format: DataFormat) -> Result<Outcome, Stop> {
    let inspection = pki::inspect_file(file)?;
    let doc = InspectDoc {
        schema: Document::Inspect.into(),
        file: file.display().to_string(),
        encoding: inspection.encoding.to_string(),
        items: inspection.items.iter().map(inspected).collect(),
        extension_lies: inspection.extension_lies.clone(),
    };
    write_stdout(&match format {
        DataFormat::Json => report::json::document(&doc),
        DataFormat::Human => report::certs::inspect(&doc),
    })?;
    Ok(Outcome::failed_if(inspection.items.is_empty()))
}

fn inspected(item: &pki::FileItem) -> InspectedItem {
    match item {
        pki::FileItem::Certificate(info) => InspectedItem::Certificate {
            subject: info.subject.clone(),
            issuer: info.issuer.clone(),
            not_before: rfc3339(info.not_before),
            not_after: rfc3339(info.not_after),
            sha256: info.sha256.clone(),
            self_signed: info.self_signed,
            pinned: pki::pinned_name(&info.sha256),
            hierarchy: pki::legacy::path_in(std::slice::from_ref(info))
                .map(|path| format!("legacy G1: {path}")),
            key: info.key.clone(),
            revocation: Box::new(crate::documents::RevocationPointsDoc {
                crl_points: info.crl_points.clone(),
                ocsp: info.ocsp.clone(),
            }),
        },
        pki::FileItem::PrivateKey(format) => InspectedItem::PrivateKey { format },
        pki::FileItem::EncryptedPrivateKey => InspectedItem::EncryptedPrivateKey,
        pki::FileItem::CertificateRequest => InspectedItem::CertificateRequest,
        pki::FileItem::Pkcs12 => InspectedItem::Pkcs12,
        pki::FileItem::Other(label) => InspectedItem::Other {
            label: label.clone(),
        },
    }
}

/// `certs verify`: the local client identity, offline, as a report.
pub fn verify(
    args: &TrustArgs,
    paths: ClientPaths,
    at: Option<jiff::Timestamp>,
    format: Format,
) -> Result<Outcome, Stop> {
    let profile = resolve_trust_profile(&args.sources())?;
    let trust: std::sync::Arc<TrustStore> = profile_trust(&profile)?;
    let provider = rustls::crypto::ring::default_provider();
    let started = std::time::Instant::now();
    let at_instant = at.unwrap_or_else(jiff::Timestamp::now);
    let mut verdict = identity::verify(
        &paths,
        &trust,
        &provider,
        unix_time(at_instant),
        profile.expiry_warning_days,
    )?;
    identity::purpose(&mut verdict, &paths, &profile);
    let report = Report::begun(&profile, jiff::Timestamp::now())
        .section(IDENTITY, paths.cert.display().to_string(), verdict.checks)
        .finished(started);
    let text = report::render(&report, format, &report::human::Style::plain());
    write_stdout(&text)?;
    Ok(Outcome::failed_if(verdict.failed))
}

/// The heading of `certs judge`'s one row.
pub const JUDGED: &str = "chain";

/// `certs judge`: the TLS check's verdict on a chain from a file, without a network.
pub fn judge(args: &crate::cli::JudgeArgs, format: Format) -> Result<Outcome, Stop> {
    use rustls::pki_types::ServerName;
    let profile = resolve_trust_profile(&args.trust.sources())?;
    let trust = profile_trust(&profile)?;
    let started = std::time::Instant::now();
    let chain = pki::read_certificates(&args.chain)?;
    let (name, target) = match (&args.host, args.ip) {
        (_, Some(ip)) => (ServerName::IpAddress(ip.into()), ip.to_string()),
        (Some(host), None) => {
            let name = ServerName::try_from(host.clone()).map_err(|_| {
                UsageError::new(format!(
                    "--host {}: not a host name",
                    crate::text::untrusted(host)
                ))
                .hint("give the name a client connects to, e.g. --host msg.int.spine2.ncrs.nhs.uk, or --ip ADDR")
            })?;
            (name, host.clone())
        }
        (None, None) => {
            return Err(UsageError::new(
                "say which name the chain is for: --host NAME or --ip ADDR",
            )
            .into());
        }
    };
    let at = args.at.unwrap_or_else(jiff::Timestamp::now);
    let warning = std::time::Duration::from_secs(u64::from(profile.expiry_warning_days) * 86_400);
    let check = crate::findings::Check::new(JUDGED, crate::findings::CheckKind::Tls, target);
    let check = match crate::probe::tls::judge(&trust, &chain, &name, unix_time(at), warning) {
        Some(assessment) => {
            let summary = crate::probe::tls::chain::certificate_summary(&assessment)
                .unwrap_or_else(|| "the chain holds no certificate".to_string());
            crate::probe::tls::chain::verdict_check(check, &assessment, summary)
        }
        None => check.fail(
            crate::reasons::Reason::TlsChainStructure,
            "the file holds no certificate that could be read as the server's",
        ),
    };
    let failed = check.status == crate::findings::Status::Fail;
    let report = Report::begun(&profile, jiff::Timestamp::now())
        .section(
            JUDGED,
            args.chain.display().to_string(),
            vec![check.took(started.elapsed())],
        )
        .finished(started);
    let text = report::render(&report, format, &report::human::Style::plain());
    write_stdout(&text)?;
    Ok(Outcome::failed_if(failed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn pem_encoding_round_trips() {
        let der = CertificateDer::from_pem_slice(pki::G2_ROOT_PEM.as_bytes()).unwrap();
        assert_eq!(pem_encode(der.as_ref()), pki::G2_ROOT_PEM);
        for len in 0..5 {
            let data: Vec<u8> = (0..len).collect();
            let text = pem_encode(&data);
            let back = CertificateDer::from_pem_slice(text.as_bytes());
            assert_eq!(back.map(|d| d.as_ref().to_vec()).unwrap_or_default(), data);
        }
    }
}
