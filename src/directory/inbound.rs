//! Your own endpoint, as Spine will reach it: after the DNS, TCP and TLS phases of each URL your
//! MHS records register (the TLS phase already judges the certificate: issued under the
//! profile's anchors for that name, in date, a SAN and not only a CN, TLS 1.2 or later), this
//! judges what the handshake asked of a client. Spine presents its own certificate, issued by
//! the INT SubCA, so your endpoint must ask for one and name the SubCA or the G2 root among the
//! CAs it accepts. Checked from this machine, which is not Spine: the firewall advice says what
//! Spine's side needs.

use crate::findings::{Check, CheckKind, Status};
use crate::profile::Origin;
use crate::reasons::Reason;

/// One inbound check per inbound endpoint in `checks`, judged from its TLS checks.
/// `accepted_cas`: the common names of the anchors Spine's certificate chains to.
pub fn judge_all(checks: &[Check], accepted_cas: &[String], sources: &[String]) -> Vec<Check> {
    let mut out = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for tls in checks.iter().filter(|c| c.kind == CheckKind::Tls) {
        if seen.contains(&tls.endpoint.as_str()) {
            continue;
        }
        seen.push(&tls.endpoint);
        let endpoint_checks: Vec<&Check> = checks
            .iter()
            .filter(|c| c.endpoint == tls.endpoint && c.kind == CheckKind::Tls)
            .collect();
        out.push(judge(&endpoint_checks, accepted_cas, sources));
    }
    out
}

/// The firewall advice every inbound check carries.
fn firewall(sources: &[String], port: &str) -> String {
    format!(
        "checked from this machine, not from Spine: your inbound firewall must allow TCP {port} from {}",
        sources.join(", ")
    )
}

fn judge(tls_checks: &[&Check], accepted_cas: &[String], sources: &[String]) -> Check {
    let first = tls_checks[0];
    let port = first.target.rsplit(':').next().unwrap_or("443").to_string();
    let check = Check::new(&first.endpoint, CheckKind::Inbound, first.target.clone());
    // The address whose handshake got furthest: one that asked for a certificate.
    let Some(tls) = tls_checks
        .iter()
        .find(|c| {
            c.details
                .tls
                .as_ref()
                .and_then(|t| t.client_cert_requested)
                .is_some()
        })
        .copied()
    else {
        return check.skip("not run: no TLS handshake with your endpoint got far enough to judge");
    };
    let check = match tls.address {
        Some(address) => check.at(address),
        None => check,
    };
    let details = tls.details.tls.as_ref();
    let asked = details.and_then(|t| t.client_cert_requested) == Some(true);
    let names = details
        .and_then(|t| t.acceptable_ca_names.clone())
        .unwrap_or_default();
    let advice = firewall(sources, &port);
    if !asked {
        return check.fail(
            Reason::InboundNoClientCertRequest,
            format!(
                "your endpoint does not ask for a client certificate: Spine's calls would not be authenticated ({advice})"
            ),
        );
    }
    // The CN component exactly ("CN=NHS PTL Root Authority" is not the G2 root).
    let named = |cn: &String| {
        let wanted = format!("CN={cn}");
        names.iter().any(|n| {
            n.match_indices(&wanted).any(|(at, _)| {
                let rest = &n[at + wanted.len()..];
                rest.is_empty() || rest.starts_with(',') || rest.starts_with(' ')
            })
        })
    };
    // An empty list means "any CA" (TLS 1.2 allows it): Spine's certificate is then offered.
    if !names.is_empty() && !accepted_cas.iter().any(named) {
        return check
            .with_detail(|d| d.tls().acceptable_ca_names = Some(names.clone()))
            .fail(
                Reason::InboundWrongCaNames,
                format!(
                    "your endpoint asks for a client certificate from {}, not from {}: Spine's certificate will not be offered ({advice})",
                    names.join("; "),
                    accepted_cas.join(" or ")
                ),
            );
    }
    let from = if names.is_empty() {
        "any CA".to_string()
    } else {
        accepted_cas
            .iter()
            .filter(|cn| named(cn))
            .cloned()
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let tls_ok = tls_checks.iter().all(|c| c.status != Status::Fail);
    let summary =
        format!("asks for a client certificate from {from} (Spine presents its own); {advice}");
    let check = check.with_detail(|d| d.tls().acceptable_ca_names = Some(names));
    if tls_ok {
        check.pass(summary)
    } else {
        // The TLS phase failed for its own reason (shown above it); this part is right.
        check.pass(format!(
            "{summary}; the TLS check above says what else is wrong"
        ))
    }
}

/// Whether an endpoint is someone's own (the inbound checks apply).
pub fn is_inbound(origin: Origin) -> bool {
    origin == Origin::Inbound
}
