//! `--format prometheus`: the text exposition format, for node_exporter's textfile collector.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::findings::{CheckKind, Report, Status};

/// Escapes a label value (backslash, double quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The HELP and TYPE lines that open a gauge family.
pub fn gauge(out: &mut String, name: &str, help: &str) {
    family(out, name, "gauge", help);
}

/// The HELP and TYPE lines that open a family of any type.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

pub fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

pub fn render(report: &Report) -> String {
    // One series per (endpoint, kind, target, address, search); several checks with the same
    // labels (the identity checks) fold into one: up if all are, durations added.
    let mut series: BTreeMap<String, (u8, f64)> = BTreeMap::new();
    let mut not_after: BTreeMap<String, i64> = BTreeMap::new();
    // Bounded label sets: endpoint x kind x reason, the reason from the closed catalogue.
    let mut failures: BTreeMap<String, ()> = BTreeMap::new();
    let mut client_not_after: Option<i64> = None;
    let mut requested: BTreeMap<String, u8> = BTreeMap::new();
    let mut entries: BTreeMap<String, u64> = BTreeMap::new();
    for check in &report.checks {
        if matches!(check.status, Status::Fail | Status::Warn)
            && let Some(reason) = check.reason
        {
            failures.insert(
                labels(&[
                    ("endpoint", &check.endpoint),
                    ("kind", check.kind.as_str()),
                    ("reason", reason.code()),
                ]),
                (),
            );
        }
        if let Some(identity) = &check.details.identity
            && let Some(at) = identity
                .not_after
                .as_deref()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        {
            client_not_after = Some(at.as_second());
        }
        if let Some(asked) = check
            .details
            .tls
            .as_ref()
            .and_then(|t| t.client_cert_requested)
        {
            let key = labels(&[("endpoint", &check.endpoint)]);
            let entry = requested.entry(key).or_insert(0);
            *entry = (*entry).max(u8::from(asked));
        }
        if let Some(ldap) = &check.details.ldap
            && let (Some(count), Some(search)) = (ldap.entries, ldap.search.as_deref())
        {
            entries.insert(
                labels(&[("endpoint", &check.endpoint), ("search", search)]),
                count,
            );
        }
    }
    for check in report.checks.iter().filter(|c| c.status != Status::Skip) {
        let address = check.address.map(|a| a.to_string()).unwrap_or_default();
        let search = check.details.search_name().unwrap_or_default();
        let key = labels(&[
            ("endpoint", &check.endpoint),
            ("kind", check.kind.as_str()),
            ("target", &check.target),
            ("address", &address),
            ("search", search),
        ]);
        let up = u8::from(check.status != Status::Fail);
        let entry = series.entry(key).or_insert((1, 0.0));
        entry.0 = entry.0.min(up);
        entry.1 += check.duration.as_secs_f64();
        for element in check.details.chain() {
            let Ok(at) = element.not_after.parse::<jiff::Timestamp>() else {
                continue;
            };
            let key = labels(&[("endpoint", &check.endpoint), ("subject", &element.subject)]);
            let entry = not_after.entry(key).or_insert(at.as_second());
            *entry = (*entry).min(at.as_second());
        }
    }
    let mut out = String::new();
    gauge(
        &mut out,
        "int_check_up",
        "Whether a check passed or warned (1) or failed (0); skipped checks are absent.",
    );
    for (labels, (up, _)) in &series {
        let _ = writeln!(out, "int_check_up{labels} {up}");
    }
    gauge(
        &mut out,
        "int_check_duration_seconds",
        "How long a check took.",
    );
    for (labels, (_, seconds)) in &series {
        let _ = writeln!(out, "int_check_duration_seconds{labels} {seconds:.6}");
    }
    gauge(
        &mut out,
        "int_check_cert_not_after_seconds",
        "When a certificate a server presented expires (Unix time).",
    );
    for (labels, at) in &not_after {
        let _ = writeln!(out, "int_check_cert_not_after_seconds{labels} {at}");
    }
    gauge(
        &mut out,
        "int_check_failure_info",
        "1 for every failing or warning check, with its reason code (int-check explain REASON).",
    );
    for labels in failures.keys() {
        let _ = writeln!(out, "int_check_failure_info{labels} 1");
    }
    gauge(
        &mut out,
        "int_check_client_cert_not_after_seconds",
        "When the client certificate for mutual TLS expires (Unix time).",
    );
    if let Some(at) = client_not_after {
        let _ = writeln!(out, "int_check_client_cert_not_after_seconds {at}");
    }
    gauge(
        &mut out,
        "int_check_client_cert_requested",
        "Whether the server asked for a client certificate in its TLS handshake.",
    );
    for (labels, asked) in &requested {
        let _ = writeln!(out, "int_check_client_cert_requested{labels} {asked}");
    }
    gauge(
        &mut out,
        "int_check_ldap_entries",
        "Entries a directory search returned.",
    );
    for (labels, count) in &entries {
        let _ = writeln!(out, "int_check_ldap_entries{labels} {count}");
    }
    let handshakes: Vec<(String, u64)> = report
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::Mesh)
        .filter_map(|c| {
            let age = c.details.http.as_ref()?.handshake_age_seconds?;
            Some((labels(&[("endpoint", c.endpoint.as_str())]), age))
        })
        .collect();
    if !handshakes.is_empty() {
        gauge(
            &mut out,
            "int_check_mesh_handshake_age_seconds",
            "How long ago the MESH handshake shown was made (int-check serve makes one per --mesh-interval).",
        );
        for (labels, age) in &handshakes {
            let _ = writeln!(out, "int_check_mesh_handshake_age_seconds{labels} {age}");
        }
    }
    let summary = report.summary();
    gauge(
        &mut out,
        "int_check_checks",
        "How many checks ended in each status in the last run.",
    );
    for (status, count) in [
        ("pass", summary.pass),
        ("warn", summary.warn),
        ("fail", summary.fail),
        ("skip", summary.skip),
    ] {
        let _ = writeln!(
            out,
            "int_check_checks{} {count}",
            labels(&[("status", status)])
        );
    }
    gauge(
        &mut out,
        "int_check_maintenance",
        "Whether a service was in a published maintenance slot during the run.",
    );
    for occurrence in &report.maintenance.active {
        let _ = writeln!(
            out,
            "int_check_maintenance{} 1",
            labels(&[("service", &occurrence.service)])
        );
    }
    for occurrence in &report.maintenance.next {
        let _ = writeln!(
            out,
            "int_check_maintenance{} 0",
            labels(&[("service", &occurrence.service)])
        );
    }
    gauge(
        &mut out,
        "int_check_last_run_timestamp_seconds",
        "When the last run started (Unix time).",
    );
    let _ = writeln!(
        out,
        "int_check_last_run_timestamp_seconds {}",
        report.started_at.as_second()
    );
    out
}

