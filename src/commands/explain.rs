//! `int-check explain [REASON]`: the catalogue entry of a reason code.

use std::fmt::Write as _;

use super::{Stop, write_stdout};
use crate::cli::EXIT_OK;
use crate::error::UsageError;
use crate::reasons::Reason;

pub fn run(code: Option<&str>) -> Result<u8, Stop> {
    let text = match code {
        None => {
            let mut out =
                String::from("Reason codes (int-check explain CODE for the full entry):\n");
            for reason in Reason::ALL {
                let _ = writeln!(out, "  {:<28} {}", reason.code(), reason.meaning());
            }
            out
        }
        Some(code) => {
            let wanted = code
                .trim()
                .trim_matches(|c| c == '[' || c == ']')
                .to_ascii_lowercase();
            let Some(reason) = Reason::ALL.iter().find(|r| r.code() == wanted) else {
                let family = wanted.split('.').next().unwrap_or_default();
                let similar: Vec<&str> = Reason::ALL
                    .iter()
                    .map(|r| r.code())
                    .filter(|c| c.starts_with(&format!("{family}.")))
                    .collect();
                let hint = if similar.is_empty() {
                    "`int-check explain` lists every code".to_string()
                } else {
                    format!("codes in that family: {}", similar.join(", "))
                };
                return Err(UsageError::new(format!("unknown reason code `{code}`"))
                    .hint(hint)
                    .into());
            };
            format!(
                "{}\n\nWhat it means:\n  {}\n\nWhat to do:\n  {}\n",
                reason.code(),
                reason.meaning(),
                reason.hint()
            )
        }
    };
    write_stdout(&text)?;
    Ok(EXIT_OK)
}
