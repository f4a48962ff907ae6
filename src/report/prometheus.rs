//! `--format prometheus`: the text exposition format, for node_exporter's textfile collector.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::findings::{Report, Status};

/// Escapes a label value (backslash, double quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The HELP and TYPE lines that open a gauge family.
fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

fn labels(pairs: &[(&str, &str)]) -> String {
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
