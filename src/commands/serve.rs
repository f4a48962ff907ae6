//! `int-check serve`: the exporter's set-up; the server itself is `crate::serve`.

use std::io::{BufRead, Write};
use std::sync::Arc;

use super::Setup;
use crate::cli::ServeArgs;
use crate::error::UsageError;
use crate::exit::{Outcome, Stop};
use crate::serve::web_config::{self, WebConfig};
use crate::serve::{Exporter, Settings};

pub fn run_serve(args: ServeArgs) -> Result<Outcome, Stop> {
    if args.hash_password {
        return hash_password();
    }
    let web = args
        .web_config
        .as_deref()
        .map(WebConfig::load)
        .transpose()?;
    let allow_targets = args
        .allow_targets
        .iter()
        .map(|p| crate::serve::targets::TargetPattern::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    // Bad files, an unknown profile or a broken identity stop here, before listening.
    let setup = Setup::new(&args.profile.sources(), None, super::Revocation::Files)?;
    let Setup {
        prepared, runtime, ..
    } = setup;
    let run = &prepared.profile.run;
    let maintenance = args
        .maintenance
        .or(run.maintenance)
        .unwrap_or(crate::maintenance::MaintenanceMode::Warn);
    let settings = Settings {
        listen: args.listen,
        interval: args.interval.max(std::time::Duration::from_secs(1)),
        mesh_interval: args.mesh_interval,
        allow_targets,
        client_cert_to_targets: args.allow_target_client_cert,
        max_probes: usize::from(args.max_probes),
        max_connections: crate::serve::connections::bound(args.max_connections.map(|n| n as usize)),
        web,
        maintenance,
        // The config's [run] settings hold for scheduled runs and /probe as for `check`.
        concurrency: run
            .concurrency
            .map(usize::from)
            .unwrap_or(crate::engine::DEFAULT_CONCURRENCY)
            .max(1),
        retries: run.retries.unwrap_or(0),
    };
    let exporter = Arc::new(Exporter::new(prepared, settings));
    runtime.block_on(crate::serve::serve(exporter))?;
    runtime.shutdown_background();
    Ok(Outcome::Passed)
}

/// Reads one line from stdin (no echo control: pipe it in) and prints its hash.
fn hash_password() -> Result<Outcome, Stop> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        Stop::from(UsageError::new(format!(
            "cannot read the password from stdin: {}",
            crate::profile::io_reason(&e)
        )))
    })?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(UsageError::new("no password on stdin")
            .hint("echo -n 'PASSWORD' | int-check serve --hash-password")
            .into());
    }
    let hash = web_config::hash_password(password.as_bytes());
    let _ = writeln!(std::io::stdout(), "{hash}");
    Ok(Outcome::Passed)
}