/// blackbox_exporter's names for one probed endpoint, so that its alerts and dashboards work
/// unchanged on `/probe`.
pub fn blackbox(report: &Report, elapsed: std::time::Duration) -> String {
    let summary = report.summary();
    let status = report
        .checks
        .iter()
        .filter_map(|c| c.details.http.as_ref()?.status)
        .next_back()
        .unwrap_or(0);
    let earliest = report
        .checks
        .iter()
        .flat_map(|c| c.details.chain())
        .filter_map(|e| e.not_after.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second())
        .min();
    let mut out = String::new();
    gauge(
        &mut out,
        "probe_success",
        "Whether the probe succeeded (no check failed).",
    );
    let _ = writeln!(out, "probe_success {}", u8::from(summary.fail == 0));
    gauge(
        &mut out,
        "probe_duration_seconds",
        "How long the probe took.",
    );
    let _ = writeln!(out, "probe_duration_seconds {:.6}", elapsed.as_secs_f64());
    gauge(
        &mut out,
        "probe_http_status_code",
        "The HTTP status of the answer (0: none).",
    );
    let _ = writeln!(out, "probe_http_status_code {status}");
    if let Some(at) = earliest {
        gauge(
            &mut out,
            "probe_ssl_earliest_cert_expiry",
            "When the first certificate of the presented chain expires (Unix time).",
        );
        let _ = writeln!(out, "probe_ssl_earliest_cert_expiry {at}");
    }
    out
}
