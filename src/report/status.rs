//! `int-check serve`'s page for people (`/`): one row per endpoint, one cell per phase coloured
//! by status, the failure reason and its hint, the earliest certificate expiry, the service's
//! maintenance state and the last run's time. Plain server-rendered HTML, no script, no external
//! assets, refreshing itself; every text escaped.

use std::fmt::Write;

use super::html::escape;
use crate::findings::{CheckKind, Report, Status};

/// What the page says about the run behind it.
pub struct RunFacts {
    /// When the last run ended.
    pub finished_at: jiff::Timestamp,
    pub duration: std::time::Duration,
    /// Seconds between scheduled runs (the page refreshes as often).
    pub interval_secs: u64,
    pub runs: u64,
    /// The service of each endpoint that has one.
    pub services: std::collections::HashMap<String, String>,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.25em .45em;\
text-align:left;vertical-align:top}th{background:#f3f3f3}.pass{background:#d9f2e0}\
.warn{background:#fdf0c4}.fail{background:#f9d3cf}.skip{background:#eee;color:#777}\
.none{color:#aaa}.hint{color:#555;font-size:.9em}.reason{font-family:monospace}";

/// The phases shown as columns, in pipeline order.
const PHASES: [CheckKind; 9] = [
    CheckKind::Identity,
    CheckKind::Registration,
    CheckKind::Dns,
    CheckKind::Tcp,
    CheckKind::Tls,
    CheckKind::Http,
    CheckKind::Ldap,
    CheckKind::Mesh,
    CheckKind::Inbound,
];

/// The worst status of a phase's checks (fail > warn > pass > skip).
fn worst(statuses: impl Iterator<Item = Status>) -> Option<Status> {
    let rank = |s: &Status| match s {
        Status::Fail => 3,
        Status::Warn => 2,
        Status::Pass => 1,
        Status::Skip => 0,
    };
    statuses.max_by_key(rank)
}

pub fn render(report: &Report, facts: Option<&RunFacts>) -> String {
    let mut out = String::new();
    let refresh = facts.map_or(5, |f| f.interval_secs.clamp(5, 3600));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{refresh}\">\
         <title>int-check: {}</title><style>{STYLE}</style></head><body>\n",
        escape(&report.profile)
    );
    let _ = writeln!(
        out,
        "<h1>int-check: profile {} <small>({})</small></h1>",
        escape(&report.profile),
        escape(&report.description)
    );
    let Some(facts) = facts else {
        out.push_str("<p id=\"state\">The first run has not finished yet.</p></body></html>\n");
        return out;
    };
    let summary = report.summary();
    let _ = writeln!(
        out,
        "<p id=\"state\">Last run ended {} (took {:.1} s; run {}, every {} s): \
         {} passed, {} warned, {} failed, {} skipped.</p>",
        facts.finished_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        facts.duration.as_secs_f64(),
        facts.runs,
        facts.interval_secs,
        summary.pass,
        summary.warn,
        summary.fail,
        summary.skip
    );
    let in_slot: Vec<&str> = report
        .maintenance
        .active
        .iter()
        .map(|o| o.service.as_str())
        .collect();
    // Only the phases this run has.
    let phases: Vec<CheckKind> = PHASES
        .into_iter()
        .filter(|p| report.checks.iter().any(|c| c.kind == *p))
        .collect();
    out.push_str("<table id=\"endpoints\"><thead><tr><th>endpoint</th><th>service</th>");
    for &phase in &phases {
        let _ = write!(out, "<th>{}</th>", phase.as_str());
    }
    out.push_str("<th>reason and what to do</th><th>certificate expires</th><th>maintenance</th></tr></thead><tbody>\n");
    let grouped = report.checks_by_endpoint();
    let mut hinted = std::collections::HashSet::new();
    for heading in &report.endpoints {
        let checks = grouped
            .get(heading.name.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let service = facts.services.get(&heading.name).map(String::as_str);
        let _ = write!(
            out,
            "<tr data-endpoint=\"{name}\"><td title=\"{url}\">{name}</td><td>{}</td>",
            escape(service.unwrap_or("")),
            name = escape(&heading.name),
            url = escape(&heading.url),
        );
        for &phase in &phases {
            match worst(checks.iter().filter(|c| c.kind == phase).map(|c| c.status)) {
                Some(status) => {
                    // The phase's words on hover (a MESH handshake's age among them).
                    let said: Vec<&str> = checks
                        .iter()
                        .filter(|c| c.kind == phase)
                        .map(|c| c.message.as_str())
                        .take(4)
                        .collect();
                    let _ = write!(
                        out,
                        "<td class=\"{s}\" data-phase=\"{p}\" title=\"{t}\">{s}</td>",
                        s = status.as_str(),
                        p = phase.as_str(),
                        t = super::html::escape(&said.join("\n"))
                    );
                }
                None => out.push_str("<td class=\"none\"></td>"),
            }
        }
        // The first failure (else warning) is the one to act on.
        let first = checks
            .iter()
            .find(|c| c.status == Status::Fail)
            .or_else(|| checks.iter().find(|c| c.status == Status::Warn));
        match first {
            Some(check) => {
                let code = check.reason.map(|r| r.code()).unwrap_or("");
                let hint = escape(check.hint().unwrap_or(""));
                // Off HSCN every row has the same long hint: it is written out once, and
                // later rows point to it (the full text stays in the tooltip).
                let hint = if hinted.insert(code) {
                    format!("<div class=\"hint\">{hint}</div>")
                } else {
                    format!("<div class=\"hint\" title=\"{hint}\">as above for {code}</div>")
                };
                let _ = write!(
                    out,
                    "<td><span class=\"reason\">{}</span>: {}{hint}</td>",
                    escape(code),
                    escape(&check.message),
                );
            }
            None => out.push_str("<td></td>"),
        }
        let expiry = checks
            .iter()
            .flat_map(|c| c.details.chain())
            .filter_map(|e| e.not_after.parse::<jiff::Timestamp>().ok())
            .min();
        match expiry {
            Some(at) => {
                let days = (at.as_second() - facts.finished_at.as_second()).div_euclid(86_400);
                let _ = write!(out, "<td>{} ({days} days)</td>", at.strftime("%Y-%m-%d"));
            }
            None => out.push_str("<td></td>"),
        }
        let state = match service {
            Some(s) if in_slot.contains(&s) => "in a slot",
            Some(_) => "available",
            None => "",
        };
        let _ = writeln!(out, "<td>{state}</td></tr>");
    }
    out.push_str("</tbody></table>\n<p><a href=\"/metrics\">metrics</a></p></body></html>\n");
    out
}
