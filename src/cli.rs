//! Command line: argument definitions, layering (CLI > --config > profile), and exit codes.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};

use crate::engine::Engine;
use crate::error::UsageError;
use crate::findings::{EndpointHeading, Report};
use crate::pki::{self, TrustStore};
use crate::plan::{Plan, TrustChoice};
use crate::probe::dns::Resolver;
use crate::probe::ldap::Identifiers;
use crate::probe::tls::TlsSetup;
use crate::profile::{self, ClientDoc, DnsDoc, Profile, ProfileDoc, ResolverAddr, TrustDoc};
use crate::report::{self, Format};

pub const EXIT_OK: u8 = 0;
pub const EXIT_CHECK_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INTERNAL: u8 = 3;

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  no check failed (warnings allowed)
  1  at least one check failed
  2  usage or configuration error (bad flag, profile, config, PEM or key)
  3  internal error (a bug: please report it)";

/// Preflight checks for the NHS Spine integration (INT, Path-to-Live) environments:
/// DNS, TCP, TLS against the pinned G2 chain, for every endpoint of a profile, at once.
#[derive(Parser, Debug)]
#[command(
    name = "int-check",
    version,
    after_help = EXIT_CODES_HELP,
    args_conflicts_with_subcommands = true,
    args_override_self = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub check: CheckArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Probe every endpoint of a profile (the default when no command is given)
    #[command(after_help = EXIT_CODES_HELP)]
    Check(CheckArgs),
    /// Look up a party key or ASID in the Spine Directory Service (the profile's LDAPS endpoint)
    #[command(after_help = EXIT_CODES_HELP)]
    Sds(SdsArgs),
    /// List the built-in profiles, or print one as TOML to save and edit
    Profiles {
        #[command(subcommand)]
        action: Option<ProfilesAction>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProfilesAction {
    /// List the built-in profiles (the default)
    List,
    /// Print a built-in profile as TOML: save it, edit it, pass it back with --profile FILE
    Show { name: String },
}

/// Options every command that talks to an environment shares.
#[derive(Args, Debug, Clone)]
pub struct ProfileArgs {
    /// Built-in profile name (int, dep) or path to a profile TOML file
    #[arg(
        long,
        env = "INT_CHECK_PROFILE",
        value_name = "NAME|PATH",
        default_value = "int"
    )]
    pub profile: String,

    /// Local settings layered over the profile (client identity, DNS servers, extra endpoints)
    #[arg(long, env = "INT_CHECK_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// DNS server to query, replacing the profile's (repeatable; env: comma-separated)
    #[arg(
        long = "resolver",
        env = "INT_CHECK_RESOLVER",
        value_name = "IP[:PORT]",
        value_delimiter = ','
    )]
    pub resolvers: Vec<ResolverAddr>,

    /// Trust anchors replacing the built-in G2 chain: self-signed certificates become roots,
    /// the others known intermediates (repeatable; env: comma-separated)
    #[arg(
        long = "ca-file",
        env = "INT_CHECK_CA_FILE",
        value_name = "PEM",
        value_delimiter = ','
    )]
    pub ca_files: Vec<PathBuf>,

    /// Client certificate (PEM: leaf, optionally followed by its chain) for mutual TLS
    #[arg(long, env = "INT_CHECK_CLIENT_CERT", value_name = "PEM")]
    pub client_cert: Option<PathBuf>,

    /// Private key of the client certificate (PEM or DER; never printed)
    #[arg(long, env = "INT_CHECK_CLIENT_KEY", value_name = "PEM")]
    pub client_key: Option<PathBuf>,

    /// Timeout for each phase (DNS, TCP, TLS) of each endpoint, e.g. 5s, 500ms
    #[arg(long, env = "INT_CHECK_TIMEOUT", value_name = "DURATION", default_value = "5s", value_parser = profile::parse_duration)]
    pub timeout: Duration,
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,

    /// Output format on stdout
    #[arg(long, env = "INT_CHECK_FORMAT", value_enum, default_value = "human")]
    pub format: Format,

    /// Never colour the output (colour is used only on a terminal, and never when NO_COLOR is set)
    #[arg(long, env = "INT_CHECK_NO_COLOR")]
    pub no_color: bool,
}

#[derive(Args, Debug, Clone)]
#[command(group(clap::ArgGroup::new("key").required(true).args(["party_key", "asid"])))]
pub struct SdsArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,

    /// The MHS records (endpoints, interactions) registered for this party key, e.g. YES-0000806
    #[arg(long, value_name = "PK")]
    pub party_key: Option<String>,

    /// Only the record for this interaction ID (with --party-key)
    #[arg(long, value_name = "IID", requires = "party_key")]
    pub interaction: Option<String>,

    /// The Accredited System record of this ASID, e.g. 176887180519
    #[arg(long, value_name = "ASID", conflicts_with = "party_key")]
    pub asid: Option<String>,

    /// Output format on stdout
    #[arg(long, env = "INT_CHECK_FORMAT", value_enum, default_value = "human")]
    pub format: Format,
}

