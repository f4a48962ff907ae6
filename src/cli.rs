//! Command line: the argument definitions (clap). What they do is in `commands`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::findings::CheckKind;
use crate::maintenance::{self, MaintenanceMode};
use crate::output::{DataFormat, Format};
use crate::profile::{self, ResolverAddr};
use crate::settings::{ProfileSources, RunFlags, TrustSources};

/// Preflight checks for the NHS Spine integration (INT, Path-to-Live) environments:
/// DNS, TCP, TLS against the pinned G2 chain, for every endpoint of a profile, at once.
#[derive(Parser, Debug)]
#[command(
    name = "int-check",
    version,
    after_help = crate::exit::help_text(),
    args_conflicts_with_subcommands = true,
    args_override_self = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub check: CheckArgs,

    /// More logs on stderr: -v for progress of each phase, -vv for protocol detail
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Print only failures (human format) and errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Probe every endpoint of a profile (the default when no command is given)
    #[command(after_help = crate::exit::help_text())]
    Check(CheckArgs),
    /// Your own endpoint as Spine will reach it: each URL your MHS records register ([client]
    /// party_key) is resolved, connected and its TLS judged (certificate, client-certificate request)
    #[command(after_help = crate::exit::help_text())]
    Inbound(CheckArgs),
    /// Run as a Prometheus exporter: scheduled runs behind /metrics and a status page at /,
    /// /probe?endpoint=NAME for blackbox-style scrapes; stops cleanly on SIGTERM
    #[command(after_help = crate::exit::serve_help_text())]
    Serve(ServeArgs),
    /// Look up a party key or ASID in the Spine Directory Service (the profile's LDAPS endpoint)
    #[command(after_help = crate::exit::sds_help_text())]
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
        /// Output format on stdout [default: human; INT_CHECK_FORMAT when it is one of these]
        #[arg(long, value_enum)]
        format: Option<DataFormat>,
    },
    /// Explain a reason code (what it means, what to do), or list them all
    Explain {
        /// A reason code, e.g. tls.untrusted_issuer
        #[arg(conflicts_with = "exit_codes")]
        code: Option<String>,
        /// List the exit codes instead of the reason codes
        #[arg(long)]
        exit_codes: bool,
        /// Print the list as the Markdown table the guide holds (docs/src/reasons.md)
        #[arg(long)]
        markdown: bool,
    },
    /// Print the JSON Schema of a machine document (every --format json output has one)
    Schema {
        #[arg(value_enum)]
        document: crate::documents::Document,
    },
    /// Print a shell completion script: int-check completions bash > /etc/bash_completion.d/int-check
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): int-check man > int-check.1; --out DIR writes it and one page
    /// per command (int-check-check.1, ...), which the main page refers to
    Man {
        /// Write int-check.1 and int-check-COMMAND.1 into this folder instead of printing
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
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
        /// Output format on stdout [default: human; INT_CHECK_FORMAT when it is one of these]
        #[arg(long, value_enum)]
        format: Option<DataFormat>,
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
        /// Output format on stdout [default: human; INT_CHECK_FORMAT when it is one of these]
        #[arg(long, value_enum)]
        format: Option<DataFormat>,
    },
    /// Judge a server's certificate chain offline, exactly as the TLS check would: verdict,
    /// reason and message, for a host name or address, now or at --at
    #[command(after_help = crate::exit::help_text())]
    Judge(JudgeArgs),
    /// Check a client certificate and key offline: key match, chain, validity, EKU, FQDN, permissions
    #[command(after_help = crate::exit::help_text())]
    Verify {
        #[command(flatten)]
        trust: TrustArgs,
        /// The client certificate (leaf, optionally followed by its chain); also --cert
        #[arg(long = "client-cert", alias = "cert", value_name = "PEM")]
        cert: PathBuf,
        /// Its private key (never printed); also --key. Not needed when the certificate file
        /// holds the key too
        #[arg(long = "client-key", alias = "key", value_name = "PEM")]
        key: Option<PathBuf>,
        /// The endpoint FQDN the certificate was issued for
        #[arg(long, value_name = "NAME")]
        fqdn: Option<String>,
        /// Judge validity at this instant (RFC 3339) instead of now
        #[arg(long, value_name = "RFC3339", value_parser = maintenance::parse_instant)]
        at: Option<jiff::Timestamp>,
        /// Output format on stdout [default: human; INT_CHECK_FORMAT when it is one of these]
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

/// `certs judge`: a server's chain, judged offline.
#[derive(clap::Args, Debug)]
pub struct JudgeArgs {
    #[command(flatten)]
    pub trust: TrustArgs,
    /// The chain as a server sends it: PEM or DER certificates, the server's own first
    #[arg(long, value_name = "PEM")]
    pub chain: PathBuf,
    /// The host name a client connects to
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present = "ip",
        conflicts_with = "ip"
    )]
    pub host: Option<String>,
    /// The IP address a client connects to (instead of --host)
    #[arg(long, value_name = "ADDR")]
    pub ip: Option<std::net::IpAddr>,
    /// Judge at this instant (RFC 3339) instead of now
    #[arg(long, value_name = "RFC3339", value_parser = maintenance::parse_instant)]
    pub at: Option<jiff::Timestamp>,
    /// Output format on stdout [default: human; INT_CHECK_FORMAT when it is one of these]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CertExportFormat {
    Pem,
    Der,
}

