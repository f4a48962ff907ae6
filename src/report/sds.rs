//! `int-check sds` output: the directory records found, as a table or JSON.

use crate::findings::DirectoryEntry;

/// Attributes the look-up asks for (MHS and Accredited System records).
pub const ATTRIBUTES: &[&str] = &[
    "objectClass",
    "uniqueIdentifier",
    "nhsIDCode",
    "nhsMHSPartyKey",
    "nhsMhsSvcIA",
    "nhsMHSEndPoint",
    "nhsMhsFQDN",
    "nhsMhsCPAId",
    "nhsMHSSyncReplyMode",
    "nhsMHSAckRequested",
    "nhsMHSDuplicateElimination",
    "nhsMHSRetries",
    "nhsMHSRetryInterval",
    "nhsMHSPersistDuration",
    "nhsMhsActor",
    "nhsAsSvcIA",
    "nhsProductName",
    "nhsAsClient",
];

fn first<'a>(entry: &'a DirectoryEntry, name: &str) -> &'a str {
    entry.get(name).first().map(String::as_str).unwrap_or("-")
}

pub fn table(directory: &str, filter: &str, entries: &[DirectoryEntry]) -> String {
    let mut out = format!("{directory}  {filter}\n");
    if entries.is_empty() {
        out.push_str("no entries found\n");
        return out;
    }
    let is_as = |e: &DirectoryEntry| !e.get("nhsAsSvcIA").is_empty();
    let rows: Vec<Vec<String>> = if entries.iter().all(is_as) {
        let mut rows = vec![
            ["ASID", "ODS", "PARTY KEY", "PRODUCT", "INTERACTIONS"]
                .map(String::from)
                .to_vec(),
        ];
        for e in entries {
            rows.push(vec![
                first(e, "uniqueIdentifier").to_string(),
                first(e, "nhsIDCode").to_string(),
                first(e, "nhsMHSPartyKey").to_string(),
                first(e, "nhsProductName").to_string(),
                e.get("nhsAsSvcIA").len().to_string(),
            ]);
        }
        rows
    } else {
        let mut rows = vec![
            [
                "PARTY KEY",
                "INTERACTION",
                "ENDPOINT",
                "SYNC REPLY",
                "ACK",
                "CPA ID",
            ]
            .map(String::from)
            .to_vec(),
        ];
        let mut sorted: Vec<&DirectoryEntry> = entries.iter().collect();
        sorted.sort_by_key(|e| first(e, "nhsMhsSvcIA").to_string());
        for e in sorted {
            rows.push(vec![
                first(e, "nhsMHSPartyKey").to_string(),
                first(e, "nhsMhsSvcIA").to_string(),
                first(e, "nhsMHSEndPoint").to_string(),
                first(e, "nhsMHSSyncReplyMode").to_string(),
                first(e, "nhsMHSAckRequested").to_string(),
                first(e, "nhsMhsCPAId").to_string(),
            ]);
        }
        rows
    };
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!("{} entries\n", entries.len()));
    out
}
