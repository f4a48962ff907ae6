//! `int-check windows` for people: each service, in a slot now or when its next slot is.

use std::fmt::Write as _;

use crate::documents::WindowsDoc;
use crate::maintenance::local;

pub fn human(doc: &WindowsDoc) -> String {
    let at = doc.state.at.map(local).unwrap_or_default();
    let mut out = format!(
        "Maintenance slots of profile {} at {at} ({})\n",
        doc.profile, doc.state.time_zone
    );
    if doc.slots.is_empty() {
        out.push_str("  this profile lists no maintenance slots\n");
    }
    for service in &doc.slots {
        let weekly = service.weekly.join(", ");
        match doc
            .state
            .active
            .iter()
            .find(|o| o.service == service.service)
        {
            Some(o) => {
                let _ = writeln!(
                    out,
                    "  {:<12} IN A SLOT now, until {}   (weekly {weekly})",
                    service.service,
                    local(o.end),
                );
            }
            None => {
                let next = doc.state.next.iter().find(|o| o.service == service.service);
                let when = next
                    .map(|o| format!("{} to {}", local(o.start), local(o.end)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {:<12} available; next slot {when}   (weekly {weekly})",
                    service.service,
                );
            }
        }
    }
    out.push_str("Check the Forward Change Schedule for work outside these slots.\n");
    out
}
