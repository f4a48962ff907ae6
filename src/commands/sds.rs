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
use crate::reasons::Reason;
use crate::report::{self, DataFormat};

pub fn run_sds(args: SdsArgs) -> Result<Outcome, Stop> {
    let setup = Setup::new(&args.profile, None)?;
    let Some(index) = setup
        .plan
        .endpoints
        .iter()
        .position(|p| p.endpoint.url.scheme == crate::profile::Scheme::Ldaps)
    else {
        return Err(UsageError::new(format!("profile `{}` has no ldaps:// endpoint", setup.profile.name))
            .hint("add the directory, e.g. [[endpoint]] name = \"sds-ldaps\" url = \"ldaps://ldap.nis1.national.ncrs.nhs.uk:636\"")
            .into());
    };
    let query = SdsQuery::from_args(&args);
    let engine = setup.engine(super::EngineOptions::default());
    let planned = &setup.plan.endpoints[index];
    let endpoint = &planned.endpoint;
    let outcome = setup.runtime.block_on(lookup(&engine, planned, &query));
    setup.runtime.shutdown_background();
    match outcome {
        Ok(found) => {
            let doc = SdsDoc {
                schema: Document::Sds.into(),
                directory: endpoint.url.raw.clone(),
                filter: query.filter.clone(),
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

/// A directory query built from `sds` flags.
struct SdsQuery {
    filter: String,
    attributes: Vec<String>,
}

impl SdsQuery {
    fn from_args(args: &SdsArgs) -> SdsQuery {
        use crate::probe::ldap::escape_filter_value as esc;
        let filter = match (&args.party_key, &args.interaction, &args.asid) {
            (Some(pk), Some(iid), _) => format!(
                "(&(objectClass=nhsMhs)(nhsMHSPartyKey={})(nhsMhsSvcIA={}))",
                esc(pk),
                esc(iid)
            ),
            (Some(pk), None, _) => format!("(&(objectClass=nhsMhs)(nhsMHSPartyKey={}))", esc(pk)),
            (None, _, Some(asid)) => {
                format!("(&(objectClass=nhsAs)(uniqueIdentifier={}))", esc(asid))
            }
            (None, _, None) => unreachable!("clap requires --party-key or --asid"),
        };
        let attributes = report::sds::ATTRIBUTES
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
    let ctx = engine.context(planned);
    let url = &planned.endpoint.url;
    let addresses = match url.ip {
        Some(ip) => vec![ip],
        None => {
            let outcome = engine.resolver.resolve(&url.host).await;
            match outcome.result {
                Ok(resolved) => resolved.addresses,
                Err(f) => return Err(f),
            }
        }
    };
    let mut last = None;
    for ip in addresses
        .into_iter()
        .take(crate::plan::MAX_ADDRESSES_PER_HOST)
    {
        let address = std::net::SocketAddr::new(ip, url.port);
        match ldap::open(&ctx, address, None).await {
            Ok(mut session) => {
                let found = session
                    .search("ou=services,o=nhs", &query.filter, &query.attributes)
                    .await;
                session.close().await;
                return found;
            }
            Err(f) => {
                last = Some(ProbeFailure {
                    message: format!("{address}: {}", f.message),
                    ..f
                })
            }
        }
    }
    Err(last.unwrap_or(ProbeFailure::new(
        Reason::DnsNoAddress,
        "no address to connect to",
    )))
}
