//! `int-check check` (the default): identity checks, the plan's probes, maintenance windows, report.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use super::{Setup, Stop, write_stdout};
use crate::cli::{CheckArgs, EXIT_CHECK_FAILED, EXIT_OK};
use crate::findings::{EndpointHeading, Report};
use crate::maintenance::{self, WindowState};
use crate::probe::identity::IDENTITY;
use crate::report::{self, Format};

pub fn run_check(args: CheckArgs) -> Result<u8, Stop> {
    let started_at = jiff::Timestamp::now();
    let started = Instant::now();
    let mut setup = Setup::new(&args.profile, args.at)?;
    let engine = Arc::new(setup.engine());
    let plan = Arc::new(setup.plan.clone());
    let probed = setup.runtime.block_on(engine.run(plan));

    let profile = &setup.profile;
    let mut endpoints = Vec::new();
    let mut checks = Vec::new();
    // The identity is checked once, before (and reported above) every endpoint that uses it.
    if let (Some(verdict), Some(paths)) = (setup.identity.take(), &profile.client) {
        endpoints.push(EndpointHeading {
            name: IDENTITY.to_string(),
            url: paths.cert.display().to_string(),
        });
        checks.extend(verdict.checks);
    }
    endpoints.extend(setup.plan.endpoints.iter().map(|p| EndpointHeading {
        name: p.endpoint.name.clone(),
        url: p.endpoint.url.raw.clone(),
    }));
    checks.extend(probed);

    let windows = WindowState::at(&profile.maintenance, setup.at);
    let service_of = |endpoint: &str| {
        profile
            .endpoints
            .iter()
            .find(|e| e.name == endpoint)
            .and_then(|e| e.service.clone())
    };
    maintenance::apply(&mut checks, service_of, &windows, args.maintenance);

    let report = Report {
        tool_version: env!("CARGO_PKG_VERSION"),
        profile: profile.name.clone(),
        description: profile.description.clone(),
        started_at,
        duration: started.elapsed(),
        endpoints,
        checks,
        maintenance: if profile.maintenance.is_empty() {
            WindowState::default()
        } else {
            windows
        },
    };
    // Sockets still open in background tasks are not worth waiting for.
    setup.runtime.shutdown_background();
    let text = match args.format {
        Format::Json => report::json::render(&report),
        Format::Human => {
            let color = !args.no_color
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal();
            report::human::render(&report, &report::human::Style { color })
        }
    };
    write_stdout(&text)?;
    Ok(if report.failed() {
        EXIT_CHECK_FAILED
    } else {
        EXIT_OK
    })
}
