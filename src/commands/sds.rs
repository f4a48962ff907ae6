//! `int-check sds`: the directory look-up support staff run, as a command.

use crate::documents::{Document, SdsDoc};
use crate::exit::{Outcome, Stop};
use std::io::Write;

use super::{Setup, write_stdout};
use crate::cli::SdsArgs;
use crate::engine::Engine;
use crate::error::UsageError;
use crate::plan::PlannedEndpoint;
use crate::probe::{ProbeFailure, ldap};
use crate::report::{self, DataFormat};

pub fn run_sds(args: SdsArgs) -> Result<Outcome, Stop> {
    let keyed = args.party_key.is_some() || args.asid.is_some() || args.ods.is_some() || args.mine;
    if !keyed {
        return Err(match &args.fqdn {
            Some(fqdn) => UsageError::new(format!(
                "--fqdn {} filters the records of a party key or ODS code: the directory cannot search by FQDN (the SDS schema gives nhsMhsFQDN no equality rule)",
                crate::text::untrusted(fqdn)
            ))
            .hint("add the owner's key: int-check sds --ods CODE --fqdn NAME (your ODS code finds your MHS records), or --party-key PK --fqdn NAME; for your own records, int-check sds --mine"),
            None => UsageError::new("say which records to look up")
                .hint("one of --party-key PK, --asid ASID, --ods CODE or --mine (your own registration)"),
        }
        .into());
    }
    if args.interaction.is_some() && args.party_key.is_none() && args.ods.is_none() {
        return Err(
            UsageError::new("--interaction narrows a look-up by --party-key or --ods")
                .hint("add --party-key PK or --ods CODE")
                .into(),
        );
    }
    let setup = Setup::new(&args.profile.sources(), None, super::Revocation::Files)?;
    let planned = setup.prepared.require_directory()?;
    if args.mine {
        return mine(&args, setup, &planned);
    }
    let query = SdsQuery::from_args(&args);
    let engine = setup.engine(super::EngineOptions::default());
    let endpoint = &planned.endpoint;
    let outcome = setup.runtime.block_on(lookup(&engine, &planned, &query));
    setup.runtime.shutdown_background();
    match outcome {
        Ok(mut found) => {
            let mut filter = query.filter.clone();
            if let Some(fqdn) = &args.fqdn {
                found.entries.retain(|e| {
                    e.get(crate::spine_directory::FQDN)
                        .iter()
                        .any(|n| n.eq_ignore_ascii_case(fqdn))
                });
                filter.push_str(&format!(", then nhsMhsFQDN = {fqdn}"));
            }
            let doc = SdsDoc {
                schema: Document::Sds.into(),
                directory: endpoint.url.raw.clone(),
                filter,
                count: found.entries.len(),
                entries: found.entries,
                truncated_by: found.truncated_by,
                references: found.references,
            };
            write_stdout(
                &match super::format_or_env(args.format, DataFormat::Human) {
                    DataFormat::Json => report::json::document(&doc),
                    DataFormat::Human => report::sds::table(&doc),
                },
            )?;
            Ok(Outcome::failed_if(doc.entries.is_empty()))
        }
        Err(failure) => {
            let mut stderr = std::io::stderr().lock();
            let reason = failure.reason;
            let _ = writeln!(stderr, "error: {} [{}]", failure.message, reason.code());
            let _ = writeln!(stderr, "hint: {}", reason.hint());
            Ok(Outcome::ChecksFailed)
        }
    }
}

/// `sds --mine`: the registration phase alone, reported as `check` reports it, then your MHS
/// records as a table (human format).
fn mine(args: &SdsArgs, setup: Setup, directory: &PlannedEndpoint) -> Result<Outcome, Stop> {
    let Some(registration) = setup.prepared.profile.registration.clone() else {
        return Err(UsageError::new("--mine needs your registration: [client] asid and/or party_key")
            .hint("add to your --config file: [client] asid = \"...\", party_key = \"...\", ods = \"...\", interactions = [\"urn:nhs:names:services:...\"]")
            .into());
    };
    let cert_names = crate::pki::client_names(&setup.prepared.profile);
    let started_at = jiff::Timestamp::now();
    let started = std::time::Instant::now();
    let engine = setup.engine(super::EngineOptions::default());
    let (checks, answers) = setup.runtime.block_on(crate::directory::registration(
        &engine,
        directory,
        &registration,
        &cert_names,
    ));
    setup.runtime.shutdown_background();
    let report = crate::findings::Report::begun(&setup.prepared.profile, started_at)
        .section(
            crate::directory::registration::REGISTRATION,
            directory.endpoint.url.raw.clone(),
            checks,
        )
        .finished(started);
    let format = super::format_or_env(args.format, DataFormat::Human);
    let records = answers.mhs_records();
    super::write_stdout_with(|out| match format {
        DataFormat::Json => report::write(
            &report,
            report::Format::Json,
            &report::human::Style::plain(),
            out,
        ),
        DataFormat::Human => {
            report::write(
                &report,
                report::Format::Human,
                &report::human::Style::plain(),
                out,
            )?;
            if !records.is_empty() {
                let doc = SdsDoc {
                    schema: Document::Sds.into(),
                    directory: directory.endpoint.url.raw.clone(),
                    filter: "your MHS records".into(),
                    count: records.len(),
                    entries: records.to_vec(),
                    truncated_by: None,
                    references: Vec::new(),
                };
                write!(out, "\n{}", report::sds::table(&doc))?;
            }
            Ok(())
        }
    })?;
    Ok(Outcome::failed_if(report.summary().fail > 0))
}

/// A directory query built from `sds` flags.
struct SdsQuery {
    filter: String,
    attributes: Vec<String>,
}

impl SdsQuery {
    fn from_args(args: &SdsArgs) -> SdsQuery {
        use crate::spine_directory as sds;
        let interaction = args.interaction.as_deref();
        let filter = match (&args.party_key, &args.asid, &args.ods) {
            (Some(pk), _, _) => sds::mhs_of_party_key(pk, interaction),
            (None, Some(asid), _) => sds::as_of_asid(asid),
            (None, None, Some(ods)) => sds::mhs_of_ods(ods, interaction),
            // clap requires one of the look-up flags; --mine does not get here.
            (None, None, None) => format!("(objectClass={})", sds::MHS_CLASS),
        };
        let attributes = sds::LOOKUP_ATTRIBUTES
            .iter()
            .map(|a| a.to_string())
            .collect();
        SdsQuery { filter, attributes }
    }
}

/// Resolves the directory host, then binds and searches on the first address that answers.
async fn lookup(
    engine: &Engine,
    planned: &PlannedEndpoint,
    query: &SdsQuery,
) -> Result<ldap::Found, ProbeFailure> {
    let mut session = crate::directory::session(engine, planned).await?;
    let found = session
        .search(
            crate::spine_directory::BASE,
            &query.filter,
            &query.attributes,
        )
        .await;
    session.close().await;
    found
}
