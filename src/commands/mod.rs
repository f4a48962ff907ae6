//! One module per subcommand, what they share (the layered profile and the run set-up), and
//! `main`: parse the command line, dispatch, end with the exit code `exit` gives.

pub mod certs;
pub mod check;
pub mod explain;
pub mod profiles;
pub mod sds;
pub mod serve;
pub mod windows;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::{CertsAction, Cli, Command, ProfilesAction};
use crate::engine::Engine;
use crate::error::UsageError;
use crate::exit::{self, Outcome, Stop};
use crate::output::DataFormat;
use crate::pki::TrustStore;
use crate::pki::identity::IdentityVerdict;
use crate::profile::{self, Profile};
use crate::settings::{self, resolve_profile};

pub use crate::engine::EngineOptions;
pub use crate::pki::unix_time;
use crate::run::Prepared;

/// The binary's whole life: parse, run, report, exit code.
pub fn main() -> ExitCode {
    let args = options_after_command(std::env::args_os().collect());
    let cli = match <Cli as clap::Parser>::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            match from_environment(&error) {
                Some(text) => eprint!("{text}"),
                None => {
                    let _ = error.print();
                }
            }
            return ExitCode::from(if error.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    init_logging(cli.verbose, cli.quiet);
    // A panic's message is already on stderr (default hook); it ends as exit 3.
    exit::finish(std::panic::catch_unwind(|| run(cli)).ok())
}

/// `int-check --profile dep -q windows` means `int-check windows --profile dep -q`: options given
/// before a command move behind it (and behind its action, `certs show`), where that command's
/// parser judges them. Options the command also gets after it win, being later.
pub fn options_after_command(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut command = <Cli as clap::CommandFactory>::command();
    command.build();
    let takes_value = |token: &str| {
        let token = token.split('=').next().unwrap_or(token);
        command.get_arguments().any(|arg| {
            let named = match token.strip_prefix("--") {
                Some(long) => arg.get_long() == Some(long),
                None => token.len() == 2 && arg.get_short() == token.chars().nth(1),
            };
            named && arg.get_action().takes_values() && !token.contains('=')
        })
    };
    let mut index = 1;
    while let Some(token) = args.get(index).and_then(|t| t.to_str()) {
        if token == "--" || !token.starts_with('-') {
            break;
        }
        let whole = token;
        index += if takes_value(whole) && !whole.contains('=') {
            2
        } else {
            1
        };
    }
    if index == 1 || index >= args.len() {
        return args;
    }
    // The command and its action, if any (`certs show`).
    let mut path_end = index;
    let mut level = Some(&command);
    while let Some(current) = level
        && let Some(name) = args.get(path_end).and_then(|t| t.to_str())
    {
        level = current.find_subcommand(name);
        if level.is_none() {
            break;
        }
        path_end += 1;
    }
    if path_end == index {
        return args;
    }
    let mut moved = Vec::with_capacity(args.len());
    moved.push(args[0].clone());
    moved.extend_from_slice(&args[index..path_end]);
    moved.extend_from_slice(&args[1..index]);
    moved.extend_from_slice(&args[path_end..]);
    moved
}

/// One roff page.
fn man_page(command: clap::Command) -> Result<Vec<u8>, Stop> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .map_err(|e| Stop::Internal(anyhow::anyhow!("cannot render the manual: {e}")))?;
    Ok(out)
}

