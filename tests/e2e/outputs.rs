//! Issue 5: every output format (golden files on a fixed report, schema and promtool checks on
//! real runs), report files, selection, run control, and the command line itself.

use int_check_lab as lab;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use int_check::findings::{ChainCert, Check, CheckKind, EndpointHeading, Report};
use int_check::maintenance::{Maintenance, WindowState};
use int_check::reasons::Reason;
use int_check::report::{self, Format};
use lab::*;
use serde_json::json;

/// A fixed report: every status, timings and dates pinned, so output is byte-for-byte stable.
fn fixed_report() -> Report {
    let addr: SocketAddr = "10.239.1.2:443".parse().unwrap();
    let ms = Duration::from_millis;
    let chain = vec![ChainCert {
        subject: "CN=msg.int.spine2.ncrs.nhs.uk".into(),
        issuer: "C=GB, O=nhs, OU=CA, CN=NHS INT Authentication G2".into(),
        not_before: "2026-01-01T00:00:00Z".into(),
        not_after: "2027-01-01T00:00:00Z".into(),
        sha256: "AA:BB".into(),
    }];
    let checks = vec![
        Check::new(
            "spine-reliable",
            CheckKind::Dns,
            "msg.int.spine2.ncrs.nhs.uk",
        )
        .took(ms(12))
        .pass("10.239.1.2 via 155.231.231.1"),
        Check::new(
            "spine-reliable",
            CheckKind::Tcp,
            "msg.int.spine2.ncrs.nhs.uk:443",
        )
        .at(addr)
        .took(ms(3))
        .pass("connected to 10.239.1.2:443"),
        Check::new(
            "spine-reliable",
            CheckKind::Tls,
            "msg.int.spine2.ncrs.nhs.uk:443",
        )
        .at(addr)
        .took(ms(41))
        .with_detail(|d| d.tls().chain = Some(chain.into()))
        .warn(
            Reason::TlsMissingIntermediate,
            "the server did not send 'NHS INT Authentication G2'; TLS 1.2",
        ),
        Check::new(
            "spine-reliable",
            CheckKind::Http,
            "msg.int.spine2.ncrs.nhs.uk:443",
        )
        .at(addr)
        .took(ms(80))
        .pass("405 Method Not Allowed in 80ms"),
        Check::new(
            "sds-ldaps",
            CheckKind::Dns,
            "ldap.nis1.national.ncrs.nhs.uk",
        )
        .took(ms(5000))
        .fail(Reason::DnsTimeout, "155.231.231.1 did not answer within 5s"),
        Check::new(
            "sds-ldaps",
            CheckKind::Tcp,
            "ldap.nis1.national.ncrs.nhs.uk:636",
        )
        .skip("not run: DNS lookup of ldap.nis1.national.ncrs.nhs.uk failed"),
    ];
    let windows = vec![Maintenance {
        service: "spine-core".into(),
        weekly: vec!["Mon 20:00-Tue 06:00".to_string().try_into().unwrap()],
    }];
    Report {
        tool_version: "0.1.0",
        profile: "int".into(),
        description: "NHS Spine INT (Path to Live)".into(),
        started_at: "2026-11-25T12:00:00Z".parse().unwrap(),
        duration: Duration::from_millis(5012),
        endpoints: vec![
            EndpointHeading {
                name: "spine-reliable".into(),
                url: "https://msg.int.spine2.ncrs.nhs.uk/reliablemessaging/reliablerequest".into(),
                network: Some(int_check::profile::Network::Hscn),
                origin: Some(int_check::profile::Origin::Profile),
            },
            EndpointHeading {
                name: "sds-ldaps".into(),
                url: "ldaps://ldap.nis1.national.ncrs.nhs.uk:636".into(),
                network: Some(int_check::profile::Network::Hscn),
                origin: Some(int_check::profile::Origin::Profile),
            },
        ],
        checks,
        maintenance: WindowState::at(&windows, "2026-11-25T12:00:00Z".parse().unwrap()),
        strict: false,
    }
}

#[test]
fn golden_outputs_for_every_format() {
    let report = fixed_report();
    for format in [
        Format::Human,
        Format::Json,
        Format::Junit,
        Format::Markdown,
        Format::Prometheus,
        Format::Html,
    ] {
        let text = report::render(&report, format, &report::human::Style::plain());
        if format == Format::Json {
            validate_document(&serde_json::from_str(&text).unwrap());
        }
        insta::assert_snapshot!(format!("report_{}", format.name()), text);
    }
    let quiet = report::human::Style {
        color: false,
        quiet: true,
    };
    insta::assert_snapshot!("report_human_quiet", report::human::render(&report, &quiet));
}

