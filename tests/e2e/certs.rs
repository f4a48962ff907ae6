//! Issue 4 end to end: certs commands, client identity checks, maintenance windows, explain.

use int_check_lab as lab;

use std::os::unix::fs::PermissionsExt;

use lab::*;
use serde_json::Value;

/// `certs verify` against the lab anchors; returns the run.
async fn verify(lab: &Lab, cert: &std::path::Path, key: &std::path::Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "certs",
        "verify",
        "--ca-file",
        p(&lab.root_file),
        "--ca-file",
        p(&lab.subca_file),
        "--cert",
        p(cert),
        "--key",
        p(key),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    lab::run(&args).await
}

/// The identity check whose message contains `needle`.
fn finding(run: &Run, needle: &str) -> Value {
    run.checks("client-identity", "identity")
        .into_iter()
        .find(|c| {
            c["message"].as_str().unwrap().contains(needle)
                || c["reason"].as_str().unwrap_or("").contains(needle)
        })
        .unwrap_or_else(|| panic!("no identity finding about {needle}: {}", run.stdout))
}

#[tokio::test(flavor = "multi_thread")]
async fn good_ec_and_rsa_identities_pass_every_check() {
    let lab = Lab::start().await;
    for rsa in [false, true] {
        let spec = LeafSpec {
            rsa,
            ..LeafSpec::client("x.supplier.thirdparty.nhs.uk")
        };
        let (cert, key) = lab.identity_with(&lab.pki, &spec);
        let run = verify(
            &lab,
            &cert,
            &key,
            &["--fqdn", "x.supplier.thirdparty.nhs.uk"],
        )
        .await;
        assert_eq!(run.code, 0, "rsa={rsa}: {}", run.stdout);
        let checks = run.checks("client-identity", "identity");
        assert!(
            checks.iter().all(|c| c["status"] == "pass"),
            "rsa={rsa}: {checks:#?}"
        );
        let key_check = finding(&run, "matches the certificate");
        assert_eq!(
            key_check["details"]["key"],
            if rsa { "RSA 2048 bits" } else { "EC 256 bits" }
        );
        assert!(
            finding(&run, "chains to")
                .to_string()
                .contains("NHS INT Authentication G2 -> NHS PTL Root Authority G2")
        );
        assert!(
            finding(&run, "days left")["details"]["days_left"]
                .as_i64()
                .unwrap()
                > 300
        );
        assert_eq!(
            finding(&run, "private (mode")["details"]["key_mode"],
            "0600"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_identity_problem_has_its_reason() {
    let lab = Lab::start().await;
    let fqdn = "x.supplier.thirdparty.nhs.uk";

    let (cert, key) = lab.identity_with(
        &lab.pki,
        &LeafSpec {
            valid_from_days: -400,
            valid_to_days: -3,
            ..LeafSpec::client(fqdn)
        },
    );
    let run = verify(&lab, &cert, &key, &[]).await;
    assert_eq!(run.code, 1);
    assert_eq!(
        status(&finding(&run, "cert.expired")),
        ("fail", "cert.expired")
    );

    let (cert, key) = lab.identity_with(
        &lab.pki,
        &LeafSpec {
            valid_to_days: 10,
            ..LeafSpec::client(fqdn)
        },
    );
    let run = verify(&lab, &cert, &key, &[]).await;
    assert_eq!(run.code, 0, "a warning only");
    assert_eq!(
        status(&finding(&run, "cert.expiring_soon")),
        ("warn", "cert.expiring_soon")
    );

    let stranger = Pki::g2();
    let (cert, key) = lab.identity_with(&stranger, &LeafSpec::client(fqdn));
    let run = verify(&lab, &cert, &key, &[]).await;
    assert_eq!(run.code, 1);
    let check = finding(&run, "cert.untrusted_issuer");
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("not the pinned one"),
        "{check:#}"
    );

    let (cert, key) = lab.identity_with(
        &lab.pki,
        &LeafSpec {
            no_eku: true,
            ..LeafSpec::client(fqdn)
        },
    );
    let run = verify(&lab, &cert, &key, &[]).await;
    assert_eq!(
        status(&finding(&run, "cert.no_client_auth")),
        ("warn", "cert.no_client_auth")
    );
    let (cert, key) = lab.identity_with(&lab.pki, &LeafSpec::server(fqdn));
    let run = verify(&lab, &cert, &key, &[]).await;
    assert_eq!(run.code, 1);
    assert_eq!(
        status(&finding(&run, "cert.no_client_auth")),
        ("fail", "cert.no_client_auth")
    );

    let (cert, _) = lab.identity_with(&lab.pki, &LeafSpec::client(fqdn));
    let (_, other_key) = lab.identity_with(
        &lab.pki,
        &LeafSpec::client("other.supplier.thirdparty.nhs.uk"),
    );
    let run = verify(&lab, &cert, &other_key, &[]).await;
    assert_eq!(run.code, 1);
    assert_eq!(
        status(&finding(&run, "cert.key_mismatch")),
        ("fail", "cert.key_mismatch")
    );
    let secret_line = std::fs::read_to_string(&other_key)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        !run.stdout.contains(&secret_line) && !run.stderr.contains(&secret_line),
        "key material printed"
    );

    let (cert, key) = lab.identity_with(&lab.pki, &LeafSpec::client(fqdn));
    for mode in [0o640, 0o644] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let run = verify(&lab, &cert, &key, &[]).await;
        assert_eq!(run.code, 0);
        assert_eq!(
            status(&finding(&run, "cert.key_permissions")),
            ("warn", "cert.key_permissions")
        );
    }

    let run = verify(
        &lab,
        &cert,
        &key,
        &["--fqdn", "y.supplier.thirdparty.nhs.uk"],
    )
    .await;
    assert_eq!(run.code, 1);
    let check = finding(&run, "cert.fqdn_mismatch");
    assert!(
        check["message"].as_str().unwrap().contains(fqdn),
        "{check:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_at_a_future_instant_sees_the_expiry_coming() {
    let lab = Lab::start().await;
    let (cert, key) =
        lab.identity_with(&lab.pki, &LeafSpec::client("x.supplier.thirdparty.nhs.uk"));
    let later = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24 * 400))
        .unwrap()
        .to_string();
    let run = verify(&lab, &cert, &key, &["--at", &later]).await;
    assert_eq!(run.code, 1);
    assert_eq!(
        status(&finding(&run, "cert.expired")),
        ("fail", "cert.expired")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_a_wrong_key_once_and_skips_mutual_tls_endpoints() {
    let lab = Lab::start().await;
    let addr = lab.serve("msg.int.test", lo(1), |_| {}).await;
    let url = |path: &str| format!("https://msg.int.test:{}/{path}", addr.port());
    let mut endpoints: Vec<EndpointSpec> = (0..5)
        .map(|i| EndpointSpec {
            mtls: true,
            ..EndpointSpec::new(&format!("mtls-{i}"), url(&i.to_string()))
        })
        .collect();
    endpoints.push(EndpointSpec::new("public", url("public")));
    let profile = lab.profile("p.toml", &endpoints, "");
    let (cert, _) = lab.client_identity(&lab.pki, "a.supplier.thirdparty.nhs.uk");
    let (_, wrong_key) = lab.client_identity(&lab.pki, "b.supplier.thirdparty.nhs.uk");
    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--client-cert",
        p(&cert),
        "--client-key",
        p(&wrong_key),
    ])
    .await;
    assert_eq!(run.code, 1);
    let json = run.json();
    // One identity failure, reported first.
    assert_eq!(json["checks"][0]["kind"], "identity");
    let failures: Vec<&Value> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert_eq!(failures[0]["reason"], "cert.key_mismatch");
    for i in 0..5 {
        let tls = run.check(&format!("mtls-{i}"), "tls");
        assert_eq!(status(&tls), ("skip", "skip.dependency_failed"));
        assert!(tls["message"].as_str().unwrap().contains("client identity"));
    }
    assert_eq!(status(&run.check("public", "http")), ("pass", ""));
}

