//! Configuration and bad input through the real binary: every mistake is one line, a hint, exit 2.

use int_check_lab as lab;

use std::path::Path;

use int_check::profile::{Profile, ProfileDoc};
use lab::*;

#[test]
fn example_config_parses_and_documents_every_key() {
    let doc = ProfileDoc::load_file(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config.example.toml"
    )))
    .expect("config.example.toml parses");
    // As it is meant to be used: over the built-in INT profile (whose MESH endpoint [mesh] uses).
    let int = int_check::profile::load_profile("int").unwrap();
    let profile = Profile::resolve(int.overlay(doc)).unwrap();
    assert!(profile.endpoints.iter().any(|e| e.mesh.is_some()));
    assert_eq!(profile.dns_servers.len(), 2);
    assert!(profile.client.is_some());
    assert!(profile.endpoints.iter().any(|e| e.ca_files.is_some()));
    assert_eq!(profile.run.retries, Some(0));
    assert!(profile.run.deadline.is_some() && profile.run.format.is_some());
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"))
        .unwrap();
    for key in [
        "name",
        "description",
        "party_key",
        "asid",
        "ods",
        "servers",
        "allow_loopback",
        "ca_files",
        "min_tls",
        "expiry_warning_days",
        "cert",
        "key",
        "interactions",
        "mailbox",
        "sources",
        "enabled",
        "max_endpoints",
        "password_env",
        "shared_key_env",
        "url",
        "service",
        "mtls",
        "timeout",
        "format",
        "retries",
        "strict",
        "concurrency",
        "deadline",
        "maintenance",
    ] {
        assert!(
            text.contains(&format!("\n{key} = ")),
            "config.example.toml does not document `{key}`"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_profile_names_file_line_and_column() {
    let lab = Lab::start().await;
    let profile = lab.write(
        "bad.toml",
        "name = \"x\"\n\n[[endpoint]]\nname = \"a\"\nurl = \"tcp://a:1\"\ncolour = \"red\"\n",
    );
    let run = lab::run(&["--profile", p(&profile)]).await;
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    let first = run.stderr.lines().next().unwrap();
    assert!(
        first.starts_with("error: ") && first.contains("bad.toml:6:1") && first.contains("colour"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: "));

    let profile = lab.write(
        "bad-url.toml",
        "[[endpoint]]\nname = \"a\"\nurl = \"ftp://a/\"\n",
    );
    let run = lab::run(&["--profile", p(&profile)]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("bad-url.toml:3:7") && run.stderr.contains("ftp"),
        "{}",
        run.stderr
    );

    let profile = lab.write("not-toml.toml", "this is = = not toml");
    let run = lab::run(&["--profile", p(&profile)]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not-toml.toml:1:"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_profile_and_missing_files() {
    let run = lab::run(&["--profile", "prod"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown profile `prod`") && run.stderr.contains("int, dep"),
        "{}",
        run.stderr
    );

    let run = lab::run(&["--profile", "/nonexistent/p.toml"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cannot read /nonexistent/p.toml: no such file"),
        "{}",
        run.stderr
    );

    let run = lab::run(&["--config", "/nonexistent/local.toml"]).await;
    assert_eq!(run.code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_and_broken_pem_files() {
    let lab = Lab::start().await;
    let run = lab::run(&["--ca-file", "/nonexistent/root.pem"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cannot read certificate file /nonexistent/root.pem"),
        "{}",
        run.stderr
    );

    let garbage = lab.write(
        "garbage.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n",
    );
    let run = lab::run(&["--ca-file", p(&garbage)]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("garbage.pem"), "{}", run.stderr);

    // The NHS page prints each PEM on one line: that is not valid PEM, and the hint says how to fix it.
    let one_line = lab.write(
        "one-line.der",
        "-----BEGIN CERTIFICATE----- MIIFtDCCA5yg -----END CERTIFICATE-----",
    );
    let run = lab::run(&["--ca-file", p(&one_line)]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("on one line") && run.stderr.contains("64 characters"),
        "{}",
        run.stderr
    );

    // A SubCA alone is not enough to trust anything.
    let run = lab::run(&["--ca-file", p(&lab.subca_file)]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no root certificate"), "{}", run.stderr);

    // A real DER file is accepted as a trust anchor (the NHS page's ".der" advice, done right).
    let der = lab.path("root.der");
    std::fs::write(&der, lab.pki.root.cert.as_ref()).unwrap();
    lab.dns.set("x.int.test", DnsAnswer::NxDomain);
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new("svc", "https://x.int.test/")],
        "",
    );
    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--ca-file",
        p(&der),
        "--format",
        "json",
    ])
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_key_files_are_configuration_errors() {
    let lab = Lab::start().await;
    let (cert, _) = lab.client_identity(&lab.pki, "a.supplier.thirdparty.nhs.uk");
    let run = lab::run(&["--client-cert", p(&cert), "--client-key", p(&cert)]).await;
    assert_eq!(run.code, 2);
    // The certificate given as the key is named as such (see certs::confused_identity_files_are_named).
    assert!(
        run.stderr.contains("is a certificate, not a private key"),
        "{}",
        run.stderr
    );

    let run = lab::run(&["--client-cert", p(&cert)]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no key"), "{}", run.stderr);

    let encrypted = lab.write("enc.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n");
    let run = lab::run(&["--client-cert", p(&cert), "--client-key", p(&encrypted)]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("encrypted private key"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2_and_help_exits_0() {
    let run = lab::run(&["--bogus"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    let run = lab::run(&["--timeout", "soon"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("soon"), "{}", run.stderr);
    let run = lab::run(&["--resolver", "dns.example"]).await;
    assert_eq!(run.code, 2);
    let run = lab::run(&["--help"]).await;
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Exit codes:") && run.stdout.contains("--ca-file"));
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_options_work_before_or_after_the_command() {
    // Before the command and before its action: the same output as written after them.
    let before = lab::run(&["--profile", "dep", "-q", "windows", "--format", "json"]).await;
    let after = lab::run(&["windows", "--profile", "dep", "-q", "--format", "json"]).await;
    assert_eq!(before.code, 0, "{}", before.stderr);
    assert_eq!(before.json()["profile"], "dep");
    assert_eq!(before.json()["profile"], after.json()["profile"]);
    let show = lab::run(&["--profile=dep", "certs", "show", "--format", "json"]).await;
    assert_eq!(show.code, 0, "{}", show.stderr);
    // The later one wins when both are given.
    let both = lab::run(&[
        "--profile",
        "dep",
        "windows",
        "--profile",
        "int",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(both.json()["profile"], "int");
    // An option the command does not take is refused by that command, with its usage.
    let wrong = lab::run(&["--dry-run", "windows"]).await;
    assert_eq!(wrong.code, 2);
    assert!(
        wrong.stderr.contains("int-check windows"),
        "{}",
        wrong.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn config_overlays_profile_and_shown_profiles_round_trip() {
    let lab = Lab::start().await;
    // `profiles show int` output is a valid profile file.
    let shown = lab::run(&["profiles", "show", "int"]).await;
    assert_eq!(shown.code, 0);
    assert!(shown.stdout.contains("party_key = \"YES-0000806\""));
    let saved = lab.write("int.toml", &shown.stdout);
    // Point it at the lab DNS, which knows none of the INT names, and add a local endpoint.
    let config = lab.write(
        "local.toml",
        &format!("[dns]\nservers = [\"{}\"]\n\n[[endpoint]]\nname = \"extra\"\nurl = \"tcp://extra.int.test:9\"\n", lab.dns.addr),
    );
    let run = lab::run(&[
        "--profile",
        p(&saved),
        "--config",
        p(&config),
        "--format",
        "json",
        "--timeout",
        "2s",
        // A fixed instant outside INT's maintenance slots: the result must not depend on the clock.
        "--at",
        "2026-11-25T12:00:00Z",
    ])
    .await;
    assert_eq!(run.code, 1);
    let json = run.json();
    assert_eq!(json["profile"], "int");
    assert_eq!(json["maintenance"]["active"].as_array().unwrap().len(), 0);
    let endpoints = json["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.last().unwrap()["name"], "extra");
    assert!(endpoints.iter().any(|e| e["name"] == "spine-reliable"));
    // Every lookup went to the lab server and got NXDOMAIN: for an HSCN name, from a server
    // that is not an HSCN resolver, that is a missing forwarder.
    assert!(run.checks("spine-reliable", "dns")[0]["reason"] == "dns.no_forwarder");

    let listed = lab::run(&["profiles"]).await;
    assert_eq!(listed.code, 0);
    assert!(listed.stdout.contains("int ") && listed.stdout.contains("dep "));
    let missing = lab::run(&["profiles", "show", "prod"]).await;
    assert_eq!(missing.code, 2);
}

/// The block of the guide between a `generated by `COMMAND`` marker and the end marker.
fn readme_block(readme: &str, command: &str) -> String {
    let start = format!("<!-- generated by `{command}`");
    let begin = readme
        .find(&start)
        .unwrap_or_else(|| panic!("the guide has no block generated by `{command}`"));
    let body = &readme[begin..];
    let body = &body[body.find("-->\n").expect("marker ends") + 4..];
    let end = body
        .find("<!-- end of generated table -->")
        .expect("generated block ends");
    body[..end].to_string()
}

/// The guide's reason and exit-code tables (docs/src/reasons.md, getting-started.md) are exactly
/// what the binary prints, both ways: no stale row, no missing row, no row the catalogue does not
/// have.
#[tokio::test]
async fn guide_tables_are_generated_from_the_catalogue() {
    let readme = ["reasons.md", "getting-started.md"]
        .map(|page| {
            std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("docs/src")
                    .join(page),
            )
            .unwrap()
        })
        .join("\n");
    for (args, command) in [
        (
            &["explain", "--markdown"][..],
            "int-check explain --markdown",
        ),
        (
            &["explain", "--exit-codes", "--markdown"][..],
            "int-check explain --exit-codes --markdown",
        ),
    ] {
        let run = lab::run(args).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            readme_block(&readme, command),
            run.stdout,
            "the guide differs from `{command}`: paste its output between the markers"
        );
    }
    let reasons = lab::run(&["explain", "--markdown"]).await.stdout;
    for reason in int_check::reasons::Reason::ALL {
        assert!(reasons.contains(&format!("| `{}` |", reason.code())));
    }
    // --help and the manual page carry the same exit-code table.
    let help = lab::run(&["--help"]).await.stdout;
    assert!(help.contains(&int_check::exit::help_text()), "{help}");
}

/// Run settings kept in a `[run]` table of a --config file; the flag or its environment
/// variable wins over the file.
#[tokio::test(flavor = "multi_thread")]
async fn run_settings_come_from_the_config_file_and_flags_win() {
    let lab = Lab::start().await;
    // Nothing listens: each endpoint fails at TCP, quickly and the same way every time.
    let port = closed_port(lo(1)).await;
    lab.dns.point("gone.int.test", &[lo(1)]);
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new(
            "gone",
            format!("https://gone.int.test:{port}/"),
        )],
        "",
    );
    let config = lab.write(
        "ci.toml",
        "[run]\nformat = \"junit\"\ntimeout = \"750ms\"\nretries = 2\nconcurrency = 3\n",
    );
    let (profile, config) = (p(&profile), p(&config));
    let from_file = run(&["--profile", profile, "--config", config]).await;
    assert_eq!(from_file.code, 1, "{}", from_file.stderr);
    assert!(
        from_file.stdout.starts_with("<?xml"),
        "{}",
        from_file.stdout
    );
    // retries = 2 from the file: the refused connection was tried three times.
    assert!(from_file.stdout.contains("tcp.refused"));

    let flag = run(&["--profile", profile, "--config", config, "--format", "json"]).await;
    let tcp = flag.check("gone", "tcp");
    assert_eq!(tcp["details"]["attempts"], 3, "{tcp:#}");

    let mut cmd = binary();
    cmd.env("INT_CHECK_FORMAT", "json");
    let env = run_with(cmd, &["--profile", profile, "--config", config]).await;
    assert!(env.stdout.trim_start().starts_with('{'), "{}", env.stdout);

    // --dry-run shows the layered timeout.
    let plan = run(&["--profile", profile, "--config", config, "--dry-run"]).await;
    assert!(
        plan.stdout.contains("timeout 750ms per phase"),
        "{}",
        plan.stdout
    );

    // Out-of-range values in a file are configuration errors, named with the file.
    let bad = lab.write("bad.toml", "[run]\nretries = 9\n");
    let run = run(&["--profile", profile, "--config", p(&bad)]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("bad.toml") && run.stderr.contains("retries"),
        "{}",
        run.stderr
    );
    let bad = lab.write("bad2.toml", "[run]\ntimeout = \"soon\"\n");
    let run = lab::run(&["--profile", profile, "--config", p(&bad)]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("bad2.toml:2"), "{}", run.stderr);
}

/// The built-in profiles follow what NHS's own clients use (../shared/nhs-int-facts.md).
#[tokio::test(flavor = "multi_thread")]
async fn builtin_profiles_follow_what_nhs_clients_use() {
    for (profile, api_host) in [
        ("int", "int.api.service.nhs.uk"),
        ("dep", "dep.api.service.nhs.uk"),
    ] {
        let plan = run(&["--profile", profile, "--dry-run", "--format", "json"]).await;
        assert_eq!(plan.code, 0, "{}", plan.stderr);
        let doc = plan.json();
        let endpoints = doc["endpoints"].as_array().unwrap();
        let named = |name: &str| {
            endpoints
                .iter()
                .find(|e| e["name"] == name)
                .unwrap_or_else(|| panic!("{profile}: no {name}"))
                .clone()
        };
        // SDS over LDAPS is mutual TLS.
        assert_eq!(named("sds-ldaps")["mtls"], true, "{profile}");
        // The API platform is judged against the public web roots, everything else the G2 pair.
        let ping = named("sds-fhir-ping");
        assert!(ping["url"].as_str().unwrap().contains(api_host));
        assert!(ping["trust"].as_str().unwrap().contains("public web roots"));
        assert_eq!(ping["service"], "api-platform");
        for e in endpoints.iter().filter(|e| {
            !e["url"].as_str().unwrap().contains("api.service.nhs.uk")
                && !e["url"].as_str().unwrap().contains("cis2")
        }) {
            assert!(e["trust"].is_null(), "{profile}: {e:#}");
        }
    }
    let plan = run(&["--profile", "int", "--dry-run", "--format", "json"])
        .await
        .json();
    let names: Vec<&str> = plan["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for name in [
        "spine-health-internet",
        "spine-health-hscn",
        "spine-sync-internet",
        "cis2-discovery",
        "oauth-token",
        "ers-api",
    ] {
        assert!(names.contains(&name), "int: no {name} in {names:?}");
    }
    let shown = run(&["profiles", "show", "int"]).await.stdout;
    assert!(
        shown.contains("name = \"ers-api\"") && shown.contains("method = \"HEAD\""),
        "{shown}"
    );
    assert!(shown.contains("expect_json = { issuer = \"https://am.nhsint.auth-ptl.cis2.spineservices.nhs.uk/openam/oauth2/realms/root/realms/NHSIdentity/realms/Healthcare\" }"));
}

/// Settings as CI jobs write them: yes/no values in any usual spelling, a bad value named by its
/// variable, and a job-wide INT_CHECK_FORMAT that only the commands writing it take.
#[tokio::test(flavor = "multi_thread")]
async fn environment_settings_as_ci_writes_them() {
    let with = |var: &str, value: &str| {
        let mut cmd = binary();
        cmd.env(var, value);
        cmd
    };
    for yes_or_no in ["1", "0", "true", "false", "yes", "no", "on", "off", "YES"] {
        let run = run_with(with("INT_CHECK_STRICT", yes_or_no), &["--dry-run"]).await;
        assert_eq!(run.code, 0, "INT_CHECK_STRICT={yes_or_no}: {}", run.stderr);
    }
    let run = run_with(with("INT_CHECK_STRICT", "maybe"), &["--dry-run"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("the environment variable INT_CHECK_STRICT=maybe")
            && run
                .stderr
                .contains("1 or 0, true or false, yes or no, on or off"),
        "{}",
        run.stderr
    );
    let run = run_with(with("INT_CHECK_FORMAT", "xml"), &["--dry-run"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("INT_CHECK_FORMAT=xml") && run.stderr.contains("possible values"),
        "{}",
        run.stderr
    );
    // A flag the user typed is named as the flag.
    let run = run_with(binary(), &["--dry-run", "--format", "xml"]).await;
    assert!(run.stderr.contains("'--format <FORMAT>'"), "{}", run.stderr);

    // INT_CHECK_FORMAT=junit is for `check`; other commands write their default.
    for args in [
        &["windows"][..],
        &["certs", "show"],
        &["explain", "tls.expired"],
        &["profiles"],
    ] {
        let run = run_with(with("INT_CHECK_FORMAT", "junit"), args).await;
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    }
    // ... and take it when they write it.
    let run = run_with(with("INT_CHECK_FORMAT", "json"), &["windows"]).await;
    assert!(run.stdout.trim_start().starts_with('{'), "{}", run.stdout);
}

/// Issue 26: `allow_loopback` has a flag and a variable, not only a file key: a name that
/// resolves to loopback is a sinkhole unless one of them says it is on purpose.
#[tokio::test(flavor = "multi_thread")]
async fn allow_loopback_can_be_set_by_flag_and_variable() {
    let lab = Lab::start().await;
    let addr = lab.serve("msg.int.test", lo(1), |_| {}).await;
    let written = lab.profile(
        "loop.toml",
        &[EndpointSpec::new(
            "svc",
            format!("https://msg.int.test:{}/", addr.port()),
        )],
        "",
    );
    let text = std::fs::read_to_string(&written)
        .unwrap()
        .replace("allow_loopback = true\n", "");
    std::fs::write(&written, text).unwrap();
    let args = [
        "--profile",
        p(&written),
        "--only",
        "dns",
        "--format",
        "json",
    ];
    let refused = run(&args).await;
    assert_eq!(
        status(&refused.check("svc", "dns")),
        ("fail", "dns.sinkhole")
    );
    let mut flagged = args.to_vec();
    flagged.push("--allow-loopback");
    let by_flag = run(&flagged).await;
    assert_eq!(status(&by_flag.check("svc", "dns")), ("pass", ""));
    let mut cmd = binary();
    cmd.env("INT_CHECK_ALLOW_LOOPBACK", "yes");
    let by_variable = run_with(cmd, &args).await;
    assert_eq!(status(&by_variable.check("svc", "dns")), ("pass", ""));
}

/// Issue 26: a bad value in a non-boolean `INT_CHECK_*` variable gets the reason the flag would
/// give, not the yes/no explanation (which stays for yes/no variables).
#[tokio::test(flavor = "multi_thread")]
async fn bad_variables_get_the_flags_reason() {
    for (variable, value, words) in [
        ("INT_CHECK_TIMEOUT", "banana", "`banana` is not a duration"),
        ("INT_CHECK_RETRIES", "9", "9 is not in 0..=5"),
        ("INT_CHECK_CONCURRENCY", "0", "0 is not in 1..=65535"),
        ("INT_CHECK_AT", "tomorrow", "is not an RFC 3339 instant"),
        ("INT_CHECK_STRICT", "maybe", "[yes/no values:"),
    ] {
        let mut cmd = binary();
        cmd.env(variable, value);
        let run = run_with(cmd, &["--dry-run"]).await;
        assert_eq!(run.code, 2, "{variable}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{variable}={value}")) && run.stderr.contains(words),
            "{variable}: {}",
            run.stderr
        );
        if variable != "INT_CHECK_STRICT" {
            assert!(!run.stderr.contains("yes/no"), "{}", run.stderr);
        }
    }
}

/// Issue 26: `sds --fqdn NAME` alone says why a key is needed and how to find records by FQDN.
#[tokio::test(flavor = "multi_thread")]
async fn sds_by_fqdn_alone_says_how() {
    let alone = run(&["sds", "--fqdn", "mhs.supplier.nhs.uk"]).await;
    assert_eq!(alone.code, 2);
    assert!(
        alone.stderr.contains("the directory cannot search by FQDN")
            && alone
                .stderr
                .contains("int-check sds --ods CODE --fqdn NAME"),
        "{}",
        alone.stderr
    );
    let bare = run(&["sds"]).await;
    assert_eq!(bare.code, 2);
    assert!(
        bare.stderr
            .contains("--party-key PK, --asid ASID, --ods CODE or --mine")
    );
}
