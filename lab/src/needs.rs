//! What a test needs from the machine beyond Rust: outside programs, Python's jsonschema, root for
//! network namespaces. A test that lacks one says so in one line and stops there (it passes, as a
//! skip); with `INT_CHECK_TESTS_REQUIRE_ALL` set (`.ci/run` sets it) a missing need fails the test
//! instead, so CI runs everything. `INT_CHECK_TESTS_PRETEND_MISSING=slapd,curl` pretends some are
//! missing, to try the skips on a machine that has everything.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// One thing a test may need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Slapd,
    Openssl,
    Curl,
    Chromium,
    Prometheus,
    Promtool,
    Xmllint,
    /// GNU time, for peak RSS.
    GnuTime,
    /// Python 3 with the jsonschema module.
    Jsonschema,
    /// Root and `ip`, for network namespaces.
    Namespaces,
    Zsh,
    Fish,
    /// Debian's squid (and the openssl CLI, for its password file).
    Squid,
    /// nftables' `nft`, for the path-MTU black hole.
    Nftables,
}

impl Need {
    pub fn name(self) -> &'static str {
        match self {
            Need::Slapd => "slapd",
            Need::Openssl => "openssl",
            Need::Curl => "curl",
            Need::Chromium => "chromium",
            Need::Prometheus => "prometheus",
            Need::Promtool => "promtool",
            Need::Xmllint => "xmllint",
            Need::GnuTime => "gnu-time",
            Need::Jsonschema => "jsonschema",
            Need::Namespaces => "namespaces",
            Need::Zsh => "zsh",
            Need::Fish => "fish",
            Need::Squid => "squid",
            Need::Nftables => "nftables",
        }
    }

    /// How to get it (Debian's packages, as `.ci/run` installs them).
    pub fn install(self) -> &'static str {
        match self {
            Need::Slapd => "apt install slapd ldap-utils",
            Need::Openssl => "apt install openssl",
            Need::Curl => "apt install curl",
            Need::Chromium => "apt install chromium",
            Need::Prometheus | Need::Promtool => "apt install prometheus",
            Need::Xmllint => "apt install libxml2-utils",
            Need::GnuTime => "apt install time",
            Need::Jsonschema => "python3 -m pip install jsonschema",
            Need::Namespaces => "run the tests as root, with iproute2 installed",
            Need::Zsh => "apt install zsh",
            Need::Fish => "apt install fish",
            Need::Squid => "apt install squid openssl",
            Need::Nftables => "apt install nftables",
        }
    }

    fn present(self) -> bool {
        let pretended = std::env::var("INT_CHECK_TESTS_PRETEND_MISSING").unwrap_or_default();
        if pretended.split(',').any(|n| n.trim() == self.name()) {
            return false;
        }
        match self {
            Need::Slapd => on_path("slapd") || Path::new("/usr/sbin/slapd").exists(),
            Need::Openssl => on_path("openssl"),
            Need::Curl => on_path("curl"),
            Need::Chromium => on_path("chromium"),
            Need::Prometheus => on_path("prometheus"),
            Need::Promtool => on_path("promtool"),
            Need::Xmllint => on_path("xmllint"),
            Need::GnuTime => Path::new("/usr/bin/time").exists(),
            Need::Jsonschema => Command::new("python3")
                .args(["-c", "import jsonschema"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            Need::Zsh => on_path("zsh"),
            Need::Fish => on_path("fish"),
            Need::Squid => super::proxies::squid_installed() && on_path("openssl"),
            Need::Nftables => on_path("nft") || Path::new("/usr/sbin/nft").exists(),
            Need::Namespaces => {
                (on_path("ip") || Path::new("/usr/sbin/ip").exists())
                    && std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
                        s.lines()
                            .find(|l| l.starts_with("Uid:"))
                            .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
                    })
            }
        }
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Whether CI asked for every need to be met.
pub fn required() -> bool {
    std::env::var_os("INT_CHECK_TESTS_REQUIRE_ALL").is_some_and(|v| !v.is_empty() && v != "0")
}

/// True when every need is met. Otherwise says `skipped: TEST needs X (how to get it)` on
/// stderr, past the test harness's capture so it shows in a passing run, and returns false; with
/// `INT_CHECK_TESTS_REQUIRE_ALL` set, panics instead.
pub fn met(needs: &[Need]) -> bool {
    step_met("", needs)
}

/// As `met`, for one step of a test that goes on without it (a schema validation): the line
/// says which step was skipped.
pub fn step_met(step: &str, needs: &[Need]) -> bool {
    let missing: Vec<Need> = needs.iter().copied().filter(|n| !n.present()).collect();
    if missing.is_empty() {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let said: Vec<String> = missing
        .iter()
        .map(|n| format!("{} ({})", n.name(), n.install()))
        .collect();
    let line = match step {
        "" => format!("skipped: {test} needs {}", said.join(", ")),
        step => format!("skipped: {test}: {step} needs {}", said.join(", ")),
    };
    assert!(
        !required(),
        "{line}; INT_CHECK_TESTS_REQUIRE_ALL is set, so a missing need fails the test"
    );
    // Once per test and need, however many helpers ask.
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.contains(&line) {
        let _ = writeln!(std::io::stderr(), "{line}");
        said.push(line);
    }
    false
}

/// Stops the test here (a skip, said in one line) unless the machine has what it needs:
/// `needs!(Slapd, Openssl);`.
#[macro_export]
macro_rules! needs {
    ($($need:ident),+ $(,)?) => {
        if !$crate::needs::met(&[$($crate::needs::Need::$need),+]) {
            return;
        }
    };
}