/// A lab with one healthy endpoint, one with a warning and one failing.
async fn mixed_lab() -> (Lab, std::path::PathBuf) {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec::server("msg.int.test"));
    let good = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &leaf)).await;
    let mut partial =
        TlsServerSpec::new(&lab.pki, &lab.pki.leaf(&LeafSpec::server("mesh.int.test")));
    partial.chain.truncate(1);
    let warn = tls_server(lo(2), partial).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    lab.dns.point("mesh.int.test", &[lo(2)]);
    lab.dns.set("gone.int.test", DnsAnswer::NxDomain);
    let profile = lab.profile(
        "p.toml",
        &[
            EndpointSpec::new(
                "spine-reliable",
                format!("https://msg.int.test:{}/reliable", good.port()),
            )
            .with("service = \"spine-core\""),
            EndpointSpec::new(
                "mesh",
                format!("https://mesh.int.test:{}/_ping", warn.port()),
            )
            .with("service = \"mesh\""),
            EndpointSpec::new("gone", "https://gone.int.test/").with("service = \"spine-cis\""),
        ],
        "",
    );
    (lab, profile)
}

#[tokio::test(flavor = "multi_thread")]
async fn junit_from_a_real_run_validates_against_the_schema() {
    lab::needs!(Xmllint);
    let (lab, profile) = mixed_lab().await;
    let run = lab::run(&["--profile", p(&profile), "--format", "junit"]).await;
    assert_eq!(run.code, 1);
    let file = lab.write("report.xml", &run.stdout);
    let xmllint = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/junit.xsd")])
        .arg(&file)
        .output()
        .expect("xmllint is needed for the JUnit schema test: apt-get install -y libxml2-utils (.ci/run does this)");
    assert!(
        xmllint.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&xmllint.stderr),
        run.stdout
    );
    assert!(
        run.stdout.contains("<testsuite name=\"gone\"")
            && run.stdout.contains("type=\"dns.nxdomain\"")
    );
    assert!(
        run.stdout.contains("WARN [tls.missing_intermediate]"),
        "warnings pass with system-out"
    );
    assert!(run.stdout.contains("<skipped "), "skips are skipped");
}

