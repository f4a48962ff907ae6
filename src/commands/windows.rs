//! `int-check windows`: which services are in a maintenance slot, and when the next ones are.

use crate::exit::{Outcome, Stop};
use std::fmt::Write as _;

use serde_json::json;

use super::write_stdout;
use crate::cli::TrustArgs;
use crate::maintenance::{self, WindowState, local};
use crate::report::DataFormat;
use crate::settings::resolve_trust_profile;

pub fn run(
    args: &TrustArgs,
    at: Option<jiff::Timestamp>,
    format: DataFormat,
) -> Result<Outcome, Stop> {
    let profile = resolve_trust_profile(args)?;
    let at = at.unwrap_or_else(jiff::Timestamp::now);
    let state = WindowState::at(&profile.maintenance, at);
    let text = match format {
        DataFormat::Json => {
            let mut value = state.to_json();
            value["schema"] = json!("int-check.windows.v1");
            value["profile"] = json!(profile.name);
            format!("{}\n", serde_json::to_string_pretty(&value).expect("JSON"))
        }
        DataFormat::Human => {
            let mut out = format!(
                "Maintenance slots of profile {} at {} ({})\n",
                profile.name,
                local(at),
                maintenance::ZONE
            );
            if profile.maintenance.is_empty() {
                out.push_str("  this profile lists no maintenance slots\n");
            }
            for window in &profile.maintenance {
                let slots: Vec<&str> = window.weekly.iter().map(|s| s.raw.as_str()).collect();
                match state.active_for(&window.service) {
                    Some(o) => {
                        let _ = writeln!(
                            out,
                            "  {:<12} IN A SLOT now, until {}   (weekly {})",
                            window.service,
                            local(o.end),
                            slots.join(", ")
                        );
                    }
                    None => {
                        let next = state.next.iter().find(|o| o.service == window.service);
                        let when = next
                            .map(|o| format!("{} to {}", local(o.start), local(o.end)))
                            .unwrap_or_default();
                        let _ = writeln!(
                            out,
                            "  {:<12} available; next slot {when}   (weekly {})",
                            window.service,
                            slots.join(", ")
                        );
                    }
                }
            }
            out.push_str("Check the Forward Change Schedule for work outside these slots.\n");
            out
        }
    };
    write_stdout(&text)?;
    Ok(Outcome::Passed)
}