#[tokio::test(flavor = "multi_thread")]
async fn check_at_an_instant_inside_a_maintenance_slot() {
    let lab = Lab::start().await;
    lab.dns.set("msg.int.test", DnsAnswer::NxDomain);
    let endpoint =
        EndpointSpec::new("spine", "https://msg.int.test/").with("service = \"spine-core\"");
    let slots = "[[maintenance]]\nservice = \"spine-core\"\nweekly = [\"Mon 20:00-Tue 06:00\", \"Wed 20:00-Thu 06:00\"]\n";
    let profile = lab.profile("p.toml", &[endpoint], slots);
    // Monday 15 June 2026 20:30 BST = 19:30 UTC: inside the Monday slot.
    let inside = "2026-06-15T19:30:00Z";
    let run = lab::run(&["--profile", p(&profile), "--format", "json", "--at", inside]).await;
    assert_eq!(
        run.code, 0,
        "a failure in a slot is a warning by default: {}",
        run.stdout
    );
    let dns = run.check("spine", "dns");
    assert_eq!(status(&dns), ("warn", "maintenance.window"));
    assert_eq!(dns["details"]["original_reason"], "dns.nxdomain");
    assert_eq!(dns["details"]["maintenance"]["end"], "2026-06-16T05:00:00Z");
    let json = run.json();
    assert_eq!(json["maintenance"]["active"][0]["service"], "spine-core");

    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--at",
        inside,
        "--maintenance",
        "fail",
    ])
    .await;
    assert_eq!(run.code, 1);
    assert_eq!(status(&run.check("spine", "dns")), ("fail", "dns.nxdomain"));

    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--at",
        inside,
        "--maintenance",
        "ignore",
    ])
    .await;
    assert_eq!(run.code, 0);
    assert_eq!(
        status(&run.check("spine", "dns")),
        ("skip", "maintenance.window")
    );

    // 19:30 UTC on a Monday in winter is 19:30 GMT: before the slot.
    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--at",
        "2026-11-23T19:30:00Z",
    ])
    .await;
    assert_eq!(run.code, 1);
    assert_eq!(status(&run.check("spine", "dns")), ("fail", "dns.nxdomain"));
    assert_eq!(
        run.json()["maintenance"]["next"][0]["start"],
        "2026-11-23T20:00:00Z"
    );

    let human = lab::run(&["--profile", p(&profile), "--at", inside]).await;
    assert!(
        human.stdout.contains(
            "maintenance (Europe/London): IN MAINTENANCE: spine-core until Tue 16 Jun 06:00 BST"
        ),
        "{}",
        human.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn windows_command_follows_the_clock_changes() {
    // Spine CIS: Tuesday 20:00 to Wednesday 06:00 local. 27 Oct 2026 is the first Tuesday of GMT.
    let run = lab::run(&[
        "windows",
        "--at",
        "2026-10-27T20:30:00Z",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(run.code, 0);
    let json = run.json();
    let active: Vec<&str> = json["active"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["service"].as_str().unwrap())
        .collect();
    assert_eq!(active, ["spine-cis"]);
    assert_eq!(json["active"][0]["start"], "2026-10-27T20:00:00Z");
    // The Tuesday before, in BST, the same slot started an hour earlier in UTC.
    let run = lab::run(&[
        "windows",
        "--at",
        "2026-10-20T19:30:00Z",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(run.json()["active"][0]["start"], "2026-10-20T19:00:00Z");
    let human = lab::run(&["windows", "--at", "2026-10-20T19:30:00Z"]).await;
    assert!(
        human
            .stdout
            .contains("spine-cis    IN A SLOT now, until Wed 21 Oct 06:00 BST"),
        "{}",
        human.stdout
    );
    let bad = lab::run(&["windows", "--at", "tuesday"]).await;
    assert_eq!(bad.code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_tells_what_a_file_really_is() {
    let lab = Lab::start().await;
    // PEM saved as .der, the way the NHS page's instructions produce it.
    let pem_as_der = lab.write("root.der", &lab.pki.root.pem);
    let run = lab::run(&["certs", "inspect", p(&pem_as_der)]).await;
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains(": PEM, 1 item(s)")
            && run
                .stdout
                .contains("WARN the extension .der says binary DER"),
        "{}",
        run.stdout
    );
    // DER saved as .pem.
    let der_as_pem = lab.path("subca.pem");
    std::fs::write(&der_as_pem, lab.pki.subca.cert.as_ref()).unwrap();
    let run = lab::run(&["certs", "inspect", p(&der_as_pem), "--format", "json"]).await;
    let json = run.json();
    assert_eq!(json["encoding"], "DER");
    assert_eq!(json["items"][0]["type"], "certificate");
    assert!(
        json["extension_lies"]
            .as_str()
            .unwrap()
            .contains("binary DER")
    );
    // The real G2 root is recognised as the pinned one.
    let real = lab.write(
        "g2.pem",
        include_str!("../../fixtures/nhs-ptl-root-authority-g2.pem"),
    );
    let run = lab::run(&["certs", "inspect", p(&real), "--format", "json"]).await;
    assert_eq!(
        run.json()["items"][0]["pinned"],
        "NHS PTL Root Authority G2"
    );
    // A key, named like a certificate: its type is told, its bytes are not.
    let (_, key) = lab.client_identity(&lab.pki, "k.supplier.thirdparty.nhs.uk");
    let key_as_crt = lab.path("key.crt");
    std::fs::copy(&key, &key_as_crt).unwrap();
    let run = lab::run(&["certs", "inspect", p(&key_as_crt)]).await;
    assert!(
        run.stdout.contains("private key (PKCS#8)") && run.stdout.contains("holds a private key"),
        "{}",
        run.stdout
    );
    let secret_line = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(!run.stdout.contains(&secret_line));
    // Neither certificate nor key.
    let junk = lab.write("notes.txt", "hello");
    let run = lab::run(&["certs", "inspect", p(&junk)]).await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("no certificate or key found"));
}

#[tokio::test(flavor = "multi_thread")]
async fn export_writes_real_pem_and_der_with_instructions() {
    let lab = Lab::start().await;
    for format in ["pem", "der"] {
        let out = lab.path(&format!("export-{format}"));
        let run = lab::run(&["certs", "export", "--out", p(&out), "--format", format]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let root = out.join(format!("nhs-ptl-root-authority-g2.{format}"));
        let inspected = lab::run(&["certs", "inspect", p(&root), "--format", "json"])
            .await
            .json();
        assert_eq!(inspected["encoding"], format.to_uppercase());
        assert_eq!(inspected["items"][0]["pinned"], "NHS PTL Root Authority G2");
        assert!(inspected["extension_lies"].is_null());
        let bundle = std::fs::read_to_string(out.join("trust-bundle.pem")).unwrap();
        assert_eq!(bundle.matches("-----BEGIN CERTIFICATE-----").count(), 2);
        let install = std::fs::read_to_string(out.join("INSTALL.txt")).unwrap();
        for needle in [
            "Trusted Root Certification Authorities",
            "Intermediate Certification Authorities",
            "update-ca-certificates",
            "keytool",
        ] {
            assert!(install.contains(needle), "INSTALL.txt lacks {needle}");
        }
    }
    // The exported bundle works as --ca-file.
    let bundle = lab.path("export-pem").join("trust-bundle.pem");
    let run = lab::run(&["certs", "show", "--ca-file", p(&bundle), "--format", "json"]).await;
    assert_eq!(run.code, 0);
    let json = run.json();
    assert_eq!(json["certificates"].as_array().unwrap().len(), 2);
    assert_eq!(
        json["certificates"][0]["sha256"],
        "54:0F:7C:D6:11:15:10:EF:8A:4A:78:93:9B:39:A0:75:C7:1A:68:F0:CE:71:BB:F2:81:41:F7:C6:BE:35:7F:8F"
    );
    assert_eq!(json["certificates"][0]["expires_within_a_year"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_prints_the_catalogue() {
    let run = lab::run(&["explain", "tls.untrusted_issuer"]).await;
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("What to do:")
            && run
                .stdout
                .contains("Intermediate Certification Authorities")
    );
    let run = lab::run(&["explain"]).await;
    assert!(run.stdout.contains("maintenance.window") && run.stdout.contains("cert.key_mismatch"));
    let run = lab::run(&["explain", "tls.nope"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("tls.cn_only"));
}

/// The legacy G1 hierarchy is named wherever a chain is judged, and `legacy_g1 = true` trusts it
/// with a warning.
#[tokio::test(flavor = "multi_thread")]
async fn legacy_g1_chains_are_named_and_can_be_trusted_with_a_warning() {
    let lab = Lab::start().await;
    let g1 = Pki::g1_shaped();
    let leaf = g1.leaf(&LeafSpec::server("msg.int.test"));
    let addr = tls_server(lo(1), TlsServerSpec::new(&g1, &leaf)).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    let endpoint = || EndpointSpec::new("svc", format!("https://msg.int.test:{}/", addr.port()));
    let g2_only = lab.profile("g2.toml", &[endpoint()], "");
    let run1 = run(&["--profile", p(&g2_only), "--format", "json"]).await;
    let tls = run1.check("svc", "tls");
    assert_eq!(status(&tls), ("fail", "tls.legacy_g1"), "{tls:#}");
    assert!(
        tls["message"]
            .as_str()
            .unwrap()
            .contains("issued under the legacy G1 hierarchy (NHS INT Level 1C -> NHS PTL Root Authority), which this profile does not trust"),
        "{tls:#}"
    );
    assert!(tls["hint"].as_str().unwrap().contains("legacy_g1 = true"));

    // Trusted on purpose: this lab's G1-named root as an anchor, and legacy_g1 = true.
    let g1_root = lab.write("g1-root.pem", &g1.root.pem);
    let text = std::fs::read_to_string(&g2_only)
        .unwrap()
        .replace("[trust]\n", "[trust]\nlegacy_g1 = true\n");
    let with_g1 = lab.write("g1.toml", &text);
    let run2 = run(&[
        "--profile",
        p(&with_g1),
        "--format",
        "json",
        "--ca-file",
        p(&g1_root),
    ])
    .await;
    let tls = run2.check("svc", "tls");
    assert_eq!(status(&tls), ("warn", "tls.legacy_g1"), "{tls:#}");
    assert!(
        tls["message"]
            .as_str()
            .unwrap()
            .contains("trusted because the profile sets legacy_g1 = true")
    );
    assert_eq!(run2.code, 0, "{}", run2.stdout);

    // The real G1 certificates are named by `certs inspect`, in words and in JSON.
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/legacy-g1/nhs-int-level-1c-g1.pem"
    );
    let shown = run(&["certs", "inspect", file]).await;
    assert!(
        shown.stdout.contains(
            "legacy G1: NHS INT Level 1C -> NHS PTL Root Authority, not trusted by a G2 profile"
        ),
        "{}",
        shown.stdout
    );
    let json = run(&["certs", "inspect", file, "--format", "json"])
        .await
        .json();
    assert_eq!(
        json["items"][0]["hierarchy"],
        "legacy G1: NHS INT Level 1C -> NHS PTL Root Authority"
    );
    // And a G2 profile that sets legacy_g1 shows the G1 anchors among its own.
    let anchors = run(&["certs", "show", "--profile", p(&with_g1)]).await;
    assert!(
        anchors.stdout.contains("NHS PTL Root Authority,")
            || anchors.stdout.contains("CN=NHS PTL Root Authority\n")
            || anchors.stdout.contains("legacy G1"),
        "{}",
        anchors.stdout
    );
}

/// `--dry-run` reads and judges the client identity too (no network): a wrong key shows before
/// any run, and a missing file is a usage error.
#[tokio::test(flavor = "multi_thread")]
async fn dry_run_reads_and_judges_the_client_identity() {
    let lab = Lab::start().await;
    let (cert, _) = lab.client_identity(&lab.pki, "a.supplier.int.test");
    let (_, other_key) = lab.client_identity(&lab.pki, "b.supplier.int.test");
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new("svc", "https://msg.int.test/")],
        "",
    );
    let run1 = run(&[
        "--profile",
        p(&profile),
        "--dry-run",
        "--client-cert",
        p(&cert),
        "--client-key",
        p(&other_key),
    ])
    .await;
    assert_eq!(run1.code, 1, "{}", run1.stdout);
    assert!(
        run1.stdout.contains("cert.key_mismatch: the key"),
        "{}",
        run1.stdout
    );
    let json = run(&[
        "--profile",
        p(&profile),
        "--dry-run",
        "--format",
        "json",
        "--client-cert",
        p(&cert),
        "--client-key",
        p(&other_key),
    ])
    .await
    .json();
    assert!(
        json["identity"]["findings"][0]
            .as_str()
            .unwrap()
            .starts_with("cert.key_mismatch")
    );
    let (_, own_key) = lab.client_identity(&lab.pki, "a.supplier.int.test");
    let sound = run(&[
        "--profile",
        p(&profile),
        "--dry-run",
        "--client-cert",
        p(&cert),
        "--client-key",
        p(&own_key),
    ])
    .await;
    assert_eq!(sound.code, 0, "{}", sound.stdout);
    let missing = run(&[
        "--profile",
        p(&profile),
        "--dry-run",
        "--client-cert",
        "/nonexistent.pem",
        "--client-key",
        p(&own_key),
    ])
    .await;
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("cannot read certificate file /nonexistent.pem"),
        "{}",
        missing.stderr
    );
}

/// `certs verify` takes the same names as `check` (`--client-cert`, `--client-key`); the short
/// `--cert` and `--key` stay as aliases.
#[tokio::test(flavor = "multi_thread")]
async fn certs_verify_takes_the_check_flag_names() {
    let lab = Lab::start().await;
    let (cert, key) = lab.client_identity(&lab.pki, "a.supplier.int.test");
    for (cert_flag, key_flag) in [("--client-cert", "--client-key"), ("--cert", "--key")] {
        let run = run(&[
            "certs",
            "verify",
            "--ca-file",
            p(&lab.root_file),
            "--ca-file",
            p(&lab.subca_file),
            cert_flag,
            p(&cert),
            key_flag,
            p(&key),
        ])
        .await;
        assert_eq!(run.code, 0, "{cert_flag}: {}{}", run.stdout, run.stderr);
    }
}

/// The files people confuse, each named with what to do: a key given as the certificate and the
/// reverse, a CSR, a PKCS#12 bundle (made here with the openssl CLI), an encrypted key.
#[tokio::test(flavor = "multi_thread")]
async fn confused_identity_files_are_named() {
    lab::needs!(Openssl);
    let lab = Lab::start().await;
    let (cert, key) = lab.client_identity(&lab.pki, "a.supplier.int.test");
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl (.ci/run installs it)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let p12 = lab.path("id.p12");
    openssl(&[
        "pkcs12",
        "-export",
        "-in",
        p(&cert),
        "-inkey",
        p(&key),
        "-out",
        p(&p12),
        "-passout",
        "pass:secret",
    ]);
    let csr = lab.path("req.csr");
    openssl(&[
        "req",
        "-new",
        "-key",
        p(&key),
        "-out",
        p(&csr),
        "-subj",
        "/CN=a.supplier.int.test",
    ]);
    let encrypted = lab.path("enc.key");
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        p(&key),
        "-out",
        p(&encrypted),
        "-passout",
        "pass:secret",
    ]);
    // A certificate with its encrypted key in one file: the key's problem, not a mix-up.
    let both_encrypted = lab.write(
        "both-enc.pem",
        &(std::fs::read_to_string(&cert).unwrap() + &std::fs::read_to_string(&encrypted).unwrap()),
    );
    for (cert_file, key_file, words) in [
        (&key, &cert, "is a private key, not a certificate"),
        (&cert, &cert, "is a certificate, not a private key"),
        (
            &csr,
            &key,
            "is a certificate signing request, not a certificate",
        ),
        (&p12, &key, "is a PKCS#12 bundle"),
        (&cert, &p12, "is a PKCS#12 bundle"),
        (&cert, &encrypted, "holds an encrypted private key"),
        (
            &both_encrypted,
            &both_encrypted,
            "holds an encrypted private key",
        ),
    ] {
        let run = run(&[
            "certs",
            "verify",
            "--client-cert",
            p(cert_file),
            "--client-key",
            p(key_file),
        ])
        .await;
        assert_eq!(run.code, 2, "{words}: {}", run.stderr);
        assert!(run.stderr.contains(words), "{words}: {}", run.stderr);
        assert_eq!(
            run.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1
        );
        assert!(!run.stderr.contains("secret"));
    }
    let swapped = run(&[
        "certs",
        "verify",
        "--client-cert",
        p(&key),
        "--client-key",
        p(&cert),
    ])
    .await;
    assert!(
        swapped
            .stderr
            .contains("or swap --client-cert and --client-key?")
    );
    // The same file given as an anchor: the hint does not assume a swap.
    let as_anchor = run(&["certs", "show", "--ca-file", p(&key)]).await;
    assert_eq!(as_anchor.code, 2);
    assert!(
        as_anchor
            .stderr
            .contains("a certificate file was expected there (--client-cert, --ca-file"),
        "{}",
        as_anchor.stderr
    );
    let bundle = run(&[
        "certs",
        "verify",
        "--client-cert",
        p(&p12),
        "--client-key",
        p(&key),
    ])
    .await;
    assert!(
        bundle.stderr.contains("openssl pkcs12 -in"),
        "{}",
        bundle.stderr
    );
    let inspected = run(&["certs", "inspect", p(&p12)]).await;
    assert!(
        inspected.stdout.contains("PKCS#12 bundle"),
        "{}",
        inspected.stdout
    );
}

/// A certificate with its key in the same PEM file needs no --client-key (as curl --cert takes
/// it), in `certs verify` and in `check`; a file whose name says another encoding than it holds
/// is read and named.
#[tokio::test(flavor = "multi_thread")]
async fn key_beside_the_certificate_and_misnamed_files() {
    lab::needs!(Openssl);
    let lab = Lab::start().await;
    let (cert, key) = lab.client_identity(&lab.pki, "a.supplier.int.test");
    let both = lab.write(
        "both.pem",
        &(std::fs::read_to_string(&cert).unwrap() + &std::fs::read_to_string(&key).unwrap()),
    );
    std::fs::set_permissions(&both, std::fs::Permissions::from_mode(0o600)).unwrap();
    let anchors = [
        "--ca-file",
        p(&lab.root_file),
        "--ca-file",
        p(&lab.subca_file),
    ];
    let mut args = vec![
        "certs",
        "verify",
        "--client-cert",
        p(&both),
        "--format",
        "json",
    ];
    args.extend(anchors);
    let run = lab::run(&args).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(finding(&run, "beside the certificate")["status"] == "pass");
    let mut args = vec![
        "check",
        "--dry-run",
        "--client-cert",
        p(&both),
        "--format",
        "json",
    ];
    args.extend(anchors);
    let planned = lab::run(&args).await;
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    assert!(planned.stdout.contains("both.pem"), "{}", planned.stdout);
    // A certificate file without a key still needs --client-key, and says so.
    let mut args = vec!["certs", "verify", "--client-cert", p(&cert)];
    args.extend(anchors);
    let alone = lab::run(&args).await;
    assert_eq!(alone.code, 2);
    assert!(
        alone.stderr.contains("holds no private key"),
        "{}",
        alone.stderr
    );

    // PEM text named .der, and binary DER named .pem: both read, both named.
    let pem_as_der = lab.write("client.der", &std::fs::read_to_string(&cert).unwrap());
    let run = verify(&lab, &pem_as_der, &key, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let named = finding(&run, "cert.file_misnamed");
    assert_eq!(named["status"], "warn");
    assert!(
        named["message"].as_str().unwrap().contains("is PEM text"),
        "{named:#}"
    );
    let der = lab.path("client-der.pem");
    let out = std::process::Command::new("openssl")
        .args(["x509", "-in", p(&cert), "-outform", "der", "-out", p(&der)])
        .output()
        .expect("openssl");
    assert!(out.status.success());
    let run = verify(&lab, &der, &key, &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        finding(&run, "cert.file_misnamed")["message"]
            .as_str()
            .unwrap()
            .contains("is binary DER")
    );
    // key.pem is what openssl writes: not a misnamed file.
    let run = verify(&lab, &cert, &key, &[]).await;
    assert!(!run.stdout.contains("cert.file_misnamed"), "{}", run.stdout);
}

/// A self-signed certificate made with the openssl CLI (what people use while they wait for the
/// real one) is named as such, with the anchors it would need, by `certs verify` and `--dry-run`.
#[tokio::test(flavor = "multi_thread")]
async fn a_self_signed_identity_is_named_as_such() {
    lab::needs!(Openssl);
    let lab = Lab::start().await;
    let (cert, key) = (lab.path("self.pem"), lab.path("self.key"));
    let out = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "90",
        ])
        .args([
            "-subj",
            "/CN=a.supplier.int.test",
            "-keyout",
            p(&key),
            "-out",
            p(&cert),
        ])
        .output()
        .expect("openssl (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = verify(&lab, &cert, &key, &[]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let untrusted = finding(&run, "cert.untrusted_issuer");
    let message = untrusted["message"].as_str().unwrap();
    assert!(
        message.starts_with("the certificate is self-signed (CN=a.supplier.int.test)")
            && message.contains("accept only certificates issued under them"),
        "{message}"
    );
    let dry = lab::run(&[
        "--client-cert",
        p(&cert),
        "--client-key",
        p(&key),
        "--dry-run",
    ])
    .await;
    assert_eq!(dry.code, 1, "{}", dry.stdout);
    assert!(
        dry.stdout
            .contains("cert.untrusted_issuer: the certificate is self-signed"),
        "{}",
        dry.stdout
    );
}

/// Issue 22: the right certificate for the right service, said before any handshake. Against the
/// built-in INT profile's mutual-TLS endpoints: a MESH API certificate is a `cert.wrong_service`
/// warning naming the Spine endpoints; a Spine endpoint certificate (INT- or DEP-registered: the
/// chain cannot tell) fits, and the words say the chain cannot tell INT from DEP.
#[tokio::test(flavor = "multi_thread")]
async fn the_certificate_is_judged_for_the_services_it_must_serve() {
    let lab = Lab::start().await;
    for (name, verdict, words) in [
        (
            "SERVER001.X26.api.mesh-client.nhs.uk",
            ("warn", "cert.wrong_service"),
            "is a MESH API certificate",
        ),
        (
            "x26-int.supplier.thirdparty.nhs.uk",
            ("pass", ""),
            "is a Spine endpoint certificate",
        ),
        (
            "x26-dep.supplier.thirdparty.nhs.uk",
            ("pass", ""),
            "the chain cannot tell INT from DEP",
        ),
    ] {
        let (cert, key) = lab.client_identity(&lab.pki, name);
        let run = run(&[
            "certs",
            "verify",
            "--profile",
            "int",
            "--ca-file",
            p(&lab.root_file),
            "--ca-file",
            p(&lab.subca_file),
            "--client-cert",
            p(&cert),
            "--client-key",
            p(&key),
            "--format",
            "json",
        ])
        .await;
        let checks = run.json()["checks"].as_array().unwrap().clone();
        let purpose = checks
            .iter()
            .find(|c| {
                let m = c["message"].as_str().unwrap_or("");
                m.contains("certificate (LOCALID")
                    || m.contains(" certificate, for ")
                    || m.contains("is a MESH API certificate")
            })
            .unwrap_or_else(|| panic!("{name}: no purpose check: {checks:#?}"));
        assert_eq!(status(purpose), verdict, "{name}: {purpose:#}");
        let message = purpose["message"].as_str().unwrap();
        assert!(message.contains(words), "{name}: {message}");
        if verdict.1 == "cert.wrong_service" {
            // The Spine endpoints it cannot serve are named.
            assert!(message.contains("spine"), "{message}");
        }
    }
}

/// Issue 25: revocation lists made with `openssl ca -gencrl` (a revoked client certificate and a
/// revoked server certificate; an expired list; a list signed by a stranger with the SubCA's
/// name). The client identity is judged against them (`cert.revoked` with date and reason,
/// `crl.status_unknown` when the list cannot be used); server chains only when the profile says
/// `revocation = "warn"` or `"fail"`. `openssl verify -crl_check` agrees on the revoked one.
#[tokio::test(flavor = "multi_thread")]
async fn revocation_lists_from_the_openssl_cli_are_judged() {
    lab::needs!(Openssl);
    let lab = Lab::start().await;
    let dir = lab.path("");
    std::fs::write(dir.join("subca.key"), lab.pki.subca.key.serialize_pem()).unwrap();
    let (good, good_key) = lab.client_identity(&lab.pki, "good.int.test");
    let (revoked, revoked_key) = lab.client_identity(&lab.pki, "revoked.int.test");
    let server_leaf = lab.pki.leaf(&LeafSpec::server("msg.int.test"));
    std::fs::write(dir.join("server.pem"), &server_leaf.pem).unwrap();
    let script = r#"
set -e
cat > ca.cnf <<'CNF'
[ ca ]
default_ca = CA_default
[ CA_default ]
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 30
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid:always
CNF
: > index.txt; echo 1000 > crlnumber
openssl x509 -in revoked.int.test.pem -out revoked-leaf.pem
openssl ca -config ca.cnf -keyfile subca.key -cert subca.pem -revoke revoked-leaf.pem -crl_reason superseded
openssl ca -config ca.cnf -keyfile subca.key -cert subca.pem -revoke server.pem -crl_reason keyCompromise
openssl ca -config ca.cnf -keyfile subca.key -cert subca.pem -gencrl -out current.crl
openssl ca -config ca.cnf -keyfile subca.key -cert subca.pem -gencrl -crl_lastupdate 20250101000000Z -crl_nextupdate 20250201000000Z -out expired.crl
subject=$(openssl x509 -in subca.pem -noout -subject -nameopt compat | sed 's/^subject=//')
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout stranger.key -out stranger.pem -days 30 -subj "$subject"
openssl ca -config ca.cnf -keyfile stranger.key -cert stranger.pem -gencrl -out stranger.crl
sed 's/^crlnumber = crlnumber$//' ca.cnf > numberless.cnf
openssl ca -config numberless.cnf -keyfile subca.key -cert subca.pem -gencrl -out numberless.crl
"#;
    // (The lab keeps the SubCA as subca.pem in that folder already.)
    let made = std::process::Command::new("bash")
        .args(["-c", script])
        .current_dir(&dir)
        .output()
        .expect("bash and the openssl CLI make the lists");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let verify = |cert: &std::path::Path, key: &std::path::Path, crl: &str| {
        let (cert, key, crl) = (cert.to_path_buf(), key.to_path_buf(), dir.join(crl));
        let root = lab.root_file.clone();
        let subca = lab.subca_file.clone();
        async move {
            let run = run(&[
                "certs",
                "verify",
                "--ca-file",
                p(&root),
                "--ca-file",
                p(&subca),
                "--crl-file",
                p(&crl),
                "--client-cert",
                p(&cert),
                "--client-key",
                p(&key),
                "--format",
                "json",
            ])
            .await;
            let checks = run.json()["checks"].as_array().unwrap().clone();
            checks
                .into_iter()
                .find(|c| {
                    let m = c["message"].as_str().unwrap_or("");
                    m.starts_with("revoked") || m.starts_with("not revoked") || m.contains("CRL")
                })
                .unwrap_or_else(|| panic!("no revocation row: {}", run.stdout))
        }
    };
    let row = verify(&good, &good_key, "current.crl").await;
    assert_eq!(status(&row), ("pass", ""), "{row:#}");
    let row = verify(&revoked, &revoked_key, "current.crl").await;
    assert_eq!(status(&row), ("fail", "cert.revoked"), "{row:#}");
    let message = row["message"].as_str().unwrap();
    assert!(message.contains("reason: superseded"), "{message}");
    let row = verify(&good, &good_key, "expired.crl").await;
    assert_eq!(status(&row), ("warn", "crl.status_unknown"), "{row:#}");
    assert!(
        row["message"].as_str().unwrap().contains("expired"),
        "{row:#}"
    );
    let row = verify(&revoked, &revoked_key, "stranger.crl").await;
    assert_eq!(status(&row), ("warn", "crl.status_unknown"), "{row:#}");
    // A list without a CRL number (RFC 5280 5.2.3) is not used: the status is unknown.
    let row = verify(&revoked, &revoked_key, "numberless.crl").await;
    assert_eq!(status(&row), ("warn", "crl.status_unknown"), "{row:#}");
    assert!(
        row["message"].as_str().unwrap().contains("no CRL number"),
        "{row:#}"
    );

    // OpenSSL agrees on the revoked client certificate.
    let (verified, said) = openssl_verify_with_crl(
        &lab,
        &dir.join("current.crl"),
        &dir.join("revoked-leaf.pem"),
    );
    assert!(!verified && said.contains("revoked"), "{said}");

    // A server presenting the revoked certificate: off by default, then warn, then fail.
    let addr = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &server_leaf)).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    for (mode, verdict) in [
        ("off", ("pass", "")),
        ("warn", ("warn", "tls.revoked")),
        ("fail", ("fail", "tls.revoked")),
    ] {
        let profile = lab.profile(
            &format!("revocation-{mode}.toml"),
            &[EndpointSpec::new(
                "svc",
                format!("https://msg.int.test:{}/", addr.port()),
            )],
            "",
        );
        let text = std::fs::read_to_string(&profile).unwrap().replace(
            "[trust]\n",
            &format!(
                "[trust]\nrevocation = \"{mode}\"\ncrl_files = [\"{}\"]\n",
                p(&dir.join("current.crl"))
            ),
        );
        std::fs::write(&profile, text).unwrap();
        let run = run(&[
            "--profile",
            p(&profile),
            "--only",
            "dns,tcp,tls",
            "--format",
            "json",
        ])
        .await;
        let tls = run.check("svc", "tls");
        assert_eq!(status(&tls), verdict, "{mode}: {tls:#}");
        if mode != "off" {
            assert!(
                tls["message"]
                    .as_str()
                    .unwrap()
                    .contains("reason: key compromise"),
                "{tls:#}"
            );
        }
    }
}

/// Issue 25: `certs show` and `certs inspect` print where a certificate's issuer publishes
/// revocation (the built-in INT SubCA names crl.nhs.uk and ocsp.nhs.uk).
#[tokio::test(flavor = "multi_thread")]
async fn revocation_points_are_shown() {
    let run = run(&["certs", "show"]).await;
    assert!(
        run.stdout
            .contains("CRL      http://crl.nhs.uk/PTL/G2/root/NHSPTLrootG2.crl")
            && run.stdout.contains("OCSP     http://ocsp.nhs.uk/ocsp"),
        "{}",
        run.stdout
    );
    let json = lab::run(&["certs", "show", "--format", "json"]).await;
    let certificates = json.json()["certificates"].as_array().unwrap().clone();
    assert!(
        certificates
            .iter()
            .any(|c| c["crl_points"][0] == "http://crl.nhs.uk/PTL/G2/root/NHSPTLrootG2.crl")
    );
}

/// Issue 26: `certs verify --fqdn` names each of the certificate's names once (its CN is
/// usually one of its SANs too).
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_fqdn_names_the_certificate_once() {
    let lab = Lab::start().await;
    let (cert, key) = lab.client_identity(&lab.pki, "me.int.test");
    let run = run(&[
        "certs",
        "verify",
        "--ca-file",
        p(&lab.root_file),
        "--ca-file",
        p(&lab.subca_file),
        "--client-cert",
        p(&cert),
        "--client-key",
        p(&key),
        "--fqdn",
        "you.int.test",
    ])
    .await;
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("issued for me.int.test, not you.int.test"),
        "{}",
        run.stdout
    );
}

