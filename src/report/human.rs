//! The terminal report: grouped by endpoint, one line per check, hints under failures.

use std::fmt::Write;

use super::short_duration;
use crate::findings::{Check, CheckKind, Report, Status};

pub struct Style {
    pub color: bool,
    /// Only failures (and the summary).
    pub quiet: bool,
}

impl Style {
    /// No colour, every row: for files.
    pub fn plain() -> Style {
        Style {
            color: false,
            quiet: false,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn status(&self, status: Status) -> String {
        let (label, code) = match status {
            Status::Pass => ("PASS", "32"),
            Status::Warn => ("WARN", "33"),
            Status::Fail => ("FAIL", "31;1"),
            Status::Skip => ("SKIP", "2"),
        };
        self.paint(code, label)
    }
}

/// A reason that failed one or more endpoints: each endpoint's first failure counts once.
struct Cause {
    reason: crate::reasons::Reason,
    endpoints: Vec<String>,
}

/// The causes of failure, the most widespread first (ties in catalogue order).
fn causes(report: &Report) -> Vec<Cause> {
    let mut causes: Vec<Cause> = Vec::new();
    let mut counted = std::collections::HashSet::new();
    for check in report.checks.iter().filter(|c| c.status == Status::Fail) {
        let Some(reason) = check.reason else { continue };
        if !counted.insert(check.endpoint.as_str()) {
            continue;
        }
        match causes.iter_mut().find(|c| c.reason == reason) {
            Some(cause) => cause.endpoints.push(check.endpoint.clone()),
            None => causes.push(Cause {
                reason,
                endpoints: vec![check.endpoint.clone()],
            }),
        }
    }
    causes.sort_by_key(|c| std::cmp::Reverse(c.endpoints.len()));
    causes
}

/// What a row shows as its target: the host for DNS, the address for per-address checks.
fn row_target(check: &Check) -> String {
    match (check.kind, check.address) {
        (CheckKind::Dns, _) | (_, None) => check.target.clone(),
        (_, Some(address)) => address.to_string(),
    }
}

pub fn render(report: &Report, style: &Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "int-check {} · profile {} ({}) · {}",
        report.tool_version,
        report.profile,
        report.description,
        report.started_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
    );
    let width = report
        .checks
        .iter()
        .map(|c| row_target(c).len())
        .max()
        .unwrap_or(0);
    // A hint is printed in full the first time its reason appears, then referred to.
    let mut hinted = std::collections::HashSet::new();
    let grouped = report.checks_by_endpoint();
    for heading in &report.endpoints {
        let shown: Vec<&Check> = grouped
            .get(heading.name.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|c| !style.quiet || c.status == Status::Fail)
            .collect();
        if style.quiet && shown.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n{}  {}",
            style.paint("1", &heading.name),
            heading.url
        );
        for check in shown {
            let duration = if check.status == Status::Skip {
                "-".to_string()
            } else {
                short_duration(check.duration)
            };
            let _ = write!(
                out,
                "  {}  {:<4} {:<width$}  {:>7}  {}",
                style.status(check.status),
                check.kind.as_str(),
                row_target(check),
                duration,
                check.message,
            );
            if let Some(reason) = check.reason.filter(|_| check.status != Status::Skip) {
                let _ = write!(
                    out,
                    "  {}",
                    style.paint("2", &format!("[{}]", reason.code()))
                );
            }
            out.push('\n');
            if matches!(check.status, Status::Fail | Status::Warn)
                && let Some(reason) = check.reason
            {
                let hint = if hinted.insert(reason) {
                    reason.hint().to_string()
                } else {
                    format!("as above for {}", reason.code())
                };
                let _ = writeln!(out, "        {} {hint}", style.paint("36", "hint:"));
            }
        }
    }
    // One cause behind many endpoints (off HSCN: every name) is said once, with its hint.
    let causes = causes(report);
    let shared: Vec<&Cause> = causes.iter().filter(|c| c.endpoints.len() >= 3).collect();
    if !shared.is_empty() {
        let _ = writeln!(out, "\n{}", style.paint("1", "causes"));
        for cause in &shared {
            let _ = writeln!(
                out,
                "  {} endpoints  {}  {}",
                cause.endpoints.len(),
                style.paint("31;1", cause.reason.code()),
                cause.reason.meaning()
            );
            let _ = writeln!(
                out,
                "        {} {}",
                style.paint("36", "hint:"),
                cause.reason.hint()
            );
            let _ = writeln!(out, "        {}", cause.endpoints.join(", "));
        }
    }
    let summary = report.summary();
    let top: Vec<String> = causes
        .iter()
        .take(3)
        .map(|c| format!("{} ({})", c.reason.code(), c.endpoints.len()))
        .collect();
    let top = if top.is_empty() {
        String::new()
    } else {
        format!("; top causes: {}", top.join(", "))
    };
    let line = format!(
        "{} passed, {} warned, {} failed, {} skipped in {}{top}",
        summary.pass,
        summary.warn,
        summary.fail,
        summary.skip,
        short_duration(report.duration)
    );
    let code = if summary.fail > 0 {
        "31;1"
    } else if summary.warn > 0 {
        "33"
    } else {
        "32"
    };
    let _ = writeln!(out, "\n{}", style.paint(code, &line));
    let networks: Vec<String> = report.networks().iter().map(|n| n.sentence()).collect();
    if !networks.is_empty() {
        let _ = writeln!(out, "networks: {}", networks.join("; "));
    }
    if report.maintenance.at.is_some() {
        let _ = writeln!(
            out,
            "maintenance ({}): {}",
            crate::maintenance::ZONE,
            report.maintenance.summary()
        );
    }
    out
}