/// The HTML page from a real run parses cleanly with libxml2's HTML parser, shows every
/// endpoint and check, and escapes what a profile or server could put in it.
#[tokio::test(flavor = "multi_thread")]
async fn html_from_a_real_run_is_well_formed_and_escaped() {
    lab::needs!(Xmllint);
    let (lab, _) = mixed_lab().await;
    let addr = lab.serve("msg.int.test", lo(3), |_| {}).await;
    let profile = lab.profile(
        "html.toml",
        &[
            EndpointSpec::new("<script>alert(1)</script>", "https://gone.int.test/"),
            EndpointSpec::new(
                "ok & fine",
                format!("https://msg.int.test:{}/", addr.port()),
            ),
        ],
        "",
    );
    let page = lab.path("report.html");
    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "html",
        "--report",
        &format!("html={}", p(&page)),
    ])
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&page).unwrap(), run.stdout);
    let xmllint = std::process::Command::new("xmllint")
        .args(["--html", "--noout"])
        .arg(&page)
        .output()
        .expect("xmllint is needed: apt-get install -y libxml2-utils (.ci/run does this)");
    assert!(
        xmllint.status.success() && xmllint.stderr.is_empty(),
        "{}\n{}",
        String::from_utf8_lossy(&xmllint.stderr),
        run.stdout
    );
    assert!(!run.stdout.contains("<script>"));
    assert!(run.stdout.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(run.stdout.contains("ok &amp; fine"));
    assert!(run.stdout.contains("[dns.nxdomain]") && run.stdout.contains("What to do:"));
    assert_eq!(run.stdout.matches("<h2>").count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_from_a_real_run_passes_promtool() {
    lab::needs!(Promtool);
    let (_lab, profile) = mixed_lab().await;
    let run = lab::run(&["--profile", p(&profile), "--format", "prometheus"]).await;
    assert_eq!(run.code, 1);
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is needed for the Prometheus test: apt-get install -y prometheus (.ci/run does this)");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(run.stdout.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}\n{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr),
        run.stdout
    );
    assert!(run.stdout.contains("int_check_up{endpoint=\"gone\",kind=\"dns\",target=\"gone.int.test\",address=\"\",search=\"\"} 0"));
    assert!(run.stdout.contains(
        "int_check_cert_not_after_seconds{endpoint=\"spine-reliable\",subject=\"CN=msg.int.test\"}"
    ));
    assert!(run.stdout.contains("int_check_last_run_timestamp_seconds "));
}

#[tokio::test(flavor = "multi_thread")]
async fn one_run_writes_several_report_files() {
    let (lab, profile) = mixed_lab().await;
    let (junit, json, md) = (lab.path("r.xml"), lab.path("r.json"), lab.path("r.md"));
    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--report",
        &format!("junit={}", p(&junit)),
        "--report",
        &format!("json={}", p(&json)),
        "--report",
        &format!("markdown={}", p(&md)),
    ])
    .await;
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("FAIL  dns"),
        "the human report still goes to stdout"
    );
    let parsed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    validate_document(&parsed);
    assert_eq!(parsed["summary"]["fail"], 1);
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .starts_with("<?xml")
    );
    let markdown = std::fs::read_to_string(&md).unwrap();
    assert!(markdown.contains("### Failures and warnings") && markdown.contains("<details>"));
    assert!(!markdown.contains("\x1b["));

    let bad = lab::run(&["--profile", p(&profile), "--report", "yaml=out.yaml"]).await;
    assert_eq!(bad.code, 2);
    let unwritable = lab::run(&[
        "--profile",
        p(&profile),
        "--report",
        "json=/proc/int-check/r.json",
    ])
    .await;
    assert_eq!(unwritable.code, 2);
    assert!(
        unwritable.stderr.contains("cannot write the json report"),
        "{}",
        unwritable.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_and_quiet() {
    let lab = Lab::start().await;
    let mut spec = TlsServerSpec::new(&lab.pki, &lab.pki.leaf(&LeafSpec::server("mesh.int.test")));
    spec.chain.truncate(1);
    let addr = tls_server(lo(1), spec).await;
    lab.dns.point("mesh.int.test", &[lo(1)]);
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new(
            "mesh",
            format!("https://mesh.int.test:{}/", addr.port()),
        )],
        "",
    );
    assert_eq!(lab::run(&["--profile", p(&profile)]).await.code, 0);
    assert_eq!(
        lab::run(&["--profile", p(&profile), "--strict"]).await.code,
        1
    );
    // Issue 26: the warning that failed the run is shown, and every format says strict mode
    // decided it (JUnit counts it a failure).
    let junit = lab.path("strict.xml");
    let strict_quiet = lab::run(&[
        "--profile",
        p(&profile),
        "--strict",
        "-q",
        "--report",
        &format!("junit={}", p(&junit)),
    ])
    .await;
    assert_eq!(strict_quiet.code, 1);
    assert!(
        strict_quiet.stdout.contains("WARN  tls")
            && strict_quiet
                .stdout
                .trim_end()
                .ends_with("--strict: the warnings fail the run"),
        "{}",
        strict_quiet.stdout
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"1\""), "{xml}");
    let json = lab::run(&["--profile", p(&profile), "--strict", "--format", "json"]).await;
    assert_eq!(json.json()["strict"], true);

    let (lab2, mixed) = mixed_lab().await;
    let quiet = lab::run(&["--profile", p(&mixed), "-q"]).await;
    assert!(
        quiet.stdout.contains("FAIL  dns")
            && !quiet.stdout.contains("PASS")
            && !quiet.stdout.contains("WARN"),
        "{}",
        quiet.stdout
    );
    assert!(
        !quiet.stdout.contains("spine-reliable"),
        "endpoints without failures are left out"
    );
    drop(lab2);
}

