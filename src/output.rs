//! Output formats: the names people write after `--format`, in `[run] format` and in
//! `--report FORMAT=PATH`. The renderers for them live in `report/`.

/// Output formats for stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Human,
    Json,
    Junit,
    Markdown,
    Prometheus,
    // One self-contained page for people (no script, no external assets).
    Html,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Markdown => "markdown",
            Format::Prometheus => "prometheus",
            Format::Html => "html",
        }
    }
}

/// Output formats of the commands that print data rather than a check report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DataFormat {
    Human,
    Json,
}
