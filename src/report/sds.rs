//! `int-check sds` output: the directory records found, as a table or JSON.

use crate::documents::SdsDoc;
use crate::findings::DirectoryEntry;

fn first<'a>(entry: &'a DirectoryEntry, name: &str) -> &'a str {
    entry.get(name).first().map(String::as_str).unwrap_or("-")
}

pub fn table(doc: &SdsDoc) -> String {
    let entries = &doc.entries;
    let mut out = format!("{}  {}\n", doc.directory, doc.filter);
    for url in &doc.references {
        out.push_str(&format!("the directory referred to {url}\n"));
    }
    if entries.is_empty() {
        out.push_str("no entries found\n");
        if let Some(why) = &doc.truncated_by {
            out.push_str(&format!("not every entry was read ({why})\n"));
        }
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
    match &doc.truncated_by {
        Some(why) => out.push_str(&format!(
            "{} entries shown; more were not read ({why})\n",
            entries.len()
        )),
        None if entries.len() == 1 => out.push_str("1 entry\n"),
        None => out.push_str(&format!("{} entries\n", entries.len())),
    }
    out
}
