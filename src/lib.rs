//! int-check: preflight checks for the NHS Spine integration (INT, Path-to-Live) environments.
//!
//! The flow: `profile` (what to check) -> `plan` (phases per endpoint) -> `probe` (one module
//! per phase, run by `engine`) -> `findings` (checks with reason codes from `reasons`) ->
//! `report` (one module per output format). `cli` wires them together for the binary.

pub mod cli;
pub mod commands;
pub mod directory;
pub mod documents;
pub mod engine;
pub mod error;
pub mod exit;
pub mod findings;
pub mod interrupt;
pub mod maintenance;
pub mod output;
pub mod pki;
pub mod plan;
pub mod probe;
pub mod profile;
pub mod reasons;
pub mod report;
pub mod run;
pub mod serve;
pub mod settings;
pub mod spine_directory;
pub mod text;
