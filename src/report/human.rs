//! The terminal report: grouped by endpoint, one line per check, hints under failures.

use std::collections::{HashMap, HashSet};
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
    /// The endpoints whose only trouble is this cause, by where it struck (a host for DNS, an
    /// address after it): when the cause is shared they are said here, not one by one above.
    only_this: Vec<(String, Vec<String>)>,
}

/// A cause behind this many endpoints is said once, in the causes block.
const SHARED: usize = 3;

impl Cause {
    fn shared(&self) -> bool {
        self.endpoints.len() >= SHARED
    }
}

/// The causes of failure, the most widespread first (ties in catalogue order).
fn causes(report: &Report, grouped: &HashMap<&str, Vec<&Check>>) -> Vec<Cause> {
    let mut causes: Vec<Cause> = Vec::new();
    let mut counted = HashSet::new();
    for check in report.checks.iter().filter(|c| c.status == Status::Fail) {
        let Some(reason) = check.reason else { continue };
        if !counted.insert(check.endpoint.as_str()) {
            continue;
        }
        let index = match causes.iter().position(|c| c.reason == reason) {
            Some(index) => index,
            None => {
                causes.push(Cause {
                    reason,
                    endpoints: Vec::new(),
                    only_this: Vec::new(),
                });
                causes.len() - 1
            }
        };
        let cause = &mut causes[index];
        cause.endpoints.push(check.endpoint.clone());
        let troubles = grouped
            .get(check.endpoint.as_str())
            .into_iter()
            .flatten()
            .filter(|c| matches!(c.status, Status::Fail | Status::Warn))
            .count();
        if troubles == 1 {
            let place = row_target(check);
            match cause.only_this.iter_mut().find(|(p, _)| *p == place) {
                Some((_, names)) => names.push(check.endpoint.clone()),
                None => cause.only_this.push((place, vec![check.endpoint.clone()])),
            }
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
    // A hint is printed in full the first time its reason appears, then referred to.
    let mut hinted = HashSet::new();
    let grouped = report.checks_by_endpoint();
    let causes = causes(report, &grouped);
    // Endpoints whose only trouble is a shared cause are said once, under that cause (off HSCN:
    // every name), so what is left above is what differs.
    let said_below: HashSet<&str> = causes
        .iter()
        .filter(|c| c.shared())
        .flat_map(|c| c.only_this.iter().flat_map(|(_, names)| names))
        .map(String::as_str)
        .collect();
    // Their hints are written once, in the causes block.
    let shared_reasons: HashSet<crate::reasons::Reason> = causes
        .iter()
        .filter(|c| c.shared())
        .map(|c| c.reason)
        .collect();
    // The target column is as wide as the rows shown need.
    let width = report
        .checks
        .iter()
        .filter(|c| !said_below.contains(c.endpoint.as_str()))
        .filter(|c| !style.quiet || report.fails_run(c))
        .map(|c| row_target(c).len())
        .max()
        .unwrap_or(0);
    // The phase column is as wide as its longest name among these rows (`proxy` is the one
    // phase name longer than four letters).
    let kind_width = report
        .checks
        .iter()
        .filter(|c| !said_below.contains(c.endpoint.as_str()))
        .map(|c| c.kind.as_str().len())
        .max()
        .unwrap_or(0)
        .max(4);
    for heading in &report.endpoints {
        if said_below.contains(heading.name.as_str()) {
            continue;
        }
        let shown: Vec<&Check> = grouped
            .get(heading.name.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|c| !style.quiet || report.fails_run(c))
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
                "  {}  {:<kind_width$} {:<width$}  {:>7}  {}",
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
                let hint = if shared_reasons.contains(&reason) {
                    format!("below, under causes, for {}", reason.code())
                } else if hinted.insert(reason) {
                    reason.hint().to_string()
                } else {
                    format!("as above for {}", reason.code())
                };
                let _ = writeln!(out, "        {} {hint}", style.paint("36", "hint:"));
            }
        }
    }
    // One cause behind many endpoints (off HSCN: every name) is said once, with its hint, then
    // where it struck and which endpoints it took.
    let shared: Vec<&Cause> = causes.iter().filter(|c| c.shared()).collect();
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
            for (place, names) in &cause.only_this {
                let _ = writeln!(out, "        {place}: {}", names.join(", "));
            }
            let above: Vec<&str> = cause
                .endpoints
                .iter()
                .map(String::as_str)
                .filter(|name| !said_below.contains(name))
                .collect();
            if !above.is_empty() {
                let _ = writeln!(
                    out,
                    "        with more trouble, above: {}",
                    above.join(", ")
                );
            }
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
    let line = if report.strict && summary.warn > 0 {
        format!("{line}; --strict: the warnings fail the run")
    } else {
        line
    };
    let code = if summary.fail > 0 || (report.strict && summary.warn > 0) {
        "31;1"
    } else if summary.warn > 0 {
        "33"
    } else {
        "32"
    };
    // The summary comes last: CI logs and `tail -1` show the last line.
    out.push('\n');
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
    let _ = writeln!(out, "{}", style.paint(code, &line));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{EndpointHeading, Report};
    use crate::reasons::Reason;

    fn report(checks: Vec<Check>) -> Report {
        let mut names: Vec<String> = checks.iter().map(|c| c.endpoint.clone()).collect();
        names.dedup();
        Report {
            tool_version: "0",
            profile: "p".into(),
            description: "d".into(),
            started_at: jiff::Timestamp::UNIX_EPOCH,
            duration: std::time::Duration::ZERO,
            endpoints: names
                .into_iter()
                .map(|name| EndpointHeading {
                    url: format!("https://{name}/"),
                    name,
                    network: None,
                    origin: None,
                })
                .collect(),
            checks,
            maintenance: Default::default(),
            strict: false,
        }
    }

    /// Endpoints whose only trouble is the shared cause go under it by place; one with a warning
    /// as well keeps its own rows above and is named as such under the cause.
    #[test]
    fn a_shared_cause_takes_only_the_endpoints_it_explains() {
        let address: std::net::SocketAddr = "10.0.0.1:443".parse().unwrap();
        let refused = |name: &str| {
            Check::new(name, CheckKind::Tcp, "h:443")
                .at(address)
                .fail(Reason::TcpRefused, "refused")
        };
        let checks = vec![
            refused("a"),
            refused("b"),
            Check::new("c", CheckKind::Dns, "h").warn(Reason::DnsHostsOverride, "from /etc/hosts"),
            refused("c"),
            Check::new("d", CheckKind::Dns, "h").pass("fine"),
        ];
        let text = render(&report(checks), &Style::plain());
        assert!(text.contains("3 endpoints  tcp.refused"), "{text}");
        assert!(text.contains("        10.0.0.1:443: a, b\n"), "{text}");
        assert!(text.contains("with more trouble, above: c\n"), "{text}");
        assert!(
            text.contains("hint: below, under causes, for tcp.refused"),
            "{text}"
        );
        assert_eq!(
            text.matches("Stale addresses cause this").count(),
            1,
            "{text}"
        );
        assert!(!text.contains("\na  https://"), "{text}");
        assert!(text.contains("\nc  https://c/"), "{text}");
        assert!(text.contains("\nd  https://d/"), "{text}");
    }
}
