//! Self-issued CA certificates: a CA that rolls its key over issues a certificate for its new key
//! under its old one, with the same name as subject and issuer. RFC 5280 (6.1, 4.2.1.9, 4.2.1.10)
//! builds paths through them and does not count them against path lengths or name constraints;
//! webpki does both, and refuses such chains. When webpki refuses a chain that holds one, the
//! path is checked here in two parts: below the self-issued certificate by webpki itself (the
//! certificate as its anchor), above it link by link (signature, CA flag and keyCertSign,
//! validity, path lengths counted without self-issued certificates, DNS name constraints) up to a
//! pinned root.

use rustls::pki_types::{CertificateDer, ServerName};
use x509_parser::certificate::X509Certificate;

use crate::pki::{Against, CertInfo};

/// Self-issued certificates tried as the pivot at most.
const MAX_CANDIDATES: usize = 2;

/// Links followed above the self-issued certificate at most.
const MAX_UPPER_LINKS: usize = 6;

/// The verified path's intermediates (leaf excluded, anchor excluded), when the chain is valid
/// through a self-issued CA certificate; `None` when it holds none or is not valid that way.
pub fn path_through_self_issued(
    against: Against<'_>,
    leaf: &CertificateDer<'_>,
    presented: &[CertificateDer<'_>],
    server_name: Option<&ServerName<'_>>,
) -> Option<Vec<CertificateDer<'static>>> {
    // Bounded: a chain of many same-named certificates (a path-building attack) gets a few tries.
    let candidates = presented
        .iter()
        .enumerate()
        .filter(|(_, c)| is_self_issued_ca(c))
        .take(MAX_CANDIDATES);
    for (index, _) in candidates {
        if let Some(path) = through(against, leaf, presented, index, server_name) {
            return Some(path);
        }
    }
    None
}

fn parse<'a>(der: &'a CertificateDer<'_>) -> Option<X509Certificate<'a>> {
    x509_parser::parse_x509_certificate(der.as_ref())
        .ok()
        .map(|(_, c)| c)
}

/// Same name as subject and issuer, a CA, and not signed by its own key (that is a root).
fn is_self_issued_ca(der: &CertificateDer<'_>) -> bool {
    let Some(cert) = parse(der) else {
        return false;
    };
    cert.subject().as_raw() == cert.issuer().as_raw()
        && cert
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|bc| bc.value.ca)
        && cert.verify_signature(Some(cert.public_key())).is_err()
}

fn through(
    against: Against<'_>,
    leaf: &CertificateDer<'_>,
    presented: &[CertificateDer<'_>],
    index: usize,
    server_name: Option<&ServerName<'_>>,
) -> Option<Vec<CertificateDer<'static>>> {
    let Against { trust, algs, now } = against;
    let pivot = &presented[index];
    // Below: webpki, with the self-issued certificate as the anchor (its name constraints apply).
    let anchor = webpki::anchor_from_trusted_cert(pivot).ok()?;
    let anchors = [anchor];
    let pool: Vec<CertificateDer<'_>> = presented
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .map(|(_, c)| c.clone())
        .collect();
    let ee = webpki::EndEntityCert::try_from(leaf).ok()?;
    let lower: Vec<CertificateDer<'static>> = ee
        .verify_for_usage(
            algs,
            &anchors,
            &pool,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .ok()?
        .intermediate_certificates()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();

    // Above: link by link to a pinned root.
    let now_secs = now.as_secs() as i64;
    let mut upper: Vec<CertificateDer<'static>> = vec![CertificateDer::from(pivot.to_vec())];
    let mut reached_root = false;
    for _ in 0..MAX_UPPER_LINKS {
        let current = upper.last()?.clone();
        let child = parse(&current)?;
        let issued_by = |candidate: &CertificateDer<'_>| {
            let parent = parse(candidate)?;
            (parent.subject().as_raw() == child.issuer().as_raw()
                && candidate.as_ref() != current.as_ref()
                && child.verify_signature(Some(parent.public_key())).is_ok())
            .then_some(())
        };
        // The last signature was made by a pinned root: the path is anchored.
        if trust.roots.iter().any(|r| issued_by(r).is_some()) {
            reached_root = true;
            break;
        }
        let parent = presented
            .iter()
            .chain(&trust.intermediates)
            .find(|c| issued_by(c).is_some())?;
        upper.push(CertificateDer::from(parent.to_vec()));
    }
    if !reached_root {
        return None;
    }
    let upper_infos: Vec<(X509Certificate<'_>, CertInfo)> = upper
        .iter()
        .map(|der| Some((parse(der)?, CertInfo::of(der)?)))
        .collect::<Option<_>>()?;
    let lower_infos: Vec<CertInfo> = lower.iter().filter_map(CertInfo::of).collect();
    // Every CA above: a CA allowed to sign certificates, valid now, not signed weakly.
    for (cert, info) in &upper_infos {
        let ca = cert
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|bc| bc.value.ca);
        let may_sign = cert
            .key_usage()
            .ok()
            .flatten()
            .is_none_or(|ku| ku.value.key_cert_sign());
        if !ca || !may_sign || info.weak_signature {
            return None;
        }
        if info.not_before > now_secs || info.not_after < now_secs {
            return None;
        }
    }
    // Path lengths: the CAs below each, self-issued ones not counted (RFC 5280 4.2.1.9).
    let self_issued = |info: &CertInfo| info.subject_der == info.issuer_der;
    let counted_lower = lower_infos.iter().filter(|i| !self_issued(i)).count();
    for (position, (_, info)) in upper_infos.iter().enumerate() {
        let below_in_upper = upper_infos[..position]
            .iter()
            .filter(|(_, i)| !self_issued(i))
            .count();
        if let Some(Some(limit)) = info.ca
            && counted_lower + below_in_upper > limit as usize
        {
            return None;
        }
    }
    // The pinned root's own path length, over everything below it.
    let counted_upper = upper_infos.iter().filter(|(_, i)| !self_issued(i)).count();
    if let Some(top) = upper_infos.last().map(|(_, i)| i)
        && let Some(root) = trust
            .roots
            .iter()
            .filter_map(CertInfo::of)
            .find(|r| r.subject == top.issuer)
        && let Some(Some(limit)) = root.ca
        && counted_lower + counted_upper > limit as usize
    {
        return None;
    }
    // Name constraints above apply to the server's names (not to self-issued CAs).
    let leaf_info = CertInfo::of(leaf)?;
    let mut names: Vec<String> = leaf_info.dns_names.clone().unwrap_or_default();
    if let Some(ServerName::DnsName(host)) = server_name {
        names.push(host.as_ref().to_string());
    }
    for (_, info) in upper_infos.iter().skip(1) {
        if let Some(constraints) = &info.dns_constraints
            && names.iter().any(|n| !constraints.allows(n))
        {
            return None;
        }
    }
    // And the pinned roots' own constraints.
    for root in trust.roots.iter().filter_map(CertInfo::of) {
        if let Some(constraints) = &root.dns_constraints
            && upper_infos
                .last()
                .is_some_and(|(_, top)| top.issuer == root.subject)
            && names.iter().any(|n| !constraints.allows(n))
        {
            return None;
        }
    }
    let mut path = lower;
    path.extend(upper);
    Some(path)
}
