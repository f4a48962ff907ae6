//! Registration phase: what the directory says about *you*. Your ASID's Accredited System record,
//! your party key's MHS records, and whether the FQDN they register is the name in your client
//! certificate (SSP compares the two: a mismatch rejects every message). The searches run on one
//! directory session, in one round trip; judging them is pure, so `sds --mine` shows the same.

use crate::findings::{Check, CheckKind, DirectoryEntry};
use crate::probe::ProbeFailure;
use crate::probe::ldap::{self, Found, SearchRequest};
use crate::profile::Registration;
use crate::reasons::Reason;
use crate::spine_directory::{self as sds, AS_ATTRIBUTES, BASE, MHS_ATTRIBUTES};

/// The heading the registration checks are reported under.
pub const REGISTRATION: &str = "client-registration";

/// The directory's answers about one registration.
#[derive(Clone, Debug, Default)]
pub struct Answers {
    /// The AS record search, when an ASID is configured.
    pub accredited_system: Option<Result<Found, ProbeFailure>>,
    /// The MHS record search, when a party key is configured.
    pub mhs: Option<Result<Found, ProbeFailure>>,
}

impl Answers {
    /// The MHS records found, if any.
    pub fn mhs_records(&self) -> &[DirectoryEntry] {
        match &self.mhs {
            Some(Ok(found)) => &found.entries,
            _ => &[],
        }
    }
}

/// Asks the directory, both searches side by side.
pub async fn look_up(session: &mut ldap::Session, registration: &Registration) -> Answers {
    let as_attributes: Vec<String> = AS_ATTRIBUTES.iter().map(|a| a.to_string()).collect();
    let mhs_attributes: Vec<String> = MHS_ATTRIBUTES.iter().map(|a| a.to_string()).collect();
    let as_filter = registration.asid.as_deref().map(sds::as_of_asid);
    let mhs_filter = registration
        .party_key
        .as_deref()
        .map(|pk| sds::mhs_of_party_key(pk, None));
    let mut requests = Vec::new();
    if let Some(filter) = &as_filter {
        requests.push(SearchRequest {
            base: BASE,
            filter,
            attributes: &as_attributes,
            scope: 2,
        });
    }
    if let Some(filter) = &mhs_filter {
        requests.push(SearchRequest {
            base: BASE,
            filter,
            attributes: &mhs_attributes,
            scope: 2,
        });
    }
    let mut outcomes = session.search_all(&requests).await.into_iter();
    Answers {
        accredited_system: as_filter.as_ref().and_then(|_| outcomes.next()),
        mhs: mhs_filter.as_ref().and_then(|_| outcomes.next()),
    }
}

/// The same failure for every search, when the directory could not be asked at all.
pub fn unreachable(registration: &Registration, failure: &ProbeFailure) -> Answers {
    Answers {
        accredited_system: registration.asid.as_ref().map(|_| Err(failure.clone())),
        mhs: registration
            .party_key
            .as_ref()
            .map(|_| Err(failure.clone())),
    }
}

/// Judges the answers: one check per question, each with its own reason code.
/// `cert_names`: the client certificate's CN and DNS SANs (empty without a certificate).
pub fn judge(
    registration: &Registration,
    answers: &Answers,
    cert_names: &[String],
    directory: &str,
) -> Vec<Check> {
    let new = || Check::new(REGISTRATION, CheckKind::Registration, directory.to_string());
    let mut checks = Vec::new();
    if let (Some(asid), Some(outcome)) = (&registration.asid, &answers.accredited_system) {
        let check = new().with_detail(|d| {
            d.ldap().search = Some("accredited-system".into());
            d.ldap().base = Some(BASE.into());
            d.ldap().filter = Some(sds::as_of_asid(asid));
        });
        checks.push(judge_accredited_system(check, registration, asid, outcome));
    }
    if let (Some(party_key), Some(outcome)) = (&registration.party_key, &answers.mhs) {
        let check = new().with_detail(|d| {
            d.ldap().search = Some("mhs-records".into());
            d.ldap().base = Some(BASE.into());
            d.ldap().filter = Some(sds::mhs_of_party_key(party_key, None));
        });
        checks.push(judge_mhs(check, registration, party_key, outcome));
        if let Ok(found) = outcome
            && !found.entries.is_empty()
            && let Some(check) = judge_fqdn(new(), registration, &found.entries, cert_names)
        {
            checks.push(check);
        }
    }
    checks
}