/// A plain HTTP server on `listener` that answers every request with `body` (a CRL
/// distribution point), and counts the requests.
pub fn distribution_point(
    listener: tokio::net::TcpListener,
    body: Vec<u8>,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = listener.local_addr().unwrap().port();
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = asked.clone();
    let body = std::sync::Arc::new(body);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 2048];
                let _ = stream.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    (port, asked)
}

/// Issue 25: the client identity is judged against the revocation list its issuer publishes at
/// the certificate's distribution point, fetched over http:// when no CRL file is given: a
/// revoked certificate is `cert.revoked` with no --crl-file; a distribution point that cannot be
/// reached, or serves something too large, makes the status unknown (a warning that says which
/// URL and path were tried), never a silent pass.
#[tokio::test(flavor = "multi_thread")]
async fn the_client_certificate_is_checked_against_its_distribution_point() {
    lab::needs!(Openssl);
    let lab = Lab::start().await;
    // The listener first: the certificate names its URL.
    let listener = tokio::net::TcpListener::bind((lo(1), 0)).await.unwrap();
    let crl_port = listener.local_addr().unwrap().port();
    let with_point = |fqdn: &str, url: String| {
        let mut spec = LeafSpec::client(fqdn);
        spec.crl_url = Some(url);
        lab.identity_with(&lab.pki, &spec)
    };
    let (revoked, revoked_key) = with_point(
        "revoked.int.test",
        format!("http://127.0.0.1:{crl_port}/subca.crl"),
    );
    let crl = std::fs::read(crate::faults::revocation_lists(
        &lab,
        "revoked.int.test.pem",
        "current",
    ))
    .unwrap();

    let (served_port, asked) = distribution_point(listener, crl);
    assert_eq!(served_port, crl_port);
    // An endpoint the run never reaches (--only identity).
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new("svc", "https://msg.int.test/")],
        "",
    );
    let identity_of = |cert: std::path::PathBuf, key: std::path::PathBuf| {
        let profile = profile.clone();
        async move {
            run(&[
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
            ])
            .await
        }
    };
    let checks = |run: &Run| -> Vec<Value> { run.checks("client-identity", "identity") };
    let revoked_run = identity_of(revoked, revoked_key).await;
    let found = checks(&revoked_run);
    let row = found
        .iter()
        .find(|c| c["reason"] == "cert.revoked")
        .unwrap_or_else(|| panic!("no cert.revoked without a --crl-file: {found:#?}"));
    assert_eq!(row["status"], "fail");
    assert!(
        row["message"].as_str().unwrap().contains("superseded"),
        "{row:#}"
    );
    assert_eq!(revoked_run.code, 1);
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);

    // A distribution point that refuses, and one that sends more than a CRL may be.
    let refusing = closed_port(lo(1)).await;
    let (unreachable, unreachable_key) = with_point(
        "unreachable.int.test",
        format!("http://127.0.0.1:{refusing}/subca.crl"),
    );
    let huge_listener = tokio::net::TcpListener::bind((lo(1), 0)).await.unwrap();
    let (huge_port, _) = distribution_point(huge_listener, vec![0u8; 17 << 20]);
    let (huge, huge_key) = with_point(
        "huge.int.test",
        format!("http://127.0.0.1:{huge_port}/subca.crl"),
    );
    for (cert, key, words) in [
        (unreachable, unreachable_key, "refused"),
        (huge, huge_key, "larger than"),
    ] {
        let run = identity_of(cert, key).await;
        let found = checks(&run);
        let row = found
            .iter()
            .find(|c| c["reason"] == "crl.status_unknown")
            .unwrap_or_else(|| panic!("no crl.status_unknown: {found:#?}"));
        assert_eq!(row["status"], "warn", "{row:#}");
        let message = row["message"].as_str().unwrap();
        assert!(message.contains(words), "{message}");
        assert!(message.contains("directly"), "the path tried: {message}");
        assert!(message.contains("http://127.0.0.1:"), "{message}");
        assert_eq!(
            run.code, 0,
            "a status unknown is not a failure: {}",
            run.stdout
        );
    }
}

