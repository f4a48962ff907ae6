//! `int-check check` (the default): identity checks, the plan's probes, maintenance windows,
//! reports on stdout and in files.

use crate::exit::{Outcome, Stop};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use super::{EngineOptions, Setup, write_stdout, write_stdout_with};
use crate::cli::CheckArgs;
use crate::documents::{
    AnchorDoc, Document, PlanDoc, PlannedEndpointDoc, PlannedIdentity, TrustDoc,
};
use crate::error::UsageError;
use crate::findings::{EndpointHeading, Report};
use crate::maintenance::WindowState;
use crate::pki::CertInfo;
use crate::pki::identity::IDENTITY;
use crate::plan::{Plan, Selection};
use crate::probe::registration::REGISTRATION;
use crate::profile::Profile;
use crate::report::{self, Format};
use crate::settings::{RunSettings, resolve_profile};

fn selection(args: &CheckArgs) -> Selection {
    Selection {
        endpoints: args.endpoints.clone(),
        services: args.services.clone(),
        only: args.only.clone(),
        skip: args.skip.clone(),
    }
}

pub fn run_check(args: CheckArgs, quiet: bool) -> Result<Outcome, Stop> {
    let selection = selection(&args);
    if args.dry_run {
        return dry_run(&args, &selection);
    }
    // Report files are made writable before any probe: a run must not end with nowhere to go.
    for target in &args.reports {
        prepare_report_file(target)?;
    }
    let started_at = jiff::Timestamp::now();
    let started = Instant::now();
    let mut setup = Setup::new(&args.profile, args.at)?;
    let run = RunSettings::layer(&args, &setup.profile.run);
    let plan = Arc::new(setup.plan.select(&selection)?);
    // Your own records are looked up in the profile's directory, whatever the selection probes.
    let registration = setup
        .profile
        .registration
        .clone()
        .filter(|_| selection.registration());
    let directory = match &registration {
        Some(_) => Some(super::directory_of(&setup)?),
        None => None,
    };
    let cert_names = setup
        .profile
        .client
        .as_ref()
        .map(|c| crate::pki::names_in_certificate(&c.cert))
        .unwrap_or_default();
    // The selected plan is all the run needs: with ten thousand endpoints, the full plan and the
    // profile's own list would be two more copies held to the end.
    setup.plan.endpoints = Vec::new();
    setup.profile.endpoints = Vec::new();
    if plan.endpoints.is_empty() && setup.identity.is_none() && registration.is_none() {
        return Err(
            UsageError::new("--only identity, but no client identity is configured")
                .hint(
                    "give --client-cert and --client-key (or [client] cert/key in a --config file)",
                )
                .into(),
        );
    }
    let progress = progress_bar(quiet, plan.endpoints.len());
    let options = EngineOptions {
        concurrency: run.concurrency,
        deadline: run.deadline,
        retries: run.retries,
        progress: progress.as_ref().map(|bar| {
            let bar = bar.clone();
            Arc::new(move |done: usize, _total: usize| bar.set_position(done as u64))
                as crate::engine::Progress
        }),
        identity_gate: selection.identity(),
    };
    let engine = Arc::new(setup.engine(options));
    tracing::info!(profile = %setup.profile.name, endpoints = plan.endpoints.len(), "run starts");
    // The registration phase runs beside the endpoint probes: it is reported first, but waiting
    // for it would add its round trips to every run.
    let (probed, registered) = setup.runtime.block_on(async {
        let registered = async {
            match (&registration, &directory) {
                (Some(registration), Some(directory)) => Some(
                    engine
                        .registration(directory, registration, &cert_names)
                        .await,
                ),
                _ => None,
            }
        };
        tokio::join!(engine.clone().run(plan.clone()), registered)
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }

    let profile = &setup.profile;
    let mut endpoints = Vec::new();
    let mut checks = Vec::new();
    // The identity is checked once, before (and reported above) every endpoint that uses it.
    if let (Some(verdict), Some(paths), true) =
        (setup.identity.take(), &profile.client, selection.identity())
    {
        endpoints.push(EndpointHeading {
            name: IDENTITY.to_string(),
            url: paths.cert.display().to_string(),
            network: None,
        });
        checks.extend(verdict.checks);
    }
    if let (Some((registration_checks, _answers)), Some(directory)) = (registered, &directory) {
        endpoints.push(EndpointHeading {
            name: REGISTRATION.to_string(),
            url: directory.endpoint.url.raw.clone(),
            network: None,
        });
        checks.extend(registration_checks);
    }
    endpoints.extend(plan.endpoints.iter().map(|p| EndpointHeading {
        name: p.endpoint.name.clone(),
        url: p.endpoint.url.raw.clone(),
        network: Some(p.endpoint.network),
    }));
    checks.extend(probed);

    let windows = WindowState::at(&profile.maintenance, setup.at);
    let mut services: std::collections::HashMap<&str, &str> = plan
        .endpoints
        .iter()
        .filter_map(|p| Some((p.endpoint.name.as_str(), p.endpoint.service.as_deref()?)))
        .collect();
    // The registration checks ask the directory: its maintenance slot is theirs.
    if let Some(service) = directory
        .as_ref()
        .and_then(|d| d.endpoint.service.as_deref())
    {
        services.insert(REGISTRATION, service);
    }
    let service_of = |endpoint: &str| services.get(endpoint).map(|s| s.to_string());
    crate::findings::apply_maintenance(&mut checks, service_of, &windows, run.maintenance);

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

    // Files first: a CI job wants its artifacts even when stdout is closed early. A file that
    // cannot be written costs only itself: the others and stdout are still written.
    let mut unwritten = Vec::new();
    for target in &args.reports {
        let written = std::fs::File::create(&target.path).and_then(|file| {
            let mut file = std::io::BufWriter::new(file);
            report::write(
                &report,
                target.format,
                &report::human::Style::plain(),
                &mut file,
            )?;
            std::io::Write::flush(&mut file)
        });
        if let Err(e) = written {
            unwritten.push(format!(
                "the {} report to {}: {}",
                target.format.name(),
                target.path.display(),
                crate::profile::io_reason(&e)
            ));
        }
    }
    let color = !args.no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal();
    let style = report::human::Style { color, quiet };
    write_stdout_with(|out| report::write(&report, run.format, &style, out))?;
    if !unwritten.is_empty() {
        return Err(UsageError::new(format!(
            "the run finished, but int-check could not write {}",
            unwritten.join("; ")
        ))
        .hint("free space or fix the permissions, and run again; every other report was written")
        .into());
    }
    let summary = report.summary();
    let failed = summary.fail > 0 || (run.strict && summary.warn > 0);
    Ok(Outcome::failed_if(failed))
}

/// Creates a report file's folder if needed and the file itself, so that a path that cannot be
/// written is a usage error before the run, not a lost report after it.
fn prepare_report_file(target: &crate::cli::ReportTarget) -> Result<(), Stop> {
    let reason = |e: &std::io::Error| {
        UsageError::new(format!(
            "cannot write the {} report to {}: {}",
            target.format.name(),
            target.path.display(),
            crate::profile::io_reason(e)
        ))
        .hint("give --report a path in a folder you can write to")
    };
    if let Some(parent) = target.path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| reason(&e))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&target.path)
        .map_err(|e| reason(&e))?;
    Ok(())
}

