//! `int-check check` (the default): identity checks, the plan's probes, maintenance windows,
//! reports on stdout and in files.

use crate::exit::{Outcome, Stop};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use super::{EngineOptions, Setup, write_stdout, write_stdout_with};
use crate::cli::CheckArgs;
use crate::documents::{
    AnchorDoc, Document, PlanDoc, PlannedEndpointDoc, PlannedIdentity, PlannedMesh, TrustDoc,
};
use crate::error::UsageError;
use crate::findings::CheckKind;
use crate::pki::CertInfo;
use crate::plan::{Plan, Selection};
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

/// `int-check inbound`: `check` limited to your registration and your own endpoint.
pub fn run_inbound(args: CheckArgs, quiet: bool) -> Result<Outcome, Stop> {
    let profile = resolve_profile(&args.profile.sources())?;
    if profile
        .registration
        .as_ref()
        .is_none_or(|r| r.party_key.is_none())
    {
        return Err(UsageError::new("inbound checks the endpoints your MHS records register, and [client] party_key is not set")
            .hint("add to your --config file: [client] party_key = \"...\" (and asid, ods, interactions, fqdn, cert and key)")
            .into());
    }
    run_check(args, quiet)
}

pub fn run_check(args: CheckArgs, quiet: bool) -> Result<Outcome, Stop> {
    let selection = selection(&args);
    if args.dry_run {
        return dry_run(&args, &selection);
    }
    let started_at = jiff::Timestamp::now();
    let started = Instant::now();
    // The identity is judged against the revocation list its certificate names, too.
    let mut setup = Setup::new(&args.profile.sources(), args.at, super::Revocation::Fetched)?;
    let prepared = &mut setup.prepared;
    let run = RunSettings::layer(
        &args.run_flags(),
        args.profile.timeout,
        &prepared.profile.run,
    );
    let plan = Arc::new(prepared.plan.take_selected(&selection)?);
    let discover = args.discover || prepared.profile.discover;
    if discover && prepared.profile.party_key.is_none() {
        return Err(UsageError::new("--discover looks up the profile's party key, and the profile has none")
            .hint("set party_key at the top of the profile (the built-in int and dep profiles have YES-0000806)")
            .into());
    }
    // Your own records are looked up in the profile's directory, whatever the selection probes.
    let registration = selection.registration() && prepared.profile.registration.is_some();
    if registration || discover {
        prepared.require_directory()?;
    }
    // The selected plan is all the run needs (it was taken out of the full one): with ten
    // thousand endpoints, the profile's own list would be one more copy held to the end.
    prepared.profile.endpoints = Vec::new();
    if plan.endpoints.is_empty() && setup.identity.is_none() && !registration {
        return Err(
            UsageError::new("--only identity, but no client identity is configured")
                .hint(
                    "give --client-cert and --client-key (or [client] cert/key in a --config file)",
                )
                .into(),
        );
    }
    // Report paths are tested before any probe (and after every usage check, so a refused run
    // leaves no file behind): a run must not end with nowhere to go.
    for target in &args.reports {
        prepare_report_file(target)?;
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
        timeout: None,
    };
    tracing::info!(profile = %setup.prepared.profile.name, endpoints = plan.endpoints.len(), "run starts");
    let scope = crate::run::Scope {
        selection: &selection,
        registration,
        discover,
        identity: setup.identity.as_ref(),
        options,
    };
    let whole = setup
        .prepared
        .whole_run(plan.clone(), scope)
        .maintenance(run.maintenance)
        .started(started_at, started);
    let mut report = setup.runtime.block_on(async {
        crate::interrupt::listen();
        whole.run().await
    });
    report.strict = run.strict;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
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
    if let Some(signal) = crate::interrupt::signal() {
        return Ok(Outcome::Interrupted(128 + signal as u8));
    }
    let summary = report.summary();
    let failed = summary.fail > 0 || (run.strict && summary.warn > 0);
    Ok(Outcome::failed_if(failed))
}