fn asked_failure(check: Check, what: &str, failure: &ProbeFailure) -> Check {
    check.fail(
        failure.reason,
        format!(
            "the directory could not be asked for {what}: {}",
            failure.message
        ),
    )
}

fn judge_accredited_system(
    check: Check,
    registration: &Registration,
    asid: &str,
    outcome: &Result<Found, ProbeFailure>,
) -> Check {
    let found = match outcome {
        Err(failure) => return asked_failure(check, &format!("ASID {asid}"), failure),
        Ok(found) => found,
    };
    let Some(record) = found.entries.first() else {
        return check.fail(
            Reason::RegistrationAsidNotFound,
            format!("the directory has no Accredited System record for ASID {asid}"),
        );
    };
    let check = check.with_detail(|d| {
        d.ldap().entries = Some(found.entries.len() as u64);
        d.ldap().sample = Some(vec![record.clone()]);
    });
    let first = |name: &str| record.get(name).first().cloned().unwrap_or_default();
    let (their_party_key, their_ods) = (first("nhsMHSPartyKey"), first("nhsIDCode"));
    let mut wrong = Vec::new();
    if let Some(party_key) = &registration.party_key
        && !their_party_key.eq_ignore_ascii_case(party_key)
    {
        wrong.push(format!(
            "party key {} (you said {party_key})",
            shown(&their_party_key)
        ));
    }
    if let Some(ods) = &registration.ods
        && !their_ods.eq_ignore_ascii_case(ods)
    {
        wrong.push(format!("ODS code {} (you said {ods})", shown(&their_ods)));
    }
    if !wrong.is_empty() {
        return check.fail(
            Reason::RegistrationAsMismatch,
            format!("ASID {asid} is registered with {}", wrong.join(" and ")),
        );
    }
    // Interaction IDs match case-exactly in SDS.
    let registered = record.get("nhsAsSvcIA");
    let missing: Vec<&str> = registration
        .interactions
        .iter()
        .filter(|i| !registered.contains(i))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return check.fail(
            Reason::RegistrationInteractionMissing,
            format!(
                "ASID {asid} does not register {} of your interactions: {}",
                missing.len(),
                missing.join(", ")
            ),
        );
    }
    check.pass(format!(
        "ASID {asid}: party key {}, ODS code {}, product {}, {} interactions registered",
        shown(&their_party_key),
        shown(&their_ods),
        shown(&first("nhsProductName")),
        registered.len()
    ))
}

fn judge_mhs(
    check: Check,
    registration: &Registration,
    party_key: &str,
    outcome: &Result<Found, ProbeFailure>,
) -> Check {
    let found = match outcome {
        Err(failure) => return asked_failure(check, &format!("party key {party_key}"), failure),
        Ok(found) => found,
    };
    let check = check.with_detail(|d| {
        d.ldap().entries = Some(found.entries.len() as u64);
        d.ldap().sample = Some(found.entries.iter().take(20).cloned().collect());
        if let Some(by) = &found.truncated_by {
            d.ldap().truncated = Some(true);
            d.ldap().truncated_by = Some(by.clone());
        }
    });
    if found.entries.is_empty() {
        return check.fail(
            Reason::RegistrationMhsNotFound,
            format!("the directory has no MHS record for party key {party_key}"),
        );
    }
    let missing: Vec<&str> = registration
        .interactions
        .iter()
        .filter(|i| {
            !found
                .entries
                .iter()
                .any(|e| e.get("nhsMhsSvcIA").contains(i))
        })
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return check.fail(
            Reason::RegistrationMhsNotFound,
            format!(
                "party key {party_key} has no MHS record for {} of your interactions: {}",
                missing.len(),
                missing.join(", ")
            ),
        );
    }
    check.pass(format!(
        "party key {party_key}: {} MHS records; {}",
        found.entries.len(),
        settings_summary(&found.entries)
    ))
}

