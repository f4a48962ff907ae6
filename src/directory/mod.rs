//! The directory in one place: a session to it (through the TLS phase's own
//! connect-and-classify path), your registration (registration.rs: the searches and their pure
//! judging), your own endpoint as Spine reaches it (inbound.rs), and discovery (what the
//! directory registers under a party key, compared with the profile). The Spine directory's
//! facts (base, classes, attributes, filters) are `crate::spine_directory`.

pub mod inbound;
pub mod registration;

use std::net::SocketAddr;

use crate::engine::Engine;
use crate::findings::{Check, CheckKind};
use crate::plan::PlannedEndpoint;
use crate::probe::{ProbeFailure, dns, ldap};
use crate::profile::Endpoint;
use crate::reasons::Reason;

/// A directory session to `planned` (an ldaps:// endpoint): its name resolved, then the
/// first address that completes TCP, TLS (verified) and, when configured, the bind.
pub async fn session(
    engine: &Engine,
    planned: &PlannedEndpoint,
) -> Result<crate::probe::ldap::Session, ProbeFailure> {
    let ctx = engine.context(planned);
    let url = &planned.endpoint.url;
    let addresses = match url.ip {
        Some(ip) => vec![ip],
        None => {
            let outcome = engine.resolver.resolve(&url.host).await;
            if let Some(failure) = dns::named_failure(&url.host, planned.endpoint.network, &outcome)
            {
                return Err(failure);
            }
            outcome.result?.addresses
        }
    };
    let mut last = None;
    for ip in addresses
        .into_iter()
        .take(crate::plan::MAX_ADDRESSES_PER_HOST)
    {
        let address = SocketAddr::new(ip, url.port);
        match crate::probe::ldap::open(&ctx, address, None).await {
            Ok(session) => return Ok(session),
            Err(f) => {
                // TCP failures name the address already.
                let message = if f.message.starts_with(&address.to_string()) {
                    f.message
                } else {
                    format!("{address}: {}", f.message)
                };
                last = Some(ProbeFailure { message, ..f })
            }
        }
    }
    Err(last.unwrap_or(ProbeFailure::new(
        Reason::DnsNoAddress,
        "no address to connect to",
    )))
}

/// The MHS records the directory holds for `party_key` (discovery).
pub async fn mhs_records(
    engine: &Engine,
    directory: &PlannedEndpoint,
    party_key: &str,
) -> Result<ldap::Found, ProbeFailure> {
    let mut session = session(engine, directory).await?;
    use crate::spine_directory as sds;
    let filter = sds::mhs_of_party_key(party_key, None);
    let attributes: Vec<String> = sds::DISCOVERY_ATTRIBUTES
        .iter()
        .map(|a| a.to_string())
        .collect();
    let found = session.search(sds::BASE, &filter, &attributes).await;
    session.close().await;
    found
}

/// The registration phase: your records in the directory at `directory`, judged.
pub async fn registration(
    engine: &Engine,
    directory: &PlannedEndpoint,
    registration: &crate::profile::Registration,
    cert_names: &[String],
) -> (Vec<Check>, registration::Answers) {
    let started = std::time::Instant::now();
    let answers = match session(engine, directory).await {
        Ok(mut session) => {
            let answers = registration::look_up(&mut session, registration).await;
            session.close().await;
            answers
        }
        Err(failure) => registration::unreachable(registration, &failure),
    };
    let elapsed = started.elapsed();
    let mut checks = registration::judge(
        registration,
        &answers,
        cert_names,
        &directory.endpoint.url.authority(),
    );
    for check in &mut checks {
        check.duration = elapsed;
        check.details.seal();
        Engine::log_check(check);
    }
    (checks, answers)
}

/// What discovery compares the directory's answer with.
#[derive(Clone, Copy)]
pub struct Compared<'a> {
    /// Every URL the profile checks.
    pub profile_urls: &'a [String],
    /// New endpoints probed at most (`[discovery] max_endpoints`).
    pub max: usize,
    /// Whether the endpoints found get the client certificate.
    pub mtls: bool,
}

/// The heading of the discovery summary.
pub const DISCOVERY: &str = "directory-discovery";

/// Judges what the directory registers under the profile's party key against the profile, and
/// returns the summary check and the endpoints to probe (new URLs only, at most `max`).
pub fn discovery_summary(
    party_key: &str,
    directory: &crate::plan::PlannedEndpoint,
    found: Result<crate::probe::ldap::Found, crate::probe::ProbeFailure>,
    compared: &Compared<'_>,
) -> (crate::findings::Check, Vec<Endpoint>) {
    let Compared {
        profile_urls,
        max,
        mtls,
    } = *compared;
    let check = crate::findings::Check::new(
        DISCOVERY,
        CheckKind::Ldap,
        directory.endpoint.url.authority(),
    );
    let found = match found {
        Ok(found) => found,
        Err(failure) => {
            let message = format!(
                "the directory could not be asked what it registers under {party_key}: {}",
                failure.message
            );
            return (check.fail(failure.reason, message), Vec::new());
        }
    };
    let urls = registration::registered_urls(&found.entries);
    let in_profile = |u: &String| profile_urls.iter().any(|p| Endpoint::same_url(p, u));
    let new: Vec<String> = urls.iter().filter(|u| !in_profile(u)).cloned().collect();
    let messaging = |u: &&String| {
        url::Url::parse(u).is_ok_and(|u| {
            u.path().starts_with("/reliablemessaging") || u.path().starts_with("/sync-service")
        })
    };
    let unlisted: Vec<String> = profile_urls
        .iter()
        .filter(messaging)
        .filter(|p| !urls.iter().any(|u| Endpoint::same_url(p, u)))
        .cloned()
        .collect();
    let endpoints: Vec<Endpoint> = new
        .iter()
        .filter_map(|u| Endpoint::found(u, crate::profile::Origin::Directory, mtls))
        .take(max)
        .collect();
    let mut message = format!(
        "the directory registers {} endpoint URLs under {party_key} ({} MHS records): {} already in the profile, {} more probed below",
        urls.len(),
        found.entries.len(),
        urls.len() - new.len(),
        endpoints.len()
    );
    if new.len() > endpoints.len() {
        message.push_str(&format!(
            "; {} not probed ([discovery] max_endpoints is {max}, or not https://)",
            new.len() - endpoints.len()
        ));
    }
    if !unlisted.is_empty() {
        let shown: Vec<&str> = unlisted.iter().take(3).map(String::as_str).collect();
        let more = match unlisted.len() {
            n if n > 3 => format!(" and {} more", n - 3),
            _ => String::new(),
        };
        message.push_str(&format!(
            "; the profile's messaging {} {}{more} {} not registered there",
            if unlisted.len() == 1 {
                "endpoint"
            } else {
                "endpoints"
            },
            shown.join(", "),
            if unlisted.len() == 1 { "is" } else { "are" },
        ));
    }
    let check = check.with_detail(|d| {
        d.ldap().entries = Some(found.entries.len() as u64);
        d.ldap().not_in_profile = Some(new.clone());
        d.ldap().not_in_directory = Some(unlisted.clone());
        if let Some(by) = &found.truncated_by {
            d.ldap().truncated = Some(true);
            d.ldap().truncated_by = Some(by.clone());
        }
    });
    (check.pass(message), endpoints)
}
