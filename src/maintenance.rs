//! Maintenance windows: the weekly slots the NHS page publishes, in Europe/London wall-clock time.
//! Each occurrence is computed from its own local date, so slots follow the March and October
//! clock changes (a Monday 20:00 slot starts at 20:00 BST in summer and 20:00 GMT in winter).

use std::fmt;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde::Deserialize;

/// The time zone the NHS page's slots are written in.
pub const ZONE: &str = "Europe/London";

fn zone() -> TimeZone {
    TimeZone::get(ZONE).expect("the bundled tz database has Europe/London")
}

/// `[[maintenance]]`: the weekly slots of one service.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    pub service: String,
    pub weekly: Vec<WeeklySlot>,
}

/// `"Mon 20:00-Tue 06:00"`: a weekly slot, local time.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct WeeklySlot {
    pub raw: String,
    start_day: Weekday,
    start: (i8, i8),
    end_day: Weekday,
    end: (i8, i8),
}

impl TryFrom<String> for WeeklySlot {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{raw}` is not a weekly slot: use e.g. \"Mon 20:00-Tue 06:00\" (Europe/London time)"
            )
        };
        let (from, to) = raw.split_once('-').ok_or_else(bad)?;
        let point = |text: &str| -> Option<(Weekday, (i8, i8))> {
            let (day, time) = text.trim().split_once(' ')?;
            let day = match day.trim().to_ascii_lowercase().get(..3)? {
                "mon" => Weekday::Monday,
                "tue" => Weekday::Tuesday,
                "wed" => Weekday::Wednesday,
                "thu" => Weekday::Thursday,
                "fri" => Weekday::Friday,
                "sat" => Weekday::Saturday,
                "sun" => Weekday::Sunday,
                _ => return None,
            };
            let (h, m) = time.trim().split_once(':')?;
            let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
            ((0..24).contains(&h) && (0..60).contains(&m)).then_some((day, (h, m)))
        };
        let (start_day, start) = point(from).ok_or_else(bad)?;
        let (end_day, end) = point(to).ok_or_else(bad)?;
        if start_day == end_day && start == end {
            return Err(format!("`{raw}` starts and ends at the same moment"));
        }
        Ok(WeeklySlot {
            raw,
            start_day,
            start,
            end_day,
            end,
        })
    }
}

/// One occurrence of a slot, as instants.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Occurrence {
    pub service: String,
    /// The slot as the profile writes it, e.g. `Mon 20:00-Tue 06:00`.
    pub slot: String,
    /// RFC 3339, UTC.
    #[serde(serialize_with = "rfc3339")]
    #[schemars(with = "String")]
    pub start: Timestamp,
    /// RFC 3339, UTC.
    #[serde(serialize_with = "rfc3339")]
    #[schemars(with = "String")]
    pub end: Timestamp,
}

fn rfc3339<S: serde::Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(at)
}

impl fmt::Display for Occurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} to {}",
            self.service,
            local(self.start),
            local(self.end)
        )
    }
}

/// A readable local time: `Mon 23 Nov 20:00 GMT`.
pub fn local(at: Timestamp) -> String {
    at.to_zoned_datetime(zone())
        .strftime("%a %d %b %H:%M %Z")
        .to_string()
}

impl WeeklySlot {
    /// The occurrence that starts on local date `date` (which must be a `start_day`).
    fn starting_on(&self, date: Date, tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
        let mut days = i64::from(self.start_day.until(self.end_day));
        if days == 0 && self.end <= self.start {
            days = 7;
        }
        let end_date = date.checked_add(Span::new().days(days)).ok()?;
        let start = date
            .at(self.start.0, self.start.1, 0, 0)
            .to_zoned_datetime(tz.clone())
            .ok()?;
        let end = end_date
            .at(self.end.0, self.end.1, 0, 0)
            .to_zoned_datetime(tz.clone())
            .ok()?;
        Some((start.timestamp(), end.timestamp()))
    }

    /// Occurrences starting within `days` local days of `at`, back (negative) or forward.
    fn around(&self, at: Timestamp, back: i64, forward: i64) -> Vec<(Timestamp, Timestamp)> {
        let tz = zone();
        let today = at.to_zoned_datetime(tz.clone()).date();
        (-back..=forward)
            .filter_map(|offset| today.checked_add(Span::new().days(offset)).ok())
            .filter(|d| d.weekday() == self.start_day)
            .filter_map(|d| self.starting_on(d, &tz))
            .collect()
    }
}

/// The window state at an instant.
#[derive(Clone, Debug, Default)]
pub struct WindowState {
    pub at: Option<Timestamp>,
    /// Slots in progress at `at`.
    pub active: Vec<Occurrence>,
    /// The next slot of each service that is not in one now.
    pub next: Vec<Occurrence>,
}

impl WindowState {
    pub fn at(windows: &[Maintenance], at: Timestamp) -> WindowState {
        let mut state = WindowState {
            at: Some(at),
            ..WindowState::default()
        };
        for window in windows {
            let mut current = None;
            let mut upcoming: Option<Occurrence> = None;
            for slot in &window.weekly {
                for (start, end) in slot.around(at, 8, 8) {
                    let occurrence = Occurrence {
                        service: window.service.clone(),
                        slot: slot.raw.clone(),
                        start,
                        end,
                    };
                    if start <= at && at < end {
                        current = Some(occurrence);
                    } else if start > at && upcoming.as_ref().is_none_or(|u| start < u.start) {
                        upcoming = Some(occurrence);
                    }
                }
            }
            match current {
                Some(occurrence) => state.active.push(occurrence),
                None => state.next.extend(upcoming),
            }
        }
        state.next.sort_by_key(|o| o.start);
        state
    }

    /// The slot a service is in, if any.
    pub fn active_for(&self, service: &str) -> Option<&Occurrence> {
        self.active.iter().find(|o| o.service == service)
    }

    /// One line for reports.
    pub fn summary(&self) -> String {
        if self.at.is_none() {
            return "no maintenance windows in this profile".to_string();
        }
        let mut parts = Vec::new();
        if self.active.is_empty() {
            parts.push("no service is in a maintenance slot".to_string());
        } else {
            let now: Vec<String> = self
                .active
                .iter()
                .map(|o| format!("{} until {}", o.service, local(o.end)))
                .collect();
            parts.push(format!("IN MAINTENANCE: {}", now.join(", ")));
        }
        if let Some(next) = self.next.first() {
            parts.push(format!("next: {} from {}", next.service, local(next.start)));
        }
        parts.join("; ")
    }
}

/// What a failure inside a maintenance slot becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaintenanceMode {
    /// Stays a failure (the slot is noted in its details).
    Fail,
    /// Becomes a warning with reason maintenance.window (the default).
    Warn,
    /// Becomes a skip with reason maintenance.window: not counted either way.
    Ignore,
}
/// Parses `--at`: RFC 3339 with an offset (`2026-11-23T20:30:00Z`, `2026-06-15T20:30:00+01:00`).
pub fn parse_instant(text: &str) -> Result<Timestamp, String> {
    text.trim()
        .parse::<Timestamp>()
        .map_err(|_| format!("`{text}` is not an RFC 3339 instant: use e.g. 2026-11-23T20:30:00Z or 2026-06-15T20:30:00+01:00"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(text: &str) -> WeeklySlot {
        WeeklySlot::try_from(text.to_string()).unwrap()
    }

    fn spine_core() -> Vec<Maintenance> {
        vec![Maintenance {
            service: "spine-core".into(),
            weekly: vec![slot("Mon 20:00-Tue 06:00"), slot("Wed 20:00-Thu 06:00")],
        }]
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn parses_and_rejects_slots() {
        assert!(WeeklySlot::try_from("Funday 20:00-Tue 06:00".to_string()).is_err());
        assert!(WeeklySlot::try_from("Mon 25:00-Tue 06:00".to_string()).is_err());
        assert!(WeeklySlot::try_from("Mon 20:00".to_string()).is_err());
        assert!(WeeklySlot::try_from("Mon 20:00-Mon 20:00".to_string()).is_err());
    }

    #[test]
    fn winter_slot_is_in_gmt() {
        // Monday 23 November 2026, 20:30 GMT = 20:30 UTC: inside.
        let state = WindowState::at(&spine_core(), ts("2026-11-23T20:30:00Z"));
        let active = state.active_for("spine-core").unwrap();
        assert_eq!(active.start, ts("2026-11-23T20:00:00Z"));
        assert_eq!(active.end, ts("2026-11-24T06:00:00Z"));
        // 19:59 UTC is outside; the next slot starts at 20:00 UTC.
        let state = WindowState::at(&spine_core(), ts("2026-11-23T19:59:00Z"));
        assert!(state.active.is_empty());
        assert_eq!(state.next[0].start, ts("2026-11-23T20:00:00Z"));
    }

    #[test]
    fn summer_slot_is_in_bst() {
        // Monday 15 June 2026, 20:00 BST = 19:00 UTC.
        let state = WindowState::at(&spine_core(), ts("2026-06-15T19:30:00Z"));
        assert_eq!(
            state.active_for("spine-core").unwrap().start,
            ts("2026-06-15T19:00:00Z")
        );
        assert!(
            WindowState::at(&spine_core(), ts("2026-06-15T18:59:00Z"))
                .active
                .is_empty()
        );
    }

    #[test]
    fn slots_across_the_march_and_october_changes() {
        // Clocks go back at 02:00 BST on Sunday 25 October 2026: a Sat 22:00-Sun 04:00 slot lasts 7 hours.
        let windows = vec![Maintenance {
            service: "weekend".into(),
            weekly: vec![slot("Sat 22:00-Sun 04:00")],
        }];
        let active = WindowState::at(&windows, ts("2026-10-24T23:00:00Z")).active[0].clone();
        assert_eq!(active.start, ts("2026-10-24T21:00:00Z")); // 22:00 BST
        assert_eq!(active.end, ts("2026-10-25T04:00:00Z")); // 04:00 GMT
        // Clocks go forward at 01:00 GMT on Sunday 29 March 2026: the same slot lasts 5 hours.
        let active = WindowState::at(&windows, ts("2026-03-28T23:00:00Z")).active[0].clone();
        assert_eq!(active.start, ts("2026-03-28T22:00:00Z")); // 22:00 GMT
        assert_eq!(active.end, ts("2026-03-29T03:00:00Z")); // 04:00 BST
    }

    #[test]
    fn week_wrapping_slot() {
        let windows = vec![Maintenance {
            service: "cis".into(),
            weekly: vec![slot("Sun 22:00-Mon 02:00")],
        }];
        let state = WindowState::at(&windows, ts("2026-11-23T01:00:00Z"));
        assert_eq!(state.active[0].start, ts("2026-11-22T22:00:00Z"));
    }
}
