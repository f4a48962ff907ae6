//! `--format markdown`: a summary to paste into a support ticket. Failures and warnings first,
//! every check in a collapsible section. Messages only: details (and so nothing secret) are left out.

use std::fmt::Write;

use super::short_duration;
use crate::findings::{Check, Report, Status};

/// Text from a report inside a Markdown table cell: rendered as the characters it is, never as
/// HTML, a link, an image or a second cell (crate::text::markdown).
fn cell(text: &str) -> String {
    crate::text::markdown(text)
}

fn target(check: &Check) -> String {
    match check.address {
        Some(address) => address.to_string(),
        None => check.target.clone(),
    }
}

fn status(check: &Check) -> &'static str {
    match check.status {
        Status::Pass => "PASS",
        Status::Warn => "WARN",
        Status::Fail => "**FAIL**",
        Status::Skip => "SKIP",
    }
}

pub fn render(report: &Report) -> String {
    let summary = report.summary();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## int-check: profile {} ({})\n",
        cell(&report.profile),
        cell(&report.description)
    );
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(
        out,
        "| Result | {} failed, {} warned, {} passed, {} skipped{} |",
        summary.fail,
        summary.warn,
        summary.pass,
        summary.skip,
        if report.strict && summary.warn > 0 {
            " (--strict: the warnings fail the run)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "| Started | {} |",
        report.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    );
    let _ = writeln!(out, "| Duration | {} |", short_duration(report.duration));
    let _ = writeln!(
        out,
        "| Maintenance | {} |",
        cell(&report.maintenance.summary())
    );
    let networks: Vec<String> = report.networks().iter().map(|n| n.sentence()).collect();
    if !networks.is_empty() {
        let _ = writeln!(out, "| Networks | {} |", cell(&networks.join("; ")));
    }
    let _ = writeln!(out, "| Tool | int-check {} |", report.tool_version);

    let problems: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Warn))
        .collect();
    // A cause behind many checks: its hint once, here; the rows point to it.
    let shared = super::shared_causes(report);
    if !shared.is_empty() {
        let _ = writeln!(
            out,
            "\n### Causes\n\n| Reason | Checks | Meaning | What to do |\n|---|---|---|---|"
        );
        for (reason, count) in &shared {
            let _ = writeln!(
                out,
                "| `{}` | {count} | {} | {} |",
                reason.code(),
                cell(reason.meaning()),
                cell(reason.hint())
            );
        }
    }
    if problems.is_empty() {
        out.push_str("\nNo failures or warnings.\n");
    } else {
        let _ = writeln!(out, "\n### Failures and warnings\n");
        let _ = writeln!(
            out,
            "| Status | Endpoint | Check | Target | Reason | Message | What to do |\n|---|---|---|---|---|---|---|"
        );
        for c in problems {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | `{}` | {} | {} |",
                status(c),
                cell(&c.endpoint),
                c.kind.as_str(),
                cell(&target(c)),
                c.reason.map(|r| r.code()).unwrap_or_default(),
                cell(&c.message),
                match c.reason {
                    Some(reason) if shared.iter().any(|(r, _)| *r == reason) =>
                        "see Causes above".to_string(),
                    _ => cell(c.hint().unwrap_or_default()),
                }
            );
        }
    }
    let _ = writeln!(
        out,
        "\n<details><summary>All {} checks</summary>\n",
        report.checks.len()
    );
    let _ = writeln!(
        out,
        "| Status | Endpoint | Check | Target | Time | Message |\n|---|---|---|---|---|---|"
    );
    for c in &report.checks {
        let time = if c.status == Status::Skip {
            "-".to_string()
        } else {
            short_duration(c.duration)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            status(c),
            cell(&c.endpoint),
            c.kind.as_str(),
            cell(&target(c)),
            time,
            cell(&c.message)
        );
    }
    out.push_str("\n</details>\n");
    out
}
