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
    let summary = report.summary();
    let line = format!(
        "{} passed, {} warned, {} failed, {} skipped in {}",
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