/// The records' reliability settings, grouped: "retries 2 every PT1M, persist PT5M, ack always,
/// sync reply MSHSignalsOnly (3 records)".
pub fn settings_summary(records: &[DirectoryEntry]) -> String {
    let mut groups: Vec<(String, usize)> = Vec::new();
    for record in records {
        let first = |name: &str| record.get(name).first().cloned();
        let mut parts = Vec::new();
        if let Some(retries) = first("nhsMHSRetries") {
            let every = first("nhsMHSRetryInterval")
                .map(|i| format!(" every {i}"))
                .unwrap_or_default();
            parts.push(format!("retries {retries}{every}"));
        }
        if let Some(persist) = first("nhsMHSPersistDuration") {
            parts.push(format!("persist {persist}"));
        }
        if let Some(ack) = first("nhsMHSAckRequested") {
            parts.push(format!("ack {ack}"));
        }
        if let Some(mode) = first("nhsMHSSyncReplyMode") {
            parts.push(format!("sync reply {mode}"));
        }
        let text = if parts.is_empty() {
            "no reliability settings".to_string()
        } else {
            parts.join(", ")
        };
        match groups.iter_mut().find(|(t, _)| *t == text) {
            Some((_, n)) => *n += 1,
            None => groups.push((text, 1)),
        }
    }
    groups
        .into_iter()
        .map(|(text, n)| format!("{text} ({n} record{})", if n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join("; ")
}

/// SSP compares the sender's certificate with the FQDN its MHS records register.
fn judge_fqdn(
    check: Check,
    registration: &Registration,
    records: &[DirectoryEntry],
    cert_names: &[String],
) -> Option<Check> {
    if cert_names.is_empty() && registration.fqdn.is_none() {
        return None;
    }
    let mut registered: Vec<String> = records
        .iter()
        .flat_map(|r| r.get("nhsMhsFQDN").iter().cloned())
        .collect();
    registered.sort_by_key(|n| n.to_ascii_lowercase());
    registered.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let check = check.with_detail(|d| d.ldap().search = Some("mhs-fqdn".into()));
    if registered.is_empty() {
        return Some(check.fail(
            Reason::RegistrationFqdnMismatch,
            "your MHS records register no FQDN (nhsMhsFQDN): Spine cannot match your certificate to them",
        ));
    }
    let in_cert = |name: &str| cert_names.iter().any(|c| c.eq_ignore_ascii_case(name));
    let mut wrong = Vec::new();
    for name in &registered {
        if !cert_names.is_empty() && !in_cert(name) {
            wrong.push(format!(
                "the records register {name}, but your client certificate is issued for {}",
                cert_names.join(", ")
            ));
        }
        if let Some(fqdn) = &registration.fqdn
            && !fqdn.eq_ignore_ascii_case(name)
        {
            wrong.push(format!(
                "the records register {name}, but [client] fqdn is {fqdn}"
            ));
        }
    }
    Some(if wrong.is_empty() {
        check.pass(format!(
            "your MHS records register {}, the name in your client certificate",
            registered.join(", ")
        ))
    } else {
        check.fail(Reason::RegistrationFqdnMismatch, wrong.join("; "))
    })
}

fn shown(value: &str) -> &str {
    if value.is_empty() { "(none)" } else { value }
}

/// The endpoint URLs your MHS records register, each once, in the order found.
pub fn registered_urls(records: &[DirectoryEntry]) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for url in records.iter().flat_map(|r| r.get("nhsMHSEndPoint")) {
        if !urls.iter().any(|u| u.eq_ignore_ascii_case(url)) {
            urls.push(url.clone());
        }
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(attrs: &[(&str, &[&str])]) -> DirectoryEntry {
        DirectoryEntry {
            dn: "uniqueIdentifier=x,ou=services,o=nhs".into(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
        }
    }

    fn mine() -> Registration {
        Registration {
            asid: Some("200000000001".into()),
            party_key: Some("ABC-0000001".into()),
            ods: Some("ABC".into()),
            interactions: vec!["urn:a".into(), "urn:b".into()],
            fqdn: Some("mhs.abc.thirdparty.nhs.uk".into()),
        }
    }

    fn found(entries: Vec<DirectoryEntry>) -> Option<Result<Found, ProbeFailure>> {
        Some(Ok(Found {
            entries,
            ..Found::default()
        }))
    }

    #[test]
    fn each_problem_is_its_own_reason() {
        let reg = mine();
        let cert = vec!["mhs.abc.thirdparty.nhs.uk".to_string()];
        let good_as = entry(&[
            ("nhsMHSPartyKey", &["abc-0000001"]),
            ("nhsIDCode", &["ABC"]),
            ("nhsAsSvcIA", &["urn:a", "urn:b"]),
        ]);
        let mhs = |iid: &str, fqdn: &str| {
            entry(&[
                ("nhsMhsSvcIA", &[iid]),
                ("nhsMhsFQDN", &[fqdn]),
                (
                    "nhsMHSEndPoint",
                    &["https://mhs.abc.thirdparty.nhs.uk/reliablemessaging"],
                ),
                ("nhsMHSRetries", &["2"]),
            ])
        };
        let good = Answers {
            accredited_system: found(vec![good_as.clone()]),
            mhs: found(vec![
                mhs("urn:a", "mhs.abc.thirdparty.nhs.uk"),
                mhs("urn:b", "MHS.abc.thirdparty.nhs.uk"),
            ]),
        };
        let checks = judge(&reg, &good, &cert, "d");
        assert_eq!(checks.len(), 3);
        assert!(checks.iter().all(|c| c.reason.is_none()), "{checks:#?}");
        assert!(checks[1].message.contains("retries 2 (2 records)"));

        let reasons = |answers: &Answers, cert: &[String]| -> Vec<Option<&'static str>> {
            judge(&reg, answers, cert, "d")
                .iter()
                .map(|c| c.reason.map(Reason::code))
                .collect()
        };
        let no_as = Answers {
            accredited_system: found(vec![]),
            ..good.clone()
        };
        assert_eq!(
            reasons(&no_as, &cert)[0],
            Some("registration.asid_not_found")
        );
        let other_pk = Answers {
            accredited_system: found(vec![entry(&[
                ("nhsMHSPartyKey", &["XYZ-0000009"]),
                ("nhsIDCode", &["ABC"]),
            ])]),
            ..good.clone()
        };
        assert_eq!(
            reasons(&other_pk, &cert)[0],
            Some("registration.as_mismatch")
        );
        let one_iid = Answers {
            accredited_system: found(vec![entry(&[
                ("nhsMHSPartyKey", &["ABC-0000001"]),
                ("nhsIDCode", &["abc"]),
                ("nhsAsSvcIA", &["urn:a", "URN:B"]),
            ])]),
            ..good.clone()
        };
        let checks = judge(&reg, &one_iid, &cert, "d");
        assert_eq!(
            checks[0].reason,
            Some(Reason::RegistrationInteractionMissing)
        );
        assert!(
            checks[0].message.ends_with("urn:b"),
            "{}",
            checks[0].message
        );
        let half = Answers {
            mhs: found(vec![mhs("urn:a", "mhs.abc.thirdparty.nhs.uk")]),
            ..good.clone()
        };
        assert_eq!(reasons(&half, &cert)[1], Some("registration.mhs_not_found"));
        let other_cert = vec!["old.abc.thirdparty.nhs.uk".to_string()];
        assert_eq!(
            reasons(&good, &other_cert)[2],
            Some("registration.fqdn_mismatch")
        );
        let down = unreachable(&reg, &ProbeFailure::new(Reason::TcpRefused, "refused"));
        assert_eq!(reasons(&down, &cert), vec![Some("tcp.refused"); 2]);
    }
}
