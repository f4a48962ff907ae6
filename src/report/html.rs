//! `--format html`: one self-contained page for people (a support ticket attachment, a CI
//! artifact to open in a browser): the result, the maintenance state, then one table per
//! endpoint with each check's status, message and what to do. No script and no external assets;
//! messages only (details, and so nothing secret, are left out). Every text is escaped.

use std::fmt::Write;

use super::short_duration;
use crate::findings::{Report, Status};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;width:100%;margin-bottom:1.5em}\
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.pass{background:#e6f4ea}.warn{background:#fef7e0}\
.fail{background:#fce8e6}.skip{color:#777}code{font-size:.95em}.hint{color:#555}";

fn class(status: Status) -> &'static str {
    status.as_str()
}

pub fn render(report: &Report) -> String {
    let summary = report.summary();
    let title = format!("int-check: profile {}", report.profile);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    let _ = writeln!(
        out,
        "<h1>{}</h1>\n<p>{}</p>",
        escape(&title),
        escape(&report.description)
    );
    let failed_by_warnings = report.strict && summary.warn > 0;
    let verdict = if summary.fail > 0 || failed_by_warnings {
        "fail"
    } else {
        "pass"
    };
    let strict = if failed_by_warnings {
        " (--strict: the warnings fail the run)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<table>\n<tr><th>Result</th><td class=\"{verdict}\">{} failed, {} warned, {} passed, {} skipped{strict}</td></tr>",
        summary.fail, summary.warn, summary.pass, summary.skip
    );
    let networks: Vec<String> = report.networks().iter().map(|n| n.sentence()).collect();
    if !networks.is_empty() {
        let _ = writeln!(
            out,
            "<tr><th>Networks</th><td>{}</td></tr>",
            escape(&networks.join("; "))
        );
    }
    let _ = writeln!(
        out,
        "<tr><th>Started</th><td>{}</td></tr>\n<tr><th>Duration</th><td>{}</td></tr>",
        report.started_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        short_duration(report.duration)
    );
    let _ = writeln!(
        out,
        "<tr><th>Maintenance</th><td>{}</td></tr>\n<tr><th>Tool</th><td>int-check {}</td></tr>\n</table>",
        escape(&report.maintenance.summary()),
        escape(report.tool_version)
    );
    // A cause behind many checks: its hint once, here; the rows point to it.
    let shared = super::shared_causes(report);
    if !shared.is_empty() {
        out.push_str("<h2 id=\"causes\">Causes</h2>\n<table>\n<tr><th>Reason</th><th>Checks</th><th>Meaning</th><th>What to do</th></tr>\n");
        for (reason, count) in &shared {
            let _ = writeln!(
                out,
                "<tr id=\"cause-{code}\"><td><code>{code}</code></td><td>{count}</td><td>{}</td><td>{}</td></tr>",
                escape(reason.meaning()),
                escape(reason.hint()),
                code = escape(reason.code())
            );
        }
        out.push_str("</table>\n");
    }
    let grouped = report.checks_by_endpoint();
    for heading in &report.endpoints {
        let _ = writeln!(
            out,
            "<h2>{}</h2>\n<p><code>{}</code></p>\n<table>\n<tr><th>Status</th><th>Check</th><th>Target</th><th>Result</th></tr>",
            escape(&heading.name),
            escape(&heading.url)
        );
        for check in grouped.get(heading.name.as_str()).into_iter().flatten() {
            let target = check
                .address
                .map(|a| a.to_string())
                .unwrap_or_else(|| check.target.clone());
            let mut result = escape(&check.message);
            if let Some(reason) = check.reason.filter(|_| check.status != Status::Pass) {
                let _ = write!(result, " <code>[{}]</code>", escape(reason.code()));
                if check.status != Status::Skip && shared.iter().any(|(r, _)| *r == reason) {
                    let _ = write!(
                        result,
                        "<br><span class=\"hint\">What to do: see <a href=\"#cause-{code}\">causes</a></span>",
                        code = escape(reason.code())
                    );
                } else if check.status != Status::Skip {
                    let _ = write!(
                        result,
                        "<br><span class=\"hint\">What to do: {}</span>",
                        escape(reason.hint())
                    );
                }
            }
            let _ = writeln!(
                out,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td><code>{}</code></td><td>{result}</td></tr>",
                class(check.status),
                check.status.as_str().to_ascii_uppercase(),
                check.kind.as_str(),
                escape(&target)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