/// int-check.1 and one int-check-COMMAND.1 per command (the main page's SEE ALSO names them).
fn write_man_pages(dir: &std::path::Path) -> Result<Outcome, Stop> {
    let fail = |e: std::io::Error| {
        Stop::from(
            UsageError::new(format!(
                "cannot write the manual pages to {}: {}",
                dir.display(),
                crate::profile::io_reason(&e)
            ))
            .hint("give --out a folder you can write to"),
        )
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    // `help` is a command of the command line, not a page: `man int-check-check` is the help.
    fn without_help(command: clap::Command) -> clap::Command {
        command
            .disable_help_subcommand(true)
            .mut_subcommands(without_help)
    }
    let mut command = without_help(<Cli as clap::CommandFactory>::command());
    command.build();
    // Every command at every depth (`certs show` is int-check-certs-show.1): each page's SEE
    // ALSO names its subcommands' pages.
    let mut pages = vec![("int-check".to_string(), command)];
    while let Some((name, command)) = pages.pop() {
        for sub in command.get_subcommands() {
            pages.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
        let page = man_page(command.name(name.clone()))?;
        std::fs::write(dir.join(format!("{name}.1")), page).map_err(fail)?;
    }
    Ok(Outcome::Passed)
}

/// A command's output format: its `--format`, else `INT_CHECK_FORMAT` when this command writes
/// that format (a job-wide `INT_CHECK_FORMAT=junit` is meant for `check`), else `fallback`.
pub fn format_or_env<T: clap::ValueEnum>(flag: Option<T>, fallback: T) -> T {
    if let Some(format) = flag {
        return format;
    }
    match std::env::var("INT_CHECK_FORMAT") {
        Ok(value) if !value.is_empty() => T::from_str(&value, true).unwrap_or_else(|_| {
            tracing::info!(
                "INT_CHECK_FORMAT={value} is not a format this command writes; writing its default"
            );
            fallback
        }),
        _ => fallback,
    }
}

/// A bad value that came from an `INT_CHECK_*` variable, not from a flag the user typed: the
/// message names the variable (clap names the flag, which the user never wrote).
fn from_environment(error: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let ContextValue::String(arg) = error.get(ContextKind::InvalidArg)? else {
        return None;
    };
    let long = arg
        .split_whitespace()
        .next()?
        .trim_start_matches("--")
        .to_string();
    let typed =
        std::env::args().any(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")));
    if typed {
        return None;
    }
    let command = <Cli as clap::CommandFactory>::command();
    let env = std::iter::once(&command)
        .chain(command.get_subcommands())
        .flat_map(|c| c.get_arguments())
        .find(|a| a.get_long() == Some(long.as_str()))?
        .get_env()?
        .to_string_lossy()
        .into_owned();
    let value = std::env::var(&env).ok()?;
    let rest: Vec<String> = error
        .to_string()
        .lines()
        .skip(1)
        .filter(|l| !l.contains("For more information"))
        .map(str::to_string)
        .collect();
    let mut accepted = rest.join("\n").trim_end().to_string();
    // The value parser's own reason, as the flag would give it (`banana` is not a duration...);
    // the yes/no explanation only for a yes/no variable.
    let reason = std::error::Error::source(error)
        .map(|e| e.to_string())
        .filter(|r| !r.contains("boolean") && !r.trim().is_empty());
    if let Some(reason) = reason {
        accepted = format!("  {}", crate::text::untrusted(&reason));
    } else if accepted.trim().is_empty() {
        accepted = "  [yes/no values: 1 or 0, true or false, yes or no, on or off]".to_string();
    }
    Some(format!(
        "error: the environment variable {env}={value} is not a value --{long} takes\n{accepted}\nhint: correct or unset {env}\n"
    ))
}

fn run(cli: Cli) -> Result<Outcome, Stop> {
    let quiet = cli.quiet;
    match cli.command {
        None => check::run_check(cli.check, quiet),
        Some(Command::Check(args)) => check::run_check(args, quiet),
        Some(Command::Serve(args)) => serve::run_serve(args),
        Some(Command::Inbound(mut args)) => {
            // Your records, then your endpoint: the registration and inbound phases only.
            args.only = vec![
                crate::findings::CheckKind::Registration,
                crate::findings::CheckKind::Inbound,
            ];
            args.skip.clear();
            check::run_inbound(args, quiet)
        }
        Some(Command::Completions { shell }) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut command, "int-check", &mut out);
            let mut script = String::from_utf8_lossy(&out).into_owned();
            if shell == clap_complete::Shell::Bash {
                // clap-rs/clap#6421: for a hyphenated binary name the generated case labels
                // (`int__subcmd__check__subcmd__certs`) do not match the command variable the
                // script builds (`int__check__subcmd__certs`), so nothing completes after a
                // subcommand. Until it is fixed there, the labels are written as matched.
                script = script.replace("int__subcmd__check", "int__check");
            }
            write_stdout(&script)?;
            Ok(Outcome::Passed)
        }
        Some(Command::Schema { document }) => {
            write_stdout(&crate::report::json::document(&document.json_schema()))?;
            Ok(Outcome::Passed)
        }
        Some(Command::Man { out: None }) => {
            let command = <Cli as clap::CommandFactory>::command();
            write_stdout(&String::from_utf8_lossy(&man_page(command)?))?;
            Ok(Outcome::Passed)
        }
        Some(Command::Man { out: Some(dir) }) => write_man_pages(&dir),
        Some(Command::Sds(args)) => sds::run_sds(args),
        Some(Command::Certs { action }) => match action {
            CertsAction::Show { trust, format } => {
                certs::show(&trust, format_or_env(format, DataFormat::Human))
            }
            CertsAction::Export { trust, out, format } => certs::export(&trust, &out, format),
            CertsAction::Inspect { file, format } => {
                certs::inspect(&file, format_or_env(format, DataFormat::Human))
            }
            CertsAction::Judge(args) => {
                let format = format_or_env(args.format, crate::output::Format::Human);
                certs::judge(&args, format)
            }
            CertsAction::Verify {
                trust,
                cert,
                key,
                fqdn,
                at,
                format,
            } => {
                // No --client-key: the key is in the certificate file, or it is missing.
                let key = match key {
                    Some(key) => key,
                    None if profile::holds_private_key(&cert) => cert.clone(),
                    None => {
                        return Err(UsageError::new(format!(
                            "no --client-key given, and {} holds no private key",
                            cert.display()
                        ))
                        .hint("pass the key file with --client-key KEY (a PEM certificate file with its key in it needs none)")
                        .into());
                    }
                };
                certs::verify(
                    &trust,
                    profile::ClientPaths { cert, key, fqdn },
                    at,
                    format_or_env(format, crate::output::Format::Human),
                )
            }
        },
        Some(Command::Windows { trust, at, format }) => {
            windows::run(&trust, at, format_or_env(format, DataFormat::Human))
        }
        Some(Command::Explain {
            code,
            exit_codes,
            markdown,
        }) => explain::run(code.as_deref(), exit_codes, markdown),
        Some(Command::Profiles { action }) => {
            profiles::run_profiles(action.unwrap_or(ProfilesAction::List))
        }
    }
}

/// What a command needs before any packet is sent: the prepared run (profile, plan, trust), the
/// client identity judged, a runtime.
pub struct Setup {
    pub prepared: Prepared,
    /// The client identity's checks, when one is configured.
    pub identity: Option<IdentityVerdict>,
    pub runtime: tokio::runtime::Runtime,
}

/// Where the client identity's revocation list may come from when a command starts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// CRL files only (`sds`; `serve` fetches at each run).
    Files,
    /// Also the list the certificate names at its distribution point (`check`).
    Fetched,
}

