//! Server chains against the revocation lists their certificates name (`[trust] revocation =
//! "warn"` or `"fail"`), after the handshake: the verifier inside the handshake cannot wait for a
//! fetch. Lists from `[trust] crl_files` are judged in the handshake already; an issuer they do
//! not cover has its list fetched from the distribution point its certificate names (once per
//! run, shared by every endpoint), and the chain is judged again with it. A list that cannot be
//! had, or that has expired, makes the status unknown (`crl.status_unknown`, a warning): never a
//! silent pass, never a failure of the endpoint.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};

use super::chain::{Assessment, short_name};
use super::{ProbeContext, Recorder};
use crate::pki::CertInfo;
use crate::pki::crl::LoadedCrl;
use crate::profile::RevocationMode;
use crate::reasons::Reason;

/// The chain's verdict with the lists its certificates name, and what was asked (each list's
/// URL and how long its fetch took), for the check's details.
pub async fn judge(
    ctx: &ProbeContext<'_>,
    recorder: &Recorder,
    assessment: Arc<Assessment>,
    presented: &[CertificateDer<'static>],
    server_name: &ServerName<'_>,
) -> (Arc<Assessment>, Option<String>) {
    let trust = ctx.trust;
    if trust.revocation == RevocationMode::Off || assessment.problem.is_some() {
        return (assessment, None);
    }
    let wanted = uncovered(&assessment.chain, trust);
    if wanted.is_empty() {
        return (assessment, None);
    }
    let now = ctx.tls.now().as_secs() as i64;
    let mut lists: Vec<Arc<LoadedCrl>> = Vec::new();
    let mut asked = Vec::new();
    let mut unknown = Vec::new();
    for (cert, points) in wanted {
        let whose = short_name(&cert);
        let issuer = issuer_of(&cert, presented, trust);
        let mut tried = Vec::new();
        for url in &points {
            let (fetched, here) = ctx.crls.get(url).await;
            let took = fetched.took;
            // A list is believed only when the certificate's issuer signed it: a list with
            // the issuer's name and another key says nothing, whatever it lists.
            let believed = fetched.list.and_then(|list| match &issuer {
                Some(issuer) if list.signed_by(issuer) => Ok(list),
                Some(_) => Err(format!(
                    "the list at {url} carries the name {} but is not signed by the key of {whose}'s issuer: not believed",
                    list.issuer
                )),
                None => Err(format!(
                    "{whose}'s issuer is not in the chain or the profile's anchors, so the list at {url} cannot be checked"
                )),
            });
            match believed {
                Ok(list) => {
                    asked.push(match here {
                        true => format!("{url} (fetched in {} ms)", took.as_millis()),
                        false => format!("{url} (fetched earlier)"),
                    });
                    if let Some(next) = list.next_update.filter(|next| *next <= now) {
                        unknown.push(format!(
                            "the revocation list at {url} expired on {} (its nextUpdate): {whose}'s status is unknown",
                            crate::pki::rfc3339(next)
                        ));
                    }
                    lists.push(list);
                    tried.clear();
                    break;
                }
                Err(problem) => tried.push(problem),
            }
        }
        if !tried.is_empty() {
            asked.push(format!("{} (not had)", points.join(", ")));
            unknown.push(format!(
                "{whose}'s revocation list could not be had, so its revocation status is unknown: {}",
                tried.join("; ")
            ));
        }
    }
    let mut judged = match (lists.is_empty(), presented.split_first()) {
        (false, Some((end_entity, intermediates))) => {
            (*recorder.reassess(&lists, end_entity, intermediates, server_name)).clone()
        }
        _ => (*assessment).clone(),
    };
    judged.warnings.extend(
        unknown
            .into_iter()
            .map(|text| (Reason::CrlStatusUnknown, text)),
    );
    (Arc::new(judged), Some(asked.join("; ")))
}

/// The certificates of the path whose issuer no CRL file covers, with their http://
/// distribution points: what was sent (leaf first), and a pinned intermediate the path goes
/// through when the server did not send it.
fn uncovered(chain: &[CertInfo], trust: &crate::pki::TrustStore) -> Vec<(CertInfo, Vec<String>)> {
    let pinned: Vec<CertInfo> = trust
        .intermediates
        .iter()
        .filter_map(CertInfo::of)
        .filter(|p| {
            chain.iter().any(|c| c.issuer == p.subject)
                && !chain.iter().any(|c| c.sha256 == p.sha256)
        })
        .collect();
    chain
        .iter()
        .chain(&pinned)
        .filter(|cert| !cert.self_signed)
        .filter(|cert| !trust.crls.iter().any(|c| c.issuer == cert.issuer))
        .filter_map(|cert| {
            let points: Vec<String> = cert
                .crl_points
                .iter()
                .filter(|p| p.starts_with("http://"))
                .take(crate::probe::revocation::MAX_POINTS)
                .cloned()
                .collect();
            (!points.is_empty()).then(|| (cert.clone(), points))
        })
        .collect()
}

/// The certificate that issued `cert`: sent by the server, or one of the profile's anchors.
fn issuer_of(
    cert: &CertInfo,
    presented: &[CertificateDer<'static>],
    trust: &crate::pki::TrustStore,
) -> Option<CertificateDer<'static>> {
    presented
        .iter()
        .chain(&trust.intermediates)
        .chain(&trust.roots)
        .find(|candidate| CertInfo::of(candidate).is_some_and(|c| c.subject_der == cert.issuer_der))
        .cloned()
}