/// Issue 25: server chains against the lists their certificates name, fetched from the
/// distribution point (no CRL file), once per run for every endpoint that names the same list;
/// a point that cannot be reached, and an expired list, are `crl.status_unknown` (a warning,
/// never a failure); with revocation off nothing is fetched.
#[tokio::test(flavor = "multi_thread")]
async fn server_chains_are_judged_against_the_lists_they_name() {
    lab::needs!(Openssl);
    let lab = Lab::start().await;
    let listener = tokio::net::TcpListener::bind((lo(1), 0)).await.unwrap();
    let point = format!(
        "http://127.0.0.1:{}/subca.crl",
        listener.local_addr().unwrap().port()
    );
    let expired_listener = tokio::net::TcpListener::bind((lo(1), 0)).await.unwrap();
    let expired_point = format!(
        "http://127.0.0.1:{}/subca.crl",
        expired_listener.local_addr().unwrap().port()
    );
    let lost_point = format!("http://127.0.0.1:{}/subca.crl", closed_port(lo(1)).await);
    let forged_listener = tokio::net::TcpListener::bind((lo(1), 0)).await.unwrap();
    let forged_point = format!(
        "http://127.0.0.1:{}/subca.crl",
        forged_listener.local_addr().unwrap().port()
    );
    // A distribution point that accepts and never answers.
    let silent = silent_server(lo(1)).await;
    let silent_point = format!("http://{silent}/subca.crl");
    let serve = |host: &'static str, url: &str| {
        let mut spec = LeafSpec::server(host);
        spec.crl_url = Some(url.to_string());
        let leaf = lab.pki.leaf(&spec);
        std::fs::write(lab.path(&format!("{host}.pem")), &leaf.pem).unwrap();
        lab.dns.point(host, &[lo(1)]);
        TlsServerSpec::new(&lab.pki, &leaf)
    };
    let revoked = tls_server(lo(1), serve("revoked.int.test", &point)).await;
    let good = tls_server(lo(1), serve("good.int.test", &point)).await;
    let also_good = tls_server(lo(1), serve("also-good.int.test", &point)).await;
    let lost = tls_server(lo(1), serve("lost.int.test", &lost_point)).await;
    let stale = tls_server(lo(1), serve("stale.int.test", &expired_point)).await;
    let forged = tls_server(lo(1), serve("forged.int.test", &forged_point)).await;
    let hanging = tls_server(lo(1), serve("hanging.int.test", &silent_point)).await;
    // A list with the SubCA's name, listing the forged host, signed by a stranger's key.
    let script = r#"