impl Setup {
    pub fn new(
        sources: &crate::settings::ProfileSources,
        at: Option<jiff::Timestamp>,
        revocation: Revocation,
    ) -> Result<Setup, Stop> {
        let profile = resolve_profile(sources)?;
        let timeout = settings::timeout(sources.timeout, &profile.run);
        let prepared = Prepared::new(profile, timeout, at)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Stop::Internal(anyhow::anyhow!("cannot start the async runtime: {e}")))?;
        let at = at.unwrap_or_else(jiff::Timestamp::now);
        let identity = match revocation {
            Revocation::Files => prepared.judge_identity(at)?,
            Revocation::Fetched => runtime.block_on(prepared.judge_identity_online(at))?,
        };
        Ok(Setup {
            prepared,
            identity,
            runtime,
        })
    }

    pub fn engine(&self, options: EngineOptions) -> Engine {
        self.prepared.engine(self.identity.as_ref(), options)
    }
}

/// Logs (tracing) go to stderr: warnings by default, -v info, -vv debug; -q errors only.
/// RUST_LOG overrides for whoever needs the dependencies' logs too.
pub fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "int_check=info",
        (false, _) => "int_check=debug,hickory_resolver=info,rustls=info",
    };
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// The profile's own trust store: its ca_files, or the built-in G2 chain.
pub fn profile_trust(profile: &Profile) -> Result<Arc<TrustStore>, UsageError> {
    Ok(Arc::new(TrustStore::for_profile(profile)?))
}

/// Writes to stdout; a closed pipe (`int-check | head`) is not an error.
pub fn write_stdout(text: &str) -> Result<(), Stop> {
    write_stdout_with(|out| out.write_all(text.as_bytes()))
}

/// Lets `write` write to stdout; a reader that stopped early (`| head`) is not an error.
pub fn write_stdout_with(
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), Stop> {
    let mut stdout = std::io::stdout().lock();
    match write(&mut stdout).and_then(|_| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        // An output that fails (a full disk, a closed file) is the environment's, not a bug.
        Err(e) => Err(UsageError::new(format!(
            "cannot write the report to stdout: {}",
            crate::profile::io_reason(&e)
        ))
        .hint("check where stdout goes (a full disk, a closed file or pipe)")
        .into()),
    }
}