/// Why a run stopped before producing a report.
#[derive(Debug)]
pub enum Stop {
    Usage(UsageError),
    Internal(anyhow::Error),
}

impl From<UsageError> for Stop {
    fn from(error: UsageError) -> Self {
        Stop::Usage(error)
    }
}

/// The binary's whole life: parse, run, report, exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            });
        }
    };
    let outcome = std::panic::catch_unwind(|| run(cli));
    match outcome {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(Stop::Usage(error))) => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {}", error.message);
            if let Some(hint) = &error.hint {
                let _ = writeln!(stderr, "hint: {hint}");
            }
            ExitCode::from(EXIT_USAGE)
        }
        Ok(Err(Stop::Internal(error))) => {
            let _ = writeln!(std::io::stderr(), "internal error: {error:#}");
            ExitCode::from(EXIT_INTERNAL)
        }
        // The panic message is already on stderr (default hook).
        Err(_) => ExitCode::from(EXIT_INTERNAL),
    }
}

fn run(cli: Cli) -> Result<u8, Stop> {
    match cli.command {
        None => run_check(cli.check),
        Some(Command::Check(args)) => run_check(args),
        Some(Command::Sds(args)) => run_sds(args),
        Some(Command::Profiles { action }) => run_profiles(action.unwrap_or(ProfilesAction::List)),
    }
}

fn run_profiles(action: ProfilesAction) -> Result<u8, Stop> {
    let text = match action {
        ProfilesAction::List => {
            let mut text = String::new();
            for builtin in profile::BUILTINS {
                let doc = profile::load_profile(builtin.name)?;
                let profile = Profile::resolve(doc)?;
                text.push_str(&format!(
                    "{:<6} {} ({} endpoints)\n",
                    profile.name,
                    profile.description,
                    profile.endpoints.len()
                ));
            }
            text
        }
        ProfilesAction::Show { name } => match profile::builtin(&name) {
            Some(builtin) => builtin.toml.to_string(),
            None => return Err(profile::unknown_profile(&name).into()),
        },
    };
    write_stdout(&text)?;
    Ok(EXIT_OK)
}

/// Layers profile < --config < command line into one profile.
pub fn resolve_profile(args: &ProfileArgs) -> Result<Profile, UsageError> {
    let mut doc = profile::load_profile(&args.profile)?;
    if let Some(config) = &args.config {
        doc = doc.overlay(ProfileDoc::load_file(config)?);
    }
    let cwd = Path::new(".");
    let mut cli = ProfileDoc::default();
    if !args.resolvers.is_empty() {
        cli.dns = Some(DnsDoc {
            servers: Some(args.resolvers.clone()),
        });
    }
    if !args.ca_files.is_empty() {
        cli.trust = Some(TrustDoc {
            ca_files: Some(args.ca_files.iter().map(|p| cwd.join(p)).collect()),
            ..TrustDoc::default()
        });
    }
    if args.client_cert.is_some() || args.client_key.is_some() {
        cli.client = Some(ClientDoc {
            cert: args.client_cert.clone(),
            key: args.client_key.clone(),
        });
    }
    Profile::resolve(doc.overlay(cli))
}

/// What a run needs before any packet is sent: the profile, its trust and identity, a runtime.
struct Setup {
    profile: Profile,
    plan: Plan,
    provider: Arc<rustls::crypto::CryptoProvider>,
    /// One trust store per planned endpoint.
    trust: Vec<Arc<TrustStore>>,
    identity: Option<Arc<rustls::sign::CertifiedKey>>,
    hosts_file: PathBuf,
    timeout: Duration,
    runtime: tokio::runtime::Runtime,
}

impl Setup {
    fn new(args: &ProfileArgs) -> Result<Setup, Stop> {
        let profile = resolve_profile(args)?;
        let plan = Plan::from_profile(&profile);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let profile_trust = Arc::new(if profile.ca_files.is_empty() {
            TrustStore::builtin()
        } else {
            TrustStore::from_files(&profile.ca_files)?
        });
        // Endpoint-specific anchors, loaded once per distinct file list.
        let mut loaded: HashMap<Vec<PathBuf>, Arc<TrustStore>> = HashMap::new();
        let mut trust = Vec::with_capacity(plan.endpoints.len());
        for planned in &plan.endpoints {
            trust.push(match &planned.trust {
                TrustChoice::Profile => profile_trust.clone(),
                TrustChoice::Endpoint(files) => match loaded.get(files) {
                    Some(store) => store.clone(),
                    None => {
                        let store = Arc::new(TrustStore::from_files(files)?);
                        loaded.insert(files.clone(), store.clone());
                        store
                    }
                },
            });
        }
        let identity = match &profile.client {
            Some(paths) => Some(pki::load_identity(paths, &provider)?),
            None => None,
        };
        let hosts_file = std::env::var_os("INT_CHECK_HOSTS_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/etc/hosts"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Stop::Internal(anyhow::anyhow!("cannot start the async runtime: {e}")))?;
        Ok(Setup {
            profile,
            plan,
            provider,
            trust,
            identity,
            hosts_file,
            timeout: args.timeout,
            runtime,
        })
    }