/// Creates a report file's folder if needed and tests that the file can be written, so that a
/// path that cannot be written is a usage error before the run, not a lost report after it. A
/// file that was not there is removed again: it is written whole when the run ends.
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
    let existed = target.path.exists();
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&target.path)
        .map_err(|e| reason(&e))?;
    if !existed {
        let _ = std::fs::remove_file(&target.path);
    }
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
    let profile = resolve_profile(&args.profile.sources())?;
    let run = RunSettings::layer(&args.run_flags(), args.profile.timeout, &profile.run);
    let prepared = crate::run::Prepared::new(profile, run.timeout, args.at)?;
    let profile = &prepared.profile;
    let plan = prepared.plan.select(selection)?;
    let mut doc = plan_document(profile, &plan, &run, selection, args.discover);
    // Through a proxy, the proxy phase comes after TCP, and the proxy looks the host up.
    for (planned, shown) in plan.endpoints.iter().zip(doc.endpoints.iter_mut()) {
        if let Some(proxy) = prepared.basis.proxies.route(&planned.endpoint).proxy() {
            shown.proxy = Some(format!("{} ({})", proxy.shown(), proxy.source));
            if let Some(tcp) = shown.phases.iter().position(|k| *k == CheckKind::Tcp) {
                shown.phases.insert(tcp + 1, CheckKind::Proxy);
            }
        }
    }
    // The identity files are read and judged offline too: a dry run catches a wrong key.
    let mut failed = false;
    if let Some(planned) = doc.identity.as_mut()
        && let Some(verdict) =
            prepared.judge_identity(args.at.unwrap_or_else(jiff::Timestamp::now))?
    {
        failed = verdict.failed;
        planned.findings = verdict
            .checks
            .iter()
            .filter_map(|c| Some(format!("{}: {}", c.reason?.code(), c.message)))
            .collect();
    }
    // The MESH secrets are read when the check runs; a variable that is not set is certain to
    // fail then, so the dry run says so (by name: the values are never read here).
    doc.mesh = plan
        .endpoints
        .iter()
        .filter(|p| p.phases.contains(&CheckKind::Mesh))
        .find_map(|planned| {
            let mesh = planned.endpoint.mesh.as_ref()?;
            let unset: Vec<String> = [&mesh.password_env, &mesh.shared_key_env]
                .into_iter()
                .filter(|var| std::env::var_os(var).is_none_or(|v| v.is_empty()))
                .cloned()
                .collect();
            failed |= !unset.is_empty();
            Some(PlannedMesh {
                mailbox: mesh.mailbox.clone(),
                endpoint: planned.endpoint.name.clone(),
                password_env: mesh.password_env.clone(),
                shared_key_env: mesh.shared_key_env.clone(),
                unset,
            })
        });
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
    args_discover: bool,
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
                proxy: None,
            })
            .collect(),
        description: profile.description.clone(),
        directory: directory_plan(profile, selection, args_discover),
        mesh: None,
    }
}

/// The `--dry-run` sentences for what the directory's answers will add to the run.
fn directory_plan(profile: &Profile, selection: &Selection, discover: bool) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(registration) = profile
        .registration
        .as_ref()
        .filter(|_| selection.registration())
    {
        let mut who = Vec::new();
        if let Some(asid) = &registration.asid {
            who.push(format!("ASID {asid}"));
        }
        if let Some(party_key) = &registration.party_key {
            who.push(format!("party key {party_key}"));
        }
        lines.push(format!(
            "registration: the records of {} ({} interaction(s) listed)",
            who.join(" and "),
            registration.interactions.len()
        ));
        if registration.party_key.is_some() && selection.phases_include(CheckKind::Inbound) {
            let servers = if profile.dns_servers.is_empty() {
                crate::profile::ResolverAddr::hscn()
            } else {
                profile.dns_servers.clone()
            };
            lines.push(format!(
                "inbound: every URL your MHS records register, resolved through {} as Spine does, up to TLS and its client-certificate request",
                crate::profile::ResolverAddr::list(&servers)
            ));
        }
    }
    if let Some(party_key) = profile
        .party_key
        .as_ref()
        .filter(|_| discover || profile.discover)
    {
        lines.push(format!(
            "discovery: new endpoint URLs registered under {party_key}, up to {}",
            profile.max_discovered
        ));
    }
    lines
}
