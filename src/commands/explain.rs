//! `int-check explain [REASON]`: the catalogue entry of a reason code, the whole catalogue, or
//! the exit codes; `--markdown` prints the tables the guide holds.

use crate::exit::{self, Outcome, Stop};
use std::fmt::Write as _;

use super::write_stdout;
use crate::error::UsageError;
use crate::reasons::{self, Reason};

pub fn run(code: Option<&str>, exit_codes: bool, markdown: bool) -> Result<Outcome, Stop> {
    let text = match code {
        None if exit_codes && markdown => exit::markdown_table(),
        None if exit_codes => format!("{}\n", exit::help_text()),
        None if markdown => reasons::markdown_table(),
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
            if markdown {
                return Err(
                    UsageError::new("--markdown prints a whole table, not one code")
                        .hint("leave out the code: int-check explain --markdown")
                        .into(),
                );
            }
            format!(
                "{}\n\nWhat it means:\n  {}\n\nWhat to do:\n  {}\n",
                reason.code(),
                reason.meaning(),
                reason.hint()
            )
        }
    };
    write_stdout(&text)?;
    Ok(Outcome::Passed)
}
