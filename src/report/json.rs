//! `--format json` and every other machine document: the types in `documents`, pretty-printed.

use std::io::Write;

use serde::Serialize;

use crate::documents::ReportDoc;
use crate::findings::Report;

/// Any machine document as pretty JSON, one trailing newline.
pub fn document(doc: &impl Serialize) -> String {
    let mut text = serde_json::to_string_pretty(doc).expect("documents serialise");
    text.push('\n');
    text
}

/// The report as pretty JSON, written as it is serialised.
pub fn write(report: &Report, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    serde_json::to_writer_pretty(&mut out, &ReportDoc::from(report))?;
    out.write_all(b"\n")?;
    out.flush()
}

pub fn render(report: &Report) -> String {
    document(&ReportDoc::from(report))
}