/// A spinner with done/total on stderr, only for a person at a terminal: never in CI logs or
/// when the output goes to a pipe or file.
fn progress_bar(quiet: bool, total: usize) -> Option<indicatif::ProgressBar> {
    let interactive = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    if quiet || !interactive || std::env::var_os("CI").is_some() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} checking endpoints {pos}/{len} {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    Some(bar)
}

/// `--dry-run`: what would be checked, without DNS, sockets or the identity checks.
fn dry_run(args: &CheckArgs, selection: &Selection) -> Result<Outcome, Stop> {
    let profile = resolve_profile(&args.profile)?;
    let run = RunSettings::layer(args, &profile.run);
    let plan = Plan::from_profile(&profile)?.select(selection)?;
    let mut doc = plan_document(&profile, &plan, &run, selection);
    // The identity files are read and judged offline too: a dry run catches a wrong key.
    let mut failed = false;
    if let (Some(paths), Some(planned)) = (&profile.client, doc.identity.as_mut()) {
        let provider = rustls::crypto::ring::default_provider();
        let at = args.at.unwrap_or_else(jiff::Timestamp::now);
        let verdict = crate::pki::identity::verify(
            paths,
            &plan.profile_trust,
            &provider,
            super::unix_time(at),
            profile.expiry_warning_days,
        )?;
        failed = verdict.failed;
        planned.findings = verdict
            .checks
            .iter()
            .filter_map(|c| Some(format!("{}: {}", c.reason?.code(), c.message)))
            .collect();
    }
    write_stdout(&match run.format {
        Format::Json => report::json::document(&doc),
        _ => report::plan::human(&doc),
    })?;
    Ok(Outcome::failed_if(failed))
}

fn plan_document(
    profile: &Profile,
    plan: &Plan,
    run: &RunSettings,
    selection: &Selection,
) -> PlanDoc {
    let list = crate::profile::ResolverAddr::list;
    let mut resolver = if profile.dns_servers.is_empty() {
        "system resolver".to_string()
    } else {
        list(&profile.dns_servers)
    };
    for zone in &profile.dns_zones {
        resolver.push_str(&format!("; {} via {}", zone.name, list(&zone.servers)));
    }
    let anchors = |certs: &[rustls::pki_types::CertificateDer<'static>]| -> Vec<AnchorDoc> {
        certs
            .iter()
            .filter_map(CertInfo::of)
            .map(|i| AnchorDoc {
                subject: i.subject,
                sha256: i.sha256,
            })
            .collect()
    };
    let trust = &plan.profile_trust;
    PlanDoc {
        schema: Document::Plan.into(),
        profile: profile.name.clone(),
        resolver,
        hosts: plan.hosts.clone(),
        trust: TrustDoc {
            source: trust.source.clone(),
            roots: anchors(&trust.roots),
            intermediates: anchors(&trust.intermediates),
        },
        identity: profile.client.as_ref().map(|c| PlannedIdentity {
            cert: c.cert.display().to_string(),
            key: c.key.display().to_string(),
            checked: selection.identity(),
            findings: Vec::new(),
        }),
        timeout_ms: run.timeout.as_millis() as u64,
        endpoints: plan
            .endpoints
            .iter()
            .map(|p| PlannedEndpointDoc {
                name: p.endpoint.name.clone(),
                url: p.endpoint.url.raw.clone(),
                service: p.endpoint.service.clone(),
                mtls: p.endpoint.mtls,
                phases: p.phases.clone(),
                searches: p.endpoint.searches.iter().map(|s| s.name.clone()).collect(),
                trust: (!Arc::ptr_eq(&p.trust, &plan.profile_trust))
                    .then(|| p.trust.source.clone()),
            })
            .collect(),
        description: profile.description.clone(),
    }
}