/// `--report FORMAT=PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportTarget {
    pub format: Format,
    pub path: PathBuf,
}

fn parse_report_target(text: &str) -> Result<ReportTarget, String> {
    use clap::ValueEnum;
    let (format, path) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not FORMAT=PATH, e.g. junit=report.xml"))?;
    let format = Format::from_str(format.trim(), true).map_err(|_| {
        format!("`{format}` is not a format: use human, json, junit, markdown, prometheus or html")
    })?;
    if path.trim().is_empty() {
        return Err(format!("`{text}` has no path after ="));
    }
    Ok(ReportTarget {
        format,
        path: PathBuf::from(path.trim()),
    })
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

    /// Local settings layered over the profile (client identity, DNS servers, extra endpoints)
    #[arg(long, env = "INT_CHECK_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Trust anchors replacing the built-in G2 chain: self-signed certificates become roots,
    /// the others known intermediates (repeatable; env: comma-separated)
    #[arg(
        long = "ca-file",
        env = "INT_CHECK_CA_FILE",
        value_name = "PEM",
        value_delimiter = ','
    )]
    pub ca_files: Vec<PathBuf>,

    /// Certificate revocation lists (PEM or DER) to check the client certificate against, and
    /// server chains when [trust] revocation says so (repeatable; env: comma-separated)
    #[arg(
        long = "crl-file",
        env = "INT_CHECK_CRL_FILE",
        value_name = "CRL",
        value_delimiter = ','
    )]
    pub crl_files: Vec<PathBuf>,
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
    #[command(flatten)]
    pub trust: TrustArgs,

    /// DNS server to query, replacing the profile's (repeatable; env: comma-separated)
    #[arg(
        long = "resolver",
        env = "INT_CHECK_RESOLVER",
        value_name = "IP[:PORT]",
        value_delimiter = ','
    )]
    pub resolvers: Vec<ResolverAddr>,

    /// Accept loopback answers from DNS (a local tunnel or lab) instead of failing them as a
    /// sinkhole, as [dns] allow_loopback = true does
    #[arg(long, env = "INT_CHECK_ALLOW_LOOPBACK", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_loopback: bool,

    /// Client certificate (PEM: leaf, optionally followed by its chain) for mutual TLS
    #[arg(long, env = "INT_CHECK_CLIENT_CERT", value_name = "PEM")]
    pub client_cert: Option<PathBuf>,

    /// Private key of the client certificate (PEM or DER; never printed)
    #[arg(long, env = "INT_CHECK_CLIENT_KEY", value_name = "PEM")]
    pub client_key: Option<PathBuf>,

    /// Connect to IP for the endpoints whose URL host is HOST (one node behind a name): SNI, the
    /// certificate's name check and the HTTP Host stay HOST (repeatable; env: comma-separated)
    #[arg(
        long = "connect-to",
        env = "INT_CHECK_CONNECT_TO",
        value_name = "HOST:IP",
        value_delimiter = ','
    )]
    pub connect_to: Vec<profile::ConnectTo>,

    /// Timeout for each phase of each endpoint (DNS, TCP, TLS, the HTTP request, each LDAP
    /// operation, the MESH handshake), e.g. 5s, 500ms [default: 5s]
    #[arg(long, env = "INT_CHECK_TIMEOUT", value_name = "DURATION", value_parser = profile::parse_duration)]
    pub timeout: Option<Duration>,
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,

    /// Output format on stdout [default: human]
    #[arg(long, env = "INT_CHECK_FORMAT", value_enum)]
    pub format: Option<Format>,

    /// Judge certificate dates and maintenance windows at this instant instead of now (RFC 3339)
    #[arg(long, env = "INT_CHECK_AT", value_name = "RFC3339", value_parser = maintenance::parse_instant)]
    pub at: Option<jiff::Timestamp>,

    /// What a failure of a service inside its published maintenance slot becomes [default: warn]
    #[arg(long, env = "INT_CHECK_MAINTENANCE", value_enum)]
    pub maintenance: Option<MaintenanceMode>,

    /// Also write a report to a file (repeatable): --report junit=report.xml --report json=report.json
    #[arg(long = "report", value_name = "FORMAT=PATH", value_parser = parse_report_target)]
    pub reports: Vec<ReportTarget>,

    /// Warnings fail the run too (exit 1)
    #[arg(long, env = "INT_CHECK_STRICT", value_parser = clap::builder::BoolishValueParser::new())]
    pub strict: bool,

    /// Only these endpoints (repeatable; * and ? match any text / one character)
    #[arg(long = "endpoint", value_name = "NAME")]
    pub endpoints: Vec<String>,

    /// Only endpoints of these services (repeatable), e.g. spine-core
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,

    /// Only up to these phases (comma-separated); the phases they need run too
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KIND")]
    pub only: Vec<CheckKind>,

    /// Leave out these phases and the ones after them (comma-separated)
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KIND")]
    pub skip: Vec<CheckKind>,

    /// Probe at most N endpoints at once [default: all of them, up to 128]
    #[arg(long, env = "INT_CHECK_CONCURRENCY", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: Option<u16>,

    /// Stop the whole run after this long; checks not finished by then fail with run.deadline
    #[arg(long, env = "INT_CHECK_DEADLINE", value_name = "DURATION", value_parser = profile::parse_duration)]
    pub deadline: Option<Duration>,

    /// Retry transient DNS and TCP failures up to N times (a success after a retry is a warning)
    /// [default: 0]
    #[arg(long, env = "INT_CHECK_RETRIES", value_name = "N", value_parser = clap::value_parser!(u8).range(0..=profile::MAX_RETRIES as i64))]
    pub retries: Option<u8>,

    /// Also probe every endpoint URL the directory registers under the profile's party key
    /// (new ones, up to [discovery] max_endpoints), and say what the profile and directory disagree on
    #[arg(long, env = "INT_CHECK_DISCOVER", value_parser = clap::builder::BoolishValueParser::new())]
    pub discover: bool,

    /// Print the plan (endpoints, phases, hosts, anchors, identity) without touching the network
    #[arg(long)]
    pub dry_run: bool,

    /// Never colour the output (colour is used only on a terminal, and never when NO_COLOR is set)
    #[arg(long, env = "INT_CHECK_NO_COLOR", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_color: bool,
}

