//! Command line: argument definitions, layering (CLI > --config > profile), and exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::commands::{self, Stop};
use crate::maintenance::{self, MaintenanceMode};
use crate::profile::{self, ResolverAddr};
use crate::report::Format;

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
    /// The pinned trust chain: show it, export it for trust stores, inspect files, verify a client identity
    Certs {
        #[command(subcommand)]
        action: CertsAction,
    },
    /// Which services are in a maintenance slot now (or --at a time), and when the next slots are
    Windows {
        #[command(flatten)]
        trust: TrustArgs,
        /// The instant to evaluate (RFC 3339), instead of now
        #[arg(long, value_name = "RFC3339", value_parser = maintenance::parse_instant)]
        at: Option<jiff::Timestamp>,
        /// Output format on stdout
        #[arg(long, env = "INT_CHECK_FORMAT", value_enum, default_value = "human")]
        format: Format,
    },
    /// Explain a reason code (what it means, what to do), or list them all
    Explain {
        /// A reason code, e.g. tls.untrusted_issuer
        code: Option<String>,
    },
    /// List the built-in profiles, or print one as TOML to save and edit
    Profiles {
        #[command(subcommand)]
        action: Option<ProfilesAction>,
    },
}

#[derive(Subcommand, Debug)]
pub enum CertsAction {
    /// The profile's trust anchors: subject, issuer, serial, validity, key, SHA-256, days left
    Show {
        #[command(flatten)]
        trust: TrustArgs,
        /// Output format on stdout
        #[arg(long, env = "INT_CHECK_FORMAT", value_enum, default_value = "human")]
        format: Format,
    },
    /// Write the root and SubCA as separate files and a PEM bundle, with install instructions
    Export {
        #[command(flatten)]
        trust: TrustArgs,
        /// The folder to write to (created if missing; files in it are overwritten)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// pem (text, also as .crt for update-ca-certificates) or der (real binary DER)
        #[arg(long, value_enum, default_value = "pem")]
        format: CertExportFormat,
    },
    /// Tell what a file really is: PEM or DER, certificate or key, and whether its extension lies
    Inspect {
        file: PathBuf,
        /// Output format on stdout
        #[arg(long, env = "INT_CHECK_FORMAT", value_enum, default_value = "human")]
        format: Format,
    },
    /// Check a client certificate and key offline: key match, chain, validity, EKU, FQDN, permissions
    #[command(after_help = EXIT_CODES_HELP)]
    Verify {
        #[command(flatten)]
        trust: TrustArgs,
        /// The client certificate (leaf, optionally followed by its chain)
        #[arg(long, value_name = "PEM")]
        cert: PathBuf,
        /// Its private key (never printed)
        #[arg(long, value_name = "PEM")]
        key: PathBuf,
        /// The endpoint FQDN the certificate was issued for
        #[arg(long, value_name = "NAME")]
        fqdn: Option<String>,
        /// Judge validity at this instant (RFC 3339) instead of now
        #[arg(long, value_name = "RFC3339", value_parser = maintenance::parse_instant)]
        at: Option<jiff::Timestamp>,
        /// Output format on stdout
        #[arg(long, env = "INT_CHECK_FORMAT", value_enum, default_value = "human")]
        format: Format,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CertExportFormat {
    Pem,
    Der,
}

/// The options that choose a profile and its trust anchors (no network).
#[derive(Args, Debug, Clone)]
pub struct TrustArgs {
    /// Built-in profile name (int, dep) or path to a profile TOML file
    #[arg(
        long,
        env = "INT_CHECK_PROFILE",
        value_name = "NAME|PATH",
        default_value = "int"
    )]
    pub profile: String,

    /// Local settings layered over the profile
    #[arg(long, env = "INT_CHECK_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Trust anchors replacing the built-in G2 chain (repeatable)
    #[arg(
        long = "ca-file",
        env = "INT_CHECK_CA_FILE",
        value_name = "PEM",
        value_delimiter = ','
    )]
    pub ca_files: Vec<PathBuf>,
}

impl TrustArgs {
    pub fn profile_args(&self) -> ProfileArgs {
        ProfileArgs {
            profile: self.profile.clone(),
            config: self.config.clone(),
            resolvers: Vec::new(),
            ca_files: self.ca_files.clone(),
            client_cert: None,
            client_key: None,
            timeout: Duration::from_secs(5),
        }
    }
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

    /// Judge certificate dates and maintenance windows at this instant instead of now (RFC 3339)
    #[arg(long, env = "INT_CHECK_AT", value_name = "RFC3339", value_parser = maintenance::parse_instant)]
    pub at: Option<jiff::Timestamp>,

    /// What a failure of a service inside its published maintenance slot becomes
    #[arg(
        long,
        env = "INT_CHECK_MAINTENANCE",
        value_enum,
        default_value = "warn"
    )]
    pub maintenance: MaintenanceMode,

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
        None => commands::check::run_check(cli.check),
        Some(Command::Check(args)) => commands::check::run_check(args),
        Some(Command::Sds(args)) => commands::sds::run_sds(args),
        Some(Command::Certs { action }) => match action {
            CertsAction::Show { trust, format } => commands::certs::show(&trust, format),
            CertsAction::Export { trust, out, format } => {
                commands::certs::export(&trust, &out, format)
            }
            CertsAction::Inspect { file, format } => commands::certs::inspect(&file, format),
            CertsAction::Verify {
                trust,
                cert,
                key,
                fqdn,
                at,
                format,
            } => commands::certs::verify(
                &trust,
                crate::profile::ClientPaths { cert, key, fqdn },
                at,
                format,
            ),
        },
        Some(Command::Windows { trust, at, format }) => commands::windows::run(&trust, at, format),
        Some(Command::Explain { code }) => commands::explain::run(code.as_deref()),
        Some(Command::Profiles { action }) => {
            commands::profiles::run_profiles(action.unwrap_or(ProfilesAction::List))
        }
    }
}