set -e
subject=$(openssl x509 -in subca.pem -noout -subject -nameopt compat | sed 's/^subject=//')
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout stranger.key -out stranger.pem -days 30 -subj "$subject" 2>/dev/null
printf '[ ca ]
default_ca = d
[ d ]
database = stranger-index.txt
crlnumber = stranger-number
default_md = sha256
default_crl_days = 30
' > stranger.cnf
: > stranger-index.txt; echo 1000 > stranger-number
openssl ca -config stranger.cnf -keyfile stranger.key -cert stranger.pem -revoke forged.int.test.pem -crl_reason keyCompromise 2>/dev/null
openssl ca -config stranger.cnf -keyfile stranger.key -cert stranger.pem -gencrl -out stranger.crl 2>/dev/null
"#;
    let made = std::process::Command::new("bash")
        .args(["-c", script])
        .current_dir(lab.path(""))
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (_, _) = distribution_point(
        forged_listener,
        std::fs::read(lab.path("stranger.crl")).unwrap(),
    );
    let current = std::fs::read(crate::faults::revocation_lists(
        &lab,
        "revoked.int.test.pem",
        "current",
    ))
    .unwrap();
    let expired = std::fs::read(crate::faults::revocation_lists(
        &lab,
        "revoked.int.test.pem",
        "expired",
    ))
    .unwrap();
    let (_, asked) = distribution_point(listener, current);
    let (_, asked_expired) = distribution_point(expired_listener, expired);
    let endpoints = [
        ("revoked", "revoked.int.test", revoked),
        ("good", "good.int.test", good),
        ("also-good", "also-good.int.test", also_good),
        ("lost", "lost.int.test", lost),
        ("stale", "stale.int.test", stale),
        ("forged", "forged.int.test", forged),
        ("hanging", "hanging.int.test", hanging),
        ("revoked-unchecked", "revoked.int.test", revoked),
    ]
    .map(|(name, host, addr)| {
        let spec = EndpointSpec::new(name, format!("https://{host}:{}/", addr.port()));
        // An endpoint may say otherwise than the profile.
        match name {
            "revoked-unchecked" => spec.with("revocation = \"off\""),
            _ => spec,
        }
    });
    let with_mode = |mode: &str| {
        let profile = lab.profile(&format!("fetch-{mode}.toml"), &endpoints, "");
        let text = std::fs::read_to_string(&profile)
            .unwrap()
            .replace("[trust]\n", &format!("[trust]\nrevocation = \"{mode}\"\n"));
        std::fs::write(&profile, text).unwrap();
        profile
    };
    let count = |a: &std::sync::Arc<std::sync::atomic::AtomicUsize>| {
        a.load(std::sync::atomic::Ordering::SeqCst)
    };

    // Off (the built-in profiles' default, as NHS's own clients): nothing fetched.
    let off = run(&["--profile", p(&with_mode("off")), "--format", "json"]).await;
    assert_eq!(off.code, 0, "{}", off.stdout);
    assert_eq!((count(&asked), count(&asked_expired)), (0, 0));
    assert!(
        off.check("good", "tls")["details"]
            .get("revocation_lists")
            .is_none()
    );

    for (mode, verdict) in [("warn", "warn"), ("fail", "fail")] {
        let before = count(&asked);
        let run = run(&[
            "--profile",
            p(&with_mode(mode)),
            "--format",
            "json",
            "--timeout",
            "2s",
        ])
        .await;
        let tls = run.check("revoked", "tls");
        assert_eq!(status(&tls), (verdict, "tls.revoked"), "{mode}: {tls:#}");
        let said = tls["message"].as_str().unwrap();
        assert!(
            said.contains("'revoked.int.test' was revoked") && said.contains("superseded"),
            "{said}"
        );
        // One fetch for the four endpoints that name the list; the report says how long it took.
        assert_eq!(count(&asked) - before, 1, "{mode}");
        let good = run.check("good", "tls");
        assert_eq!(status(&good), ("pass", ""), "{good:#}");
        let lists = run
            .checks("good", "tls")
            .iter()
            .chain(&run.checks("also-good", "tls"))
            .chain(&run.checks("revoked", "tls"))
            .map(|c| {
                c["details"]["revocation_lists"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect::<Vec<_>>();
        assert_eq!(
            lists.iter().filter(|l| l.contains("fetched in")).count(),
            1,
            "{lists:#?}"
        );
        assert!(lists.iter().all(|l| l.contains(&point)), "{lists:#?}");
        // The lists' own troubles: status unknown, a warning, the endpoint not failed by them.
        let lost = run.check("lost", "tls");
        assert_eq!(status(&lost), ("warn", "crl.status_unknown"), "{lost:#}");
        assert!(
            lost["message"].as_str().unwrap().contains(&lost_point),
            "{lost:#}"
        );
        assert!(
            lost["message"].as_str().unwrap().contains("directly"),
            "{lost:#}"
        );
        let stale = run.check("stale", "tls");
        assert_eq!(status(&stale), ("warn", "crl.status_unknown"), "{stale:#}");
        assert!(
            stale["message"].as_str().unwrap().contains("expired"),
            "{stale:#}"
        );
        // A list that carries the issuer's name but not its signature is not believed, whatever
        // it lists; a point that never answers costs the phase timeout, once.
        let forged = run.check("forged", "tls");
        assert_eq!(
            status(&forged),
            ("warn", "crl.status_unknown"),
            "{forged:#}"
        );
        let hanging = run.check("hanging", "tls");
        assert_eq!(
            status(&hanging),
            ("warn", "crl.status_unknown"),
            "{hanging:#}"
        );
        assert!(
            hanging["message"]
                .as_str()
                .unwrap()
                .contains("did not answer"),
            "{hanging:#}"
        );
        assert_eq!(status(&run.check("revoked-unchecked", "tls")), ("pass", ""));
        assert_eq!(
            run.code,
            if mode == "fail" { 1 } else { 0 },
            "{}",
            run.stdout
        );
        if mode == "fail" {
            assert_eq!(status(&run.check("revoked", "http")).0, "skip");
        }
    }

    // OpenSSL agrees on the revoked server certificate with the same list.
    let (verified, said) = openssl_verify_with_crl(
        &lab,
        &lab.path("current.crl"),
        &lab.path("revoked.int.test.pem"),
    );
    assert!(!verified && said.contains("revoked"), "{said}");
}

/// `openssl verify -crl_check` of `cert` under the lab's anchors and `crl`: whether it verified,
/// and what it said.
fn openssl_verify_with_crl(
    lab: &Lab,
    crl: &std::path::Path,
    cert: &std::path::Path,
) -> (bool, String) {
    let out = std::process::Command::new("openssl")
        .args(["verify", "-crl_check", "-CAfile"])
        .arg(&lab.root_file)
        .arg("-untrusted")
        .arg(&lab.subca_file)
        .arg("-CRLfile")
        .arg(crl)
        .arg(cert)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}