/// `--listen`: an IP address and a port (a host name would hide which interface is exposed).
fn parse_listen(text: &str) -> Result<std::net::SocketAddr, String> {
    text.trim().parse().map_err(|_| {
        format!("`{text}` is not an IP address and port: use e.g. 127.0.0.1:10036, 0.0.0.0:10036 or [::1]:10036")
    })
}

impl TrustArgs {
    /// The plain values the core layers (it never sees clap).
    pub fn sources(&self) -> TrustSources {
        TrustSources {
            profile: self.profile.clone(),
            config: self.config.clone(),
            ca_files: self.ca_files.clone(),
            crl_files: self.crl_files.clone(),
        }
    }
}

impl ProfileArgs {
    /// The plain values the core layers (it never sees clap).
    pub fn sources(&self) -> ProfileSources {
        ProfileSources {
            trust: self.trust.sources(),
            resolvers: self.resolvers.clone(),
            allow_loopback: self.allow_loopback,
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
            timeout: self.timeout,
            connect_to: self.connect_to.clone(),
        }
    }
}

impl CheckArgs {
    /// The run flags as plain values.
    pub fn run_flags(&self) -> RunFlags {
        RunFlags {
            format: self.format,
            retries: self.retries,
            strict: self.strict,
            concurrency: self.concurrency,
            deadline: self.deadline,
            maintenance: self.maintenance,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,

    /// Address and port to listen on; loopback unless you say otherwise
    #[arg(long, env = "INT_CHECK_LISTEN", value_name = "ADDR:PORT", default_value = crate::serve::DEFAULT_LISTEN, value_parser = parse_listen)]
    pub listen: std::net::SocketAddr,

    /// Time between scheduled runs (a run that takes longer delays the next one)
    #[arg(long, env = "INT_CHECK_INTERVAL", value_name = "DURATION", default_value = "60s", value_parser = profile::parse_duration)]
    pub interval: Duration,

    /// The MESH mailbox handshake at most this often (1h to 24h; the MESH API asks for one a
    /// day); runs in between show the last result and its age
    #[arg(long, env = "INT_CHECK_MESH_INTERVAL", value_name = "DURATION", default_value = "6h", value_parser = parse_mesh_interval)]
    pub mesh_interval: Duration,

    /// Also allow /probe?target=URL for https:// URLs matching this pattern (repeatable):
    /// https://HOST[:PORT][/PATH], * and ? within the host's labels, any path below PATH
    #[arg(long = "allow-target", value_name = "PATTERN")]
    pub allow_targets: Vec<String>,

    /// Present your client certificate to --allow-target targets too (never done otherwise:
    /// they are outside the profile)
    #[arg(long = "allow-target-client-cert", requires = "allow_targets")]
    pub allow_target_client_cert: bool,

    /// At most this many /probe requests at once; more are answered 503
    #[arg(long, env = "INT_CHECK_MAX_PROBES", value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_probes: u16,

    /// At most this many open connections (default 1024, and never more than half the open-file
    /// limit leaves); at the bound a new connection closes the oldest idle one
    #[arg(long, env = "INT_CHECK_MAX_CONNECTIONS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,

    /// TLS and basic auth for the listener: a TOML file with [tls] cert_file/key_file and
    /// [basic_auth_users] NAME = "HASH"
    #[arg(long, env = "INT_CHECK_WEB_CONFIG", value_name = "FILE")]
    pub web_config: Option<PathBuf>,

    /// What a failure of a service inside its maintenance slot becomes [default: warn]
    #[arg(long, env = "INT_CHECK_MAINTENANCE", value_enum)]
    pub maintenance: Option<MaintenanceMode>,

    /// Read a password on stdin, print the hash to put in the web config, and exit
    #[arg(long, exclusive = true)]
    pub hash_password: bool,
}

#[derive(Args, Debug, Clone)]
// The look-up key is required, but checked by the command: `--fqdn` alone gets a hint there.
#[command(group(clap::ArgGroup::new("key").required(false).args(["party_key", "asid", "ods", "mine"])))]
pub struct SdsArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,

    /// The MHS records (endpoints, interactions) registered for this party key, e.g. YES-0000806
    #[arg(long, value_name = "PK")]
    pub party_key: Option<String>,

    /// Only the record for this interaction ID (with --party-key or --ods)
    #[arg(long, value_name = "IID")]
    pub interaction: Option<String>,

    /// The Accredited System record of this ASID, e.g. 176887180519
    #[arg(long, value_name = "ASID", conflicts_with = "party_key")]
    pub asid: Option<String>,

    /// The MHS records of this ODS code (with --interaction: for that interaction)
    #[arg(long, value_name = "ODS", conflicts_with_all = ["party_key", "asid"])]
    pub ods: Option<String>,

    /// Only the MHS records (of --party-key or --ods) that register this FQDN (nhsMhsFQDN). Matched
    /// here, not by the directory: the SDS schema gives nhsMhsFQDN no equality rule
    #[arg(long, value_name = "NAME", conflicts_with_all = ["asid", "mine"])]
    pub fqdn: Option<String>,

    /// Your own registration ([client] asid, party_key, ods, interactions, fqdn and certificate),
    /// judged as `check` judges it
    #[arg(long, conflicts_with_all = ["party_key", "asid", "ods"])]
    pub mine: bool,

    /// Output format on stdout [default: human; INT_CHECK_FORMAT when it is one of these]
    #[arg(long, value_enum)]
    pub format: Option<DataFormat>,
}

/// `--mesh-interval`: hours or minutes, from 1 hour to 24 (the MESH API specification: the
/// handshake "only needs to be called once every 24 hours").
fn parse_mesh_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len()),
    );
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: use e.g. 6h or 90m"))?;
    let seconds = match unit.trim() {
        "h" => value * 3600.0,
        "m" | "min" => value * 60.0,
        "s" => value,
        other => return Err(format!("`{text}` has unknown unit `{other}`: use h or m")),
    };
    if !(3600.0..=86_400.0).contains(&seconds) {
        return Err(format!(
            "`{text}` is out of range: the MESH handshake runs at most hourly and at least daily (1h to 24h)"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}
