//! `--format json` and every other machine document: the types in `documents`, pretty-printed.

use serde::Serialize;

use crate::documents::ReportDoc;
use crate::findings::Report;

/// Any machine document as pretty JSON, one trailing newline.
pub fn document(doc: &impl Serialize) -> String {
    let mut text = serde_json::to_string_pretty(doc).expect("documents serialise");
    text.push('\n');
    text
}

pub fn render(report: &Report) -> String {
    document(&ReportDoc::from(report))
}
