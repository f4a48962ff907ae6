//! Renderers: one module per output format. Renderers never probe; they turn a `Report` into text.

pub mod certs;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod plan;
pub mod prometheus;
pub mod sds;
pub mod status;
pub mod windows;

use std::time::Duration;

pub use crate::output::{DataFormat, Format};

/// Writes a check report in any format to `out`. JSON is written as it is serialised: a report of
/// ten thousand endpoints is never held twice in memory.
pub fn write(
    report: &crate::findings::Report,
    format: Format,
    style: &human::Style,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => json::write(report, out),
        other => out.write_all(render(report, other, style).as_bytes()),
    }
}

/// Renders a check report in any format (colour only applies to `human`).
pub fn render(report: &crate::findings::Report, format: Format, style: &human::Style) -> String {
    match format {
        Format::Human => human::render(report, style),
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
        Format::Markdown => markdown::render(report),
        Format::Prometheus => prometheus::render(report),
        Format::Html => html::render(report),
    }
}

/// A reason behind this many failing or warning checks is a shared cause: its hint is written
/// once, under causes, not on every row (the human report groups them the same way).
pub const SHARED_CAUSE: usize = 3;

/// The shared causes of a report, the most widespread first: reason and how many checks.
pub fn shared_causes(report: &crate::findings::Report) -> Vec<(crate::reasons::Reason, usize)> {
    use crate::findings::Status;
    let mut counts: Vec<(crate::reasons::Reason, usize)> = Vec::new();
    for check in report
        .checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Warn))
    {
        let Some(reason) = check.reason else { continue };
        match counts.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => counts.push((reason, 1)),
        }
    }
    counts.retain(|(_, n)| *n >= SHARED_CAUSE);
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    counts
}

/// `12ms` under a second, `1.23s` above.
pub fn short_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{:.2}s", duration.as_secs_f64())
    }
}