    fn engine(&self) -> Engine {
        let profile = &self.profile;
        Engine {
            resolver: Resolver::new(&profile.dns_servers, self.timeout, &self.hosts_file),
            tls: TlsSetup::new(
                self.provider.clone(),
                profile.min_tls,
                self.identity.clone(),
                profile.expiry_warning_days,
                None,
            ),
            trust: self.trust.clone(),
            timeout: self.timeout,
            proxy: profile.proxy.clone().or_else(|| env_value("HTTPS_PROXY")),
            no_proxy: env_value("NO_PROXY"),
            ids: Identifiers {
                party_key: profile.party_key.clone(),
                asid: profile.asid.clone(),
                ods: profile.ods.clone(),
            },
        }
    }
}

fn run_check(args: CheckArgs) -> Result<u8, Stop> {
    let setup = Setup::new(&args.profile)?;
    let engine = Arc::new(setup.engine());
    let started_at = jiff::Timestamp::now();
    let started = Instant::now();
    let plan = Arc::new(setup.plan.clone());
    let checks = setup.runtime.block_on(engine.run(plan));
    let profile = &setup.profile;
    let report = Report {
        tool_version: env!("CARGO_PKG_VERSION"),
        profile: profile.name.clone(),
        description: profile.description.clone(),
        started_at,
        duration: started.elapsed(),
        endpoints: setup
            .plan
            .endpoints
            .iter()
            .map(|p| EndpointHeading {
                name: p.endpoint.name.clone(),
                url: p.endpoint.url.raw.clone(),
            })
            .collect(),
        checks,
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

/// `int-check sds`: the directory look-up support staff run, as a command.
fn run_sds(args: SdsArgs) -> Result<u8, Stop> {
    let setup = Setup::new(&args.profile)?;
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
    let engine = setup.engine();
    let endpoint = setup.plan.endpoints[index].endpoint.clone();
    let trust = setup.trust[index].clone();
    let outcome = setup
        .runtime
        .block_on(lookup(&engine, &trust, &endpoint, &query));
    setup.runtime.shutdown_background();
    match outcome {
        Ok(entries) => {
            let text = match args.format {
                Format::Json => report::sds::json(&endpoint.url.raw, &query.filter, &entries),
                Format::Human => report::sds::table(&endpoint.url.raw, &query.filter, &entries),
            };
            write_stdout(&text)?;
            Ok(if entries.is_empty() {
                EXIT_CHECK_FAILED
            } else {
                EXIT_OK
            })
        }
        Err((reason, message)) => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {message} [{}]", reason.code());
            let _ = writeln!(stderr, "hint: {}", reason.hint());
            Ok(EXIT_CHECK_FAILED)
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
    trust: &Arc<TrustStore>,
    endpoint: &crate::profile::Endpoint,
    query: &SdsQuery,
) -> Result<Vec<crate::probe::ldap::Entry>, (crate::reasons::Reason, String)> {
    use crate::probe::ldap;
    let url = &endpoint.url;
    let addresses = match url.ip {
        Some(ip) => vec![ip],
        None => {
            let outcome = engine.resolver.resolve(&url.host).await;
            match outcome.result {
                Ok(resolved) => resolved.addresses,
                Err(f) => return Err((f.reason, f.message)),
            }
        }
    };
    let mut last = None;
    for ip in addresses
        .into_iter()
        .take(crate::plan::MAX_ADDRESSES_PER_HOST)
    {
        let address = std::net::SocketAddr::new(ip, url.port);
        match ldap::open(&engine.tls, trust, endpoint, address, engine.timeout).await {
            Ok(mut session) => {
                let found = session
                    .search("ou=services,o=nhs", &query.filter, &query.attributes)
                    .await;
                session.close().await;
                return found.map(|f| f.entries).map_err(|f| (f.reason, f.message));
            }
            Err(f) => last = Some((f.reason, format!("{address}: {}", f.message))),
        }
    }
    Err(last.unwrap_or((
        crate::reasons::Reason::DnsNoAddress,
        "no address to connect to".into(),
    )))
}

/// An environment variable in upper or lower case, when set and not empty.
fn env_value(name: &str) -> Option<String> {
    [name.to_string(), name.to_ascii_lowercase()]
        .iter()
        .filter_map(|n| std::env::var(n).ok())
        .find(|v| !v.trim().is_empty())
}

/// Writes to stdout; a closed pipe (`int-check | head`) is not an error.
fn write_stdout(text: &str) -> Result<(), Stop> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Stop::Internal(anyhow::anyhow!(
            "cannot write to stdout: {e}"
        ))),
    }
}
