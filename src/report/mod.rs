//! Renderers: one module per output format. Renderers never probe; they turn a `Report` into text.

pub mod human;
pub mod json;
pub mod sds;

use std::time::Duration;

/// Output formats for stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// `12ms` under a second, `1.23s` above.
pub fn short_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{:.2}s", duration.as_secs_f64())
    }
}
