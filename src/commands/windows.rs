//! `int-check windows`: which services are in a maintenance slot, and when the next ones are.

use super::write_stdout;
use crate::cli::TrustArgs;
use crate::documents::WindowsDoc;
use crate::exit::{Outcome, Stop};
use crate::maintenance::WindowState;
use crate::report::{self, DataFormat};
use crate::settings::resolve_trust_profile;

pub fn run(
    args: &TrustArgs,
    at: Option<jiff::Timestamp>,
    format: DataFormat,
) -> Result<Outcome, Stop> {
    let profile = resolve_trust_profile(&args.sources())?;
    let at = at.unwrap_or_else(jiff::Timestamp::now);
    let state = WindowState::at(&profile.maintenance, at);
    let doc = WindowsDoc::new(&profile.name, &profile.maintenance, &state);
    write_stdout(&match format {
        DataFormat::Json => report::json::document(&doc),
        DataFormat::Human => report::windows::human(&doc),
    })?;
    Ok(Outcome::Passed)
}