#[tokio::test(flavor = "multi_thread")]
async fn selection_by_endpoint_service_and_phase() {
    let (lab, profile) = mixed_lab().await;
    let endpoints = |run: &Run| -> Vec<String> {
        run.json()["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    };
    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--endpoint",
        "spine-*",
    ])
    .await;
    assert_eq!(endpoints(&run), ["spine-reliable"]);
    assert_eq!(run.code, 0);
    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--service",
        "spine-cis",
        "--service",
        "mesh",
    ])
    .await;
    assert_eq!(endpoints(&run), ["mesh", "gone"]);
    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--only",
        "tcp",
    ])
    .await;
    let kinds: std::collections::BTreeSet<String> = run.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["dns", "tcp"]);
    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--skip",
        "http",
        "--endpoint",
        "spine-reliable",
    ])
    .await;
    assert!(run.checks("spine-reliable", "http").is_empty());
    assert_eq!(run.checks("spine-reliable", "tls").len(), 1);
    let (cert, key) = lab.client_identity(&lab.pki, "x.supplier.thirdparty.nhs.uk");
    let local = lab::run(&[
        "--profile",
        p(&profile),
        "--only",
        "identity",
        "--format",
        "json",
        "--client-cert",
        p(&cert),
        "--client-key",
        p(&key),
        "--ca-file",
        p(&lab.root_file),
        "--ca-file",
        p(&lab.subca_file),
    ])
    .await;
    assert_eq!(local.code, 0, "{}", local.stdout);
    let kinds: Vec<String> = local.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !kinds.is_empty() && kinds.iter().all(|k| k == "identity"),
        "{kinds:?}"
    );
    let identity_only = lab::run(&["--profile", p(&profile), "--only", "identity"]).await;
    assert_eq!(
        identity_only.code, 2,
        "nothing to check is a usage error: {}",
        identity_only.stdout
    );
    assert!(
        identity_only
            .stderr
            .contains("no client identity is configured")
    );
    let none = lab::run(&["--profile", p(&profile), "--endpoint", "nothing-*"]).await;
    assert_eq!(none.code, 2);
    assert!(
        none.stderr.contains("spine-reliable, mesh, gone"),
        "{}",
        none.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deadline_ends_the_run_and_keeps_finished_results() {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec::server("msg.int.test"));
    let good = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &leaf)).await;
    let hole = silent_server(lo(2)).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    lab.dns.point("hole.int.test", &[lo(2)]);
    let profile = lab.profile(
        "p.toml",
        &[
            EndpointSpec::new("good", format!("https://msg.int.test:{}/", good.port())),
            EndpointSpec::new("hole", format!("https://hole.int.test:{}/", hole.port())),
        ],
        "",
    );
    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--timeout",
        "10s",
        "--deadline",
        "1s",
    ])
    .await;
    // The deadline (1 s) ends the run, long before the phases' 10 s timeout.
    let took = run.run_took();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(run.code, 1);
    assert_eq!(run.check("good", "http")["status"], "pass");
    assert_eq!(
        run.check("hole", "tcp")["status"],
        "pass",
        "finished phases are kept"
    );
    let tls = run.check("hole", "tls");
    assert_eq!(
        (
            tls["status"].as_str().unwrap(),
            tls["reason"].as_str().unwrap()
        ),
        ("fail", "run.deadline")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_turn_a_transient_dns_failure_into_a_warning() {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec::server("msg.int.test"));
    let addr = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &leaf)).await;
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new(
            "svc",
            format!("https://msg.int.test:{}/", addr.port()),
        )],
        "",
    );

    lab.dns
        .set("msg.int.test", DnsAnswer::FlakyThen(vec![lo(1)]));
    let run = lab::run(&["--profile", p(&profile), "--format", "json", "-vv"]).await;
    assert_eq!(
        run.code, 1,
        "without retries the first failure stands: {}",
        run.stderr
    );
    assert_eq!(run.check("svc", "dns")["reason"], "dns.servfail");

    lab.dns
        .set("msg.int.test", DnsAnswer::FlakyThen(vec![lo(1)]));
    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--retries",
        "2",
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let dns = run.check("svc", "dns");
    assert_eq!(
        (
            dns["status"].as_str().unwrap(),
            dns["reason"].as_str().unwrap()
        ),
        ("warn", "dns.retried")
    );
    assert_eq!(dns["details"]["attempts"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_plan_without_network() {
    let lab = Lab::start().await;
    // DNS points at a port nobody answers: a dry run must not notice.
    let profile = lab.write(
        "p.toml",
        &format!("name = \"lab\"\n[dns]\nservers = [\"127.0.0.1:{}\"]\n[[endpoint]]\nname = \"svc\"\nurl = \"https://msg.int.test/\"\nmtls = true\n", closed_port(lo(1)).await),
    );
    let run = lab::run(&["--profile", p(&profile), "--dry-run", "--timeout", "30s"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Nothing waited on the dead resolver (its timeout is 30 s).
    assert!(
        run.elapsed < Duration::from_secs(15),
        "took {:?}",
        run.elapsed
    );
    assert!(
        run.stdout
            .contains("svc  dns > tcp > tls > http mtls  https://msg.int.test/"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("built-in NHS PTL Root Authority G2"));
    let json = lab::run(&["--profile", p(&profile), "--dry-run", "--format", "json"])
        .await
        .json();
    assert_eq!(json["schema"], "int-check.plan.v1");
    assert_eq!(json["hosts"][0], "msg.int.test");
    assert_eq!(
        json["endpoints"][0]["phases"],
        json!(["dns", "tcp", "tls", "http"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_pipe_is_not_a_panic_and_progress_stays_off_a_pipe() {
    let (_lab, profile) = mixed_lab().await;
    let mut child = binary()
        .args(["--profile", p(&profile)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone, like `int-check | head -1`.
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(first.starts_with("int-check "), "{first}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        matches!(output.status.code(), Some(0..=1)),
        "{:?} {stderr}",
        output.status
    );

    let run = lab::run(&["--profile", p(&profile)]).await;
    assert!(
        !run.stderr.contains("checking endpoints"),
        "no progress when stdout is a pipe: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn completions_and_manual() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = lab::run(&["completions", shell]).await;
        assert_eq!(run.code, 0);
        assert!(
            run.stdout.contains("int-check") && run.stdout.contains("--profile"),
            "{shell}"
        );
    }
    let man = lab::run(&["man"]).await;
    assert_eq!(man.code, 0);
    assert!(man.stdout.contains(".TH int-check") && man.stdout.contains("Exit codes"));
}

#[tokio::test(flavor = "multi_thread")]
async fn help_text_is_snapshotted() {
    for args in [
        vec!["--help"],
        vec!["check", "--help"],
        vec!["sds", "--help"],
        vec!["certs", "--help"],
    ] {
        let run = lab::run(&args).await;
        assert_eq!(run.code, 0);
        insta::assert_snapshot!(
            format!("help_{}", args.join("_").replace("--", "")),
            run.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrency_bounds_how_many_endpoints_run_at_once() {
    let lab = Lab::start().await;
    let mut endpoints = Vec::new();
    for i in 0..2u8 {
        let hole = silent_server(lo(10 + i)).await;
        let host = format!("hole{i}.int.test");
        lab.dns.point(&host, &[hole.ip()]);
        endpoints.push(EndpointSpec::new(
            &format!("hole-{i}"),
            format!("https://{host}:{}/", hole.port()),
        ));
    }
    let profile = lab.profile("p.toml", &endpoints, "");
    let together = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--timeout",
        "1s",
    ])
    .await;
    // Both silent endpoints waited at the same time: one timeout (1 s), not two.
    let took = together.run_took();
    assert!(took < Duration::from_millis(1900), "took {took:?}");
    let one_by_one = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--timeout",
        "1s",
        "--concurrency",
        "1",
    ])
    .await;
    assert!(
        one_by_one.elapsed.as_secs_f64() >= 2.0,
        "took {:?}",
        one_by_one.elapsed
    );
    assert_eq!(one_by_one.json()["summary"]["fail"], 2);
    let zero = lab::run(&["--profile", p(&profile), "--concurrency", "0"]).await;
    assert_eq!(zero.code, 2);
}

/// No lost results: report folders are created, an unwritable report path stops the run before
/// any probe, and a report that fails to write (a full disk) costs only itself: stdout and the
/// other reports are written, and the exit code is 2 with the path, never 3.
#[tokio::test(flavor = "multi_thread")]
async fn reports_are_never_lost_to_an_output_error() {
    let lab = Lab::start().await;
    let addr = lab.serve("msg.int.test", lo(1), |_| {}).await;
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new(
            "svc",
            format!("https://msg.int.test:{}/", addr.port()),
        )],
        "",
    );
    let nested = lab.path("a/b/c/report.xml");
    let junit = format!("junit={}", p(&nested));
    let made = run(&["--profile", p(&profile), "--report", &junit]).await;
    assert_eq!(made.code, 0, "{}", made.stderr);
    assert!(
        std::fs::read_to_string(&nested)
            .unwrap()
            .contains("<testsuites")
    );

    let refused = run(&[
        "--profile",
        p(&profile),
        "--report",
        "json=/proc/int-check/report.json",
    ])
    .await;
    assert_eq!(refused.code, 2);
    assert!(
        refused
            .stderr
            .contains("cannot write the json report to /proc/int-check/report.json"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stdout.is_empty(),
        "no probe ran: {}",
        refused.stdout
    );
    // A run refused for another reason leaves no report file (nor its folder) behind.
    let unused = lab.path("unused/report.json");
    let usage = run(&[
        "--profile",
        p(&profile),
        "--only",
        "identity",
        "--report",
        &format!("json={}", p(&unused)),
    ])
    .await;
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    assert!(!unused.exists() && !unused.parent().unwrap().exists());

    let markdown = lab.path("summary.md");
    let md = format!("markdown={}", p(&markdown));
    let full = run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--report",
        "junit=/dev/full",
        "--report",
        &md,
    ])
    .await;
    assert_eq!(full.code, 2, "{}", full.stderr);
    assert!(
        full.stderr
            .contains("could not write the junit report to /dev/full"),
        "{}",
        full.stderr
    );
    assert!(std::fs::read_to_string(&markdown).unwrap().contains("svc"));
    assert_eq!(full.json()["summary"]["fail"], 0);

    // stdout itself on a full disk: exit 2, never 3.
    let mut cmd = binary();
    cmd.args(["--profile", p(&profile)])
        .stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .stderr(std::process::Stdio::piped());
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot write the report to stdout"),
        "{stderr}"
    );
}

/// One cause behind many endpoints is said once, with its hint and the endpoints by where it
/// struck (they are not listed one by one); the summary line names the top causes, with -q too.
#[tokio::test(flavor = "multi_thread")]
async fn one_cause_behind_many_endpoints_is_said_once() {
    let lab = Lab::start().await;
    let endpoints: Vec<EndpointSpec> = (0..4)
        .map(|i| EndpointSpec::new(&format!("svc{i}"), format!("https://gone{i}.int.test/")))
        .collect();
    let profile = lab.profile("p.toml", &endpoints, "");
    for quiet in [false, true] {
        let mut args = vec!["--profile", p(&profile)];
        if quiet {
            args.push("-q");
        }
        let run = run(&args).await;
        assert_eq!(run.code, 1);
        assert!(
            run.stdout.contains(
                "4 endpoints  dns.nxdomain  The DNS server says the name does not exist."
            ),
            "{}",
            run.stdout
        );
        // Said once, under the cause, by where it struck; not endpoint by endpoint above.
        for i in 0..4 {
            assert!(
                run.stdout
                    .contains(&format!("        gone{i}.int.test: svc{i}\n")),
                "{}",
                run.stdout
            );
            assert!(
                !run.stdout.contains(&format!("svc{i}  https://")),
                "{}",
                run.stdout
            );
        }
        assert_eq!(run.stdout.matches("hint:").count(), 1, "{}", run.stdout);
        let last = run
            .stdout
            .lines()
            .rev()
            .find(|l| l.contains("failed"))
            .unwrap();
        assert!(last.ends_with("top causes: dns.nxdomain (4)"), "{last}");
    }
    // Markdown and HTML write the shared cause's hint once too, and point the rows to it.
    let hint = int_check::reasons::Reason::DnsNxdomain.hint();
    let first_words = &hint[..40];
    for format in ["markdown", "html"] {
        let run = run(&["--profile", p(&profile), "--format", format]).await;
        let said = run
            .stdout
            .matches(&first_words.replace('\'', if format == "html" { "&#39;" } else { "\\'" }))
            .count()
            .max(run.stdout.matches(first_words).count());
        assert_eq!(said, 1, "{format}: the hint {said} times\n{}", run.stdout);
        assert!(
            run.stdout.contains("see Causes above") || run.stdout.contains("#cause-dns.nxdomain"),
            "{format}: {}",
            run.stdout
        );
    }
}

/// `-v` logs each phase's start and end (target, address, verdict, time); `-vv` adds the
/// protocol detail; neither ever logs key material.
#[tokio::test(flavor = "multi_thread")]
async fn verbose_logs_phases_and_protocol_detail_never_keys() {
    let lab = Lab::start().await;
    let addr = lab
        .serve("msg.int.test", lo(1), |s| {
            s.client_auth = ClientAuth::Optional(lab.pki.root.cert.clone());
        })
        .await;
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new(
            "svc",
            format!("https://msg.int.test:{}/", addr.port()),
        )],
        "",
    );
    let (cert, key) = lab.client_identity(&lab.pki, "a.supplier.int.test");
    let key_text = std::fs::read_to_string(&key).unwrap();
    let key_line = key_text.lines().nth(1).unwrap().to_string();
    let base = [
        "--profile",
        p(&profile),
        "--client-cert",
        p(&cert),
        "--client-key",
        p(&key),
    ];
    let v = run(&[&base[..], &["-v"]].concat()).await;
    assert_eq!(v.code, 0, "{}", v.stderr);
    for phase in ["dns", "tcp", "tls", "http"] {
        assert!(
            v.stderr.contains(&format!("{phase}: done endpoint=svc")),
            "{phase}: {}",
            v.stderr
        );
    }
    assert!(
        v.stderr
            .contains("tls: start endpoint=svc address=127.0.0.1:"),
        "{}",
        v.stderr
    );
    assert!(!v.stderr.contains("details="));
    let vv = run(&[&base[..], &["-vv"]].concat()).await;
    assert!(
        vv.stderr.contains("tls: details endpoint=svc details={")
            && vv.stderr.contains("\"protocol\":\"TLS 1.3\""),
        "{}",
        vv.stderr
    );
    assert!(vv.stderr.contains("\"status\":200"), "{}", vv.stderr);
    for log in [&v.stderr, &vv.stderr] {
        assert!(
            !log.contains(&key_line) && !log.contains("PRIVATE KEY"),
            "key material in the log"
        );
    }
}

/// `man --out DIR` writes a page for every command, so every page the manual refers to exists;
/// `help CMD` and the command's page say the same.
#[tokio::test(flavor = "multi_thread")]
async fn every_manual_page_referred_to_exists() {
    let dir = tempfile::tempdir().unwrap();
    let made = run(&["man", "--out", p(dir.path())]).await;
    assert_eq!(made.code, 0, "{}", made.stderr);
    let mut referred = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for (i, _) in text.match_indices("(1)") {
            let start = text[..i]
                .rfind(|c: char| c.is_whitespace())
                .map_or(0, |s| s + 1);
            let name = text[start..i].replace('\\', "");
            if name.starts_with("int-check") {
                referred.insert(name);
            }
        }
    }
    assert!(referred.contains("int-check-certs-verify"), "{referred:?}");
    for name in &referred {
        assert!(
            dir.path().join(format!("{name}.1")).exists(),
            "{name}(1) is referred to but missing"
        );
    }
    let help = run(&["help", "windows"]).await.stdout;
    let page = std::fs::read_to_string(dir.path().join("int-check-windows.1")).unwrap();
    let about = help.lines().next().unwrap();
    let first_words: String = about
        .split_whitespace()
        .take(4)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        page.replace("\\-", "-").contains(&first_words),
        "{about} / {page}"
    );
}

/// Issue 26: SIGINT or SIGTERM during a run that waits on a silent server ends it at once with
/// what finished written (stdout and --report), the waiting endpoint marked `run.interrupted`
/// with its phase, and the signal's exit code (130, 143).
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_run_still_reports() {
    let lab = Lab::start().await;
    let healthy = lab.serve("good.int.test", lo(1), |_| {}).await;
    let silent = silent_server(lo(2)).await;
    lab.dns.point("silent.int.test", &[lo(2)]);
    let profile = lab.profile(
        "interrupt.toml",
        &[
            EndpointSpec::new("good", format!("https://good.int.test:{}/", healthy.port())),
            EndpointSpec::new(
                "silent",
                format!("https://silent.int.test:{}/", silent.port()),
            ),
        ],
        "",
    );
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let report = lab.path(&format!("interrupted{code}.json"));
        let child = binary()
            .args([
                "--profile",
                p(&profile),
                "--timeout",
                "60s",
                "--format",
                "json",
                "--report",
                &format!("json={}", p(&report)),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Once the healthy endpoint is done, the silent one is waiting in its TLS phase.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let sent = std::time::Instant::now();
        assert!(
            std::process::Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
        let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "took {:?}",
            sent.elapsed()
        );
        assert_eq!(
            output.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        validate_document(&json);
        let checks = json["checks"].as_array().unwrap();
        assert!(
            checks
                .iter()
                .any(|c| c["endpoint"] == "good" && c["kind"] == "http" && c["status"] == "pass")
        );
        let waiting = checks
            .iter()
            .find(|c| c["reason"] == "run.interrupted")
            .unwrap_or_else(|| panic!("{json:#}"));
        assert_eq!(waiting["endpoint"], "silent");
        assert!(
            waiting["message"]
                .as_str()
                .unwrap()
                .contains("while the tls phase was waiting"),
            "{waiting:#}"
        );
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert_eq!(written["checks"], json["checks"]);
    }
}

/// Issue 26: the bash completion completes after a subcommand (clap-rs/clap#6421 worked
/// around), driven in a real bash the way the shell calls it.
#[tokio::test(flavor = "multi_thread")]
async fn bash_completion_completes_after_a_subcommand() {
    let script = run(&["completions", "bash"]).await;
    assert_eq!(script.code, 0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("int-check.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let complete = |words: &[&str]| {
        let line = words.join(" ");
        let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
        let driver = format!(
            "source {}\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE=\"{line}\"\nCOMP_POINT=${{#COMP_LINE}}\n_int__check int-check \"{}\" \"{}\"\necho \"${{COMPREPLY[*]}}\"\n",
            file.display(),
            quoted.join(" "),
            words.len() - 1,
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let output = std::process::Command::new("bash")
            .args(["--norc", "-c", &driver])
            .output()
            .expect("bash runs");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let certs = complete(&["int-check", "certs", ""]);
    for action in ["show", "export", "inspect", "judge", "verify"] {
        assert!(
            certs.split_whitespace().any(|w| w == action),
            "certs: {certs}"
        );
    }
    let serve = complete(&["int-check", "serve", "--mesh"]);
    assert!(serve.contains("--mesh-interval"), "serve: {serve}");
}

/// The fish completion, driven in a real fish (`complete -C` asks what a command line completes to).
#[tokio::test(flavor = "multi_thread")]
async fn fish_completion_completes_after_a_subcommand() {
    lab::needs!(Fish);
    let script = run(&["completions", "fish"]).await;
    assert_eq!(script.code, 0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("int-check.fish");
    std::fs::write(&file, &script.stdout).unwrap();
    let complete = |line: &str| {
        let output = std::process::Command::new("fish")
            .args(["--no-config", "-c"])
            .arg(format!("source {}; complete -C '{line}'", file.display()))
            .output()
            .expect("fish runs");
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        text.lines()
            .filter_map(|l| l.split('\t').next())
            .map(str::to_string)
            .collect::<Vec<String>>()
    };
    let certs = complete("int-check certs ");
    for action in ["show", "export", "inspect", "judge", "verify"] {
        assert!(certs.iter().any(|w| w == action), "certs: {certs:?}");
    }
    assert!(
        complete("int-check serve --mesh").contains(&"--mesh-interval".to_string()),
        "serve"
    );
}

/// The zsh completion, driven in a real interactive zsh under a pseudo-terminal (zpty): TAB is
/// typed after the command line, and every match the completion system adds is printed.
#[tokio::test(flavor = "multi_thread")]
async fn zsh_completion_completes_after_a_subcommand() {
    lab::needs!(Zsh);
    let script = run(&["completions", "zsh"]).await;
    assert_eq!(script.code, 0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("_int-check"), &script.stdout).unwrap();
    // Markers are printed from pieces, so the echo of the typed commands never matches them.
    let driver = dir.path().join("drive.zsh");
    std::fs::write(
        &driver,
        r#"zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT=''"
zpty -w z "fpath=($1 \$fpath)"
zpty -w z "autoload -U compinit && compinit -u -D"
zpty -w z 'compadd() { builtin compadd -O __hits "$@"; print -l -- "HI""T:"${^__hits[@]}; builtin compadd "$@"; }'
zpty -w z 'comppostfuncs=( _done_marker ); _done_marker() { print -- "EN""D-OF-MATCHES"; }'
zpty -w z "bindkey '^I' complete-word"
zpty -n -w z "$2"$'\t'
zpty -r z out '*END-OF-MATCHES*'
print -r -- "$out"
zpty -d z
"#,
    )
    .unwrap();
    let complete = |line: &str| {
        let output = std::process::Command::new("timeout")
            .arg("20")
            .arg("zsh")
            .arg("-f")
            .arg(&driver)
            .arg(dir.path())
            .arg(line)
            .output()
            .expect("zsh runs");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| l.trim_end_matches('\r').strip_prefix("HIT:"))
            .map(str::to_string)
            .collect::<Vec<String>>()
    };
    let certs = complete("int-check certs ");
    for action in ["show", "export", "inspect", "judge", "verify"] {
        assert!(certs.iter().any(|w| w == action), "certs: {certs:?}");
    }
    assert!(
        complete("int-check serve --mesh").contains(&"--mesh-interval".to_string()),
        "serve"
    );
}
