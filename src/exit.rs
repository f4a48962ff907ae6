//! How a run ends: the outcome a command returns, the errors that stop a run early, and the one
//! table of exit codes that `--help`, the manual page and the guide are written from.

use std::io::Write;
use std::process::ExitCode;

use crate::error::UsageError;

/// What a command that ran to the end found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing failed (warnings allowed, unless --strict).
    Passed,
    /// At least one check failed (or, for look-ups, nothing was found).
    ChecksFailed,
    /// A signal stopped the run; what finished was reported (128 + the signal's number).
    Interrupted(u8),
}

impl Outcome {
    /// `Passed` unless `failed`.
    pub fn failed_if(failed: bool) -> Outcome {
        if failed {
            Outcome::ChecksFailed
        } else {
            Outcome::Passed
        }
    }
}

/// Why a command stopped before producing its result.
#[derive(Debug)]
pub enum Stop {
    /// What the user gave us is wrong: a flag, profile, config, PEM or key.
    Usage(UsageError),
    /// A bug or an environment this tool cannot work in.
    Internal(anyhow::Error),
}

impl From<UsageError> for Stop {
    fn from(error: UsageError) -> Self {
        Stop::Usage(error)
    }
}

/// One row of the exit-code table.
pub struct ExitCodeRow {
    pub code: u8,
    /// Short, for `--help`.
    pub summary: &'static str,
    /// Longer, for the guide and the manual.
    pub meaning: &'static str,
}

pub const OK: u8 = 0;
pub const CHECK_FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const INTERNAL: u8 = 3;

/// Every exit code the binary uses, in order.
pub const CODES: [ExitCodeRow; 6] = [
    ExitCodeRow {
        code: OK,
        summary: "no check failed (warnings allowed)",
        meaning: "no check failed (warnings allowed)",
    },
    ExitCodeRow {
        code: CHECK_FAILED,
        summary: "at least one check failed",
        meaning: "at least one check failed",
    },
    ExitCodeRow {
        code: USAGE,
        summary: "usage or configuration error (bad flag, profile, config, PEM or key)",
        meaning: "usage or configuration error: bad flag, unknown profile, broken config/profile file, unreadable or invalid PEM, key that does not match its certificate",
    },
    ExitCodeRow {
        code: INTERNAL,
        summary: "internal error (a bug: please report it)",
        meaning: "internal error (a bug: please report it with the output)",
    },
    ExitCodeRow {
        code: 130,
        summary: "interrupted by SIGINT (Ctrl-C): what finished was reported",
        meaning: "interrupted by SIGINT (Ctrl-C): the checks that finished were written (stdout and every --report), the endpoints still waiting marked run.interrupted",
    },
    ExitCodeRow {
        code: 143,
        summary: "interrupted by SIGTERM: what finished was reported",
        meaning: "interrupted by SIGTERM: as for SIGINT",
    },
];

/// The `Exit codes:` block under `--help` (and in the manual page).
pub fn help_text() -> String {
    let mut out = String::from("Exit codes:");
    for row in &CODES {
        out.push_str(&format!("\n  {}  {}", row.code, row.summary));
    }
    out
}

/// `serve --help`: it runs until stopped, so 1 never ends it.
pub fn serve_help_text() -> String {
    format!(
        "Exit codes:\n  {OK}  stopped cleanly (SIGTERM or Ctrl-C; requests in flight finished)\n  {USAGE}  {}\n  {INTERNAL}  {}",
        CODES[2].summary, CODES[3].summary
    )
}

/// `sds --help`: a look-up's own meaning of 1.
pub fn sds_help_text() -> String {
    format!(
        "Exit codes:\n  {OK}  the directory answered and the records were found\n  {CHECK_FAILED}  nothing found, or the directory could not be asked (the report says why)\n  {USAGE}  {}\n  {INTERNAL}  {}",
        CODES[2].summary, CODES[3].summary
    )
}

/// The guide's exit-code table (docs/src/getting-started.md).
pub fn markdown_table() -> String {
    let mut out = String::from("| code | meaning |\n|---|---|\n");
    for row in &CODES {
        out.push_str(&format!("| {} | {} |\n", row.code, row.meaning));
    }
    out
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(match outcome {
            Outcome::Passed => OK,
            Outcome::ChecksFailed => CHECK_FAILED,
            Outcome::Interrupted(code) => code,
        })
    }
}

/// Tells the user why a command stopped (one line, and a hint when there is one) and gives the
/// exit code. `None` is a panic: its message is already on stderr.
pub fn finish(result: Option<Result<Outcome, Stop>>) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    match result {
        Some(Ok(outcome)) => outcome.into(),
        Some(Err(Stop::Usage(error))) => {
            let _ = writeln!(stderr, "error: {}", error.message);
            if let Some(hint) = &error.hint {
                let _ = writeln!(stderr, "hint: {hint}");
            }
            ExitCode::from(USAGE)
        }
        Some(Err(Stop::Internal(error))) => {
            let _ = writeln!(stderr, "internal error: {error:#}");
            ExitCode::from(INTERNAL)
        }
        None => ExitCode::from(INTERNAL),
    }
}
