//! The LDAPS phase and `int-check sds` against a real OpenLDAP slapd loaded with the SDS schema.

use int_check_lab as lab;

use lab::slapd::{Slapd, SlapdOptions, many_mhs_entries};
use lab::*;
use serde_json::Value;

/// A lab with a directory at ldap.int.test.
async fn directory(options: SlapdOptions) -> (Lab, Slapd) {
    let lab = Lab::start().await;
    let host = options.host.clone();
    let slapd = tokio::task::block_in_place(|| Slapd::start(&lab, lo(1), options));
    lab.dns.point(&host, &[lo(1)]);
    (lab, slapd)
}

fn sds_profile(lab: &Lab, slapd: &Slapd, ids: &str, endpoint_toml: &str) -> std::path::PathBuf {
    let endpoint = EndpointSpec::new(
        "sds",
        format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
    )
    .with(endpoint_toml);
    lab.profile("sds.toml", &[endpoint], ids)
}

fn ldap_checks(run: &Run) -> Vec<Value> {
    run.checks("sds", "ldap")
}

fn search<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["details"]["search"] == name)
        .unwrap_or_else(|| panic!("no {name} search in {checks:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn party_key_and_asid_lookups_find_the_spine_records() {
    lab::needs!(Slapd);
    let (lab, slapd) = directory(SlapdOptions::default()).await;
    let profile = sds_profile(
        &lab,
        &slapd,
        "party_key = \"YES-0000806\"\nasid = \"176887180519\"",
        "",
    );
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(status(&run.check("sds", "tls")), ("pass", ""));
    let checks = ldap_checks(&run);
    assert_eq!(checks.len(), 2);
    let party = search(&checks, "party-key");
    assert_eq!(status(party), ("pass", ""));
    assert_eq!(party["details"]["entries"], 5);
    // Over the verified TLS session, without a bind: one round trip per search.
    assert_eq!(party["details"]["round_trips"], 1);
    assert_eq!(
        party["details"]["filter"],
        "(&(objectClass=nhsMhs)(nhsMHSPartyKey=YES-0000806))"
    );
    let message = party["message"].as_str().unwrap();
    assert!(
        message.contains("5 interactions")
            && message
                .contains("https://msg.int.spine2.ncrs.nhs.uk/reliablemessaging/intermediary"),
        "{message}"
    );
    let asid = search(&checks, "asid");
    assert_eq!(status(asid), ("pass", ""));
    assert!(
        asid["message"]
            .as_str()
            .unwrap()
            .contains("ASID 176887180519 (party key YEO-812583)"),
        "{asid:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn party_key_matches_case_insensitively_like_sds() {
    lab::needs!(Slapd);
    let (lab, slapd) = directory(SlapdOptions::default()).await;
    let profile = sds_profile(&lab, &slapd, "party_key = \"yes-0000806\"", "");
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        search(&ldap_checks(&run), "party-key")["details"]["entries"],
        5
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_party_key_is_no_entries() {
    lab::needs!(Slapd);
    let (lab, slapd) = directory(SlapdOptions::default()).await;
    let profile = sds_profile(&lab, &slapd, "party_key = \"YES-9999999\"", "");
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 1);
    let check = search(&ldap_checks(&run), "party-key").clone();
    assert_eq!(status(&check), ("fail", "ldap.no_entries"));
    assert!(check["hint"].as_str().unwrap().contains("party key"));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_filter_and_missing_base_are_search_failures() {
    lab::needs!(Slapd);
    let (lab, slapd) = directory(SlapdOptions::default()).await;
    let searches = "[[endpoint.search]]\nname = \"broken\"\nbase = \"ou=services,o=nhs\"\nfilter = \"(&(objectClass=nhsMhs)\"\n\
                    [[endpoint.search]]\nname = \"nowhere\"\nbase = \"ou=nothere,o=nhs\"\nfilter = \"(objectClass=*)\"\n";
    let profile = sds_profile(&lab, &slapd, "", searches);
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 1);
    let checks = ldap_checks(&run);
    let broken = search(&checks, "broken");
    assert_eq!(status(broken), ("fail", "ldap.search_failed"));
    assert!(
        broken["message"].as_str().unwrap().contains("RFC 4515"),
        "{broken:#}"
    );
    let nowhere = search(&checks, "nowhere");
    assert_eq!(status(nowhere), ("fail", "ldap.search_failed"));
    assert!(
        nowhere["message"]
            .as_str()
            .unwrap()
            .contains("32 (noSuchObject)"),
        "{nowhere:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_result_sets_are_bounded() {
    lab::needs!(Slapd);
    let options = SlapdOptions {
        extra_ldif: many_mhs_entries("BIG-0000001", 1500),
        ..SlapdOptions::default()
    };
    let (lab, slapd) = directory(options).await;
    let profile = sds_profile(&lab, &slapd, "party_key = \"BIG-0000001\"", "");
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let check = search(&ldap_checks(&run), "party-key").clone();
    assert_eq!(check["details"]["entries"], 1000);
    assert_eq!(check["details"]["truncated"], true);
    assert_eq!(check["details"]["sample"].as_array().unwrap().len(), 20);
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("(more not read)")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bind_failures_name_the_ldap_result_and_skip_the_searches() {
    lab::needs!(Slapd);
    let (lab, slapd) = directory(SlapdOptions::default()).await;
    let profile = sds_profile(
        &lab,
        &slapd,
        "party_key = \"YES-0000806\"\nasid = \"176887180519\"",
        "bind_dn = \"cn=admin,o=nhs\"\nbind_password_env = \"LAB_LDAP_PASSWORD\"",
    );
    let mut cmd = binary();
    cmd.env("LAB_LDAP_PASSWORD", "wrong");
    let run = run_with(cmd, &["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 1);
    let checks = ldap_checks(&run);
    assert_eq!(status(&checks[0]), ("fail", "ldap.bind_failed"));
    assert!(
        checks[0]["message"]
            .as_str()
            .unwrap()
            .contains("49 (invalidCredentials)"),
        "{:#}",
        checks[0]
    );
    assert_eq!(status(&checks[1]), ("skip", "skip.dependency_failed"));
    assert!(
        !run.stdout.contains("wrong"),
        "the password is never printed"
    );

    let mut cmd = binary();
    cmd.env("LAB_LDAP_PASSWORD", "secret");
    let run = run_with(cmd, &["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);

    let run = lab::run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(status(&ldap_checks(&run)[0]), ("fail", "ldap.bind_failed"));
    assert!(
        ldap_checks(&run)[0]["message"]
            .as_str()
            .unwrap()
            .contains("LAB_LDAP_PASSWORD")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn directory_demanding_a_client_certificate() {
    lab::needs!(Slapd);
    let options = SlapdOptions {
        verify_client: "demand",
        ..SlapdOptions::default()
    };
    let (lab, slapd) = directory(options).await;
    let profile = sds_profile(&lab, &slapd, "party_key = \"YES-0000806\"", "");
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 1);
    assert_eq!(
        status(&run.check("sds", "tls")),
        ("fail", "tls.client_cert_required"),
        "{}",
        run.stdout
    );
    assert_eq!(
        status(&ldap_checks(&run)[0]),
        ("skip", "skip.dependency_failed")
    );

    let (cert, key) = lab.client_identity(&lab.pki, "x.supplier.thirdparty.nhs.uk");
    let run = lab::run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--client-cert",
        p(&cert),
        "--client-key",
        p(&key),
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        search(&ldap_checks(&run), "party-key")["details"]["entries"],
        5
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_that_closes_mid_search_is_a_protocol_error_not_a_hang_or_panic() {
    let lab = Lab::start().await;
    let addr = lab
        .serve("ldap.int.test", lo(1), |spec| {
            spec.reply = HttpReply::LdapCloseMidSearch;
        })
        .await;
    let endpoint = EndpointSpec::new("sds", format!("ldaps://ldap.int.test:{}", addr.port()));
    let profile = lab.profile("sds.toml", &[endpoint], "party_key = \"YES-0000806\"");
    let run = run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--timeout",
        "2s",
    ])
    .await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let check = search(&ldap_checks(&run), "party-key").clone();
    assert_eq!(status(&check), ("fail", "ldap.protocol_error"), "{check:#}");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    // Named as the garbage is read, before the 2 s timeout.
    assert!(run.run_took() < std::time::Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn sds_command_prints_the_registered_endpoints() {
    lab::needs!(Slapd);
    let (lab, slapd) = directory(SlapdOptions::default()).await;
    let profile = sds_profile(&lab, &slapd, "", "");
    let run = lab::run(&[
        "sds",
        "--profile",
        p(&profile),
        "--party-key",
        "YES-0000806",
    ])
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("PARTY KEY")
            && run.stdout.contains("INTERACTION")
            && run.stdout.contains("ENDPOINT")
    );
    assert!(
        run.stdout
            .contains("urn:nhs:names:services:pdsquery:QUPA_IN000008UK02")
    );
    assert!(
        run.stdout
            .contains("https://msg.int.spine2.ncrs.nhs.uk/sync-service")
    );
    assert!(run.stdout.contains("5 entries"));

    let run = lab::run(&[
        "sds",
        "--profile",
        p(&profile),
        "--party-key",
        "YES-0000806",
        "--interaction",
        "urn:nhs:names:services:psis:REPC_IN150016UK05",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(run.code, 0);
    let json = run.json();
    assert_eq!(json["schema"], "int-check.sds.v1");
    assert_eq!(json["count"], 1);
    assert_eq!(
        json["entries"][0]["attributes"]["nhsMHSSyncReplyMode"][0],
        "MSHSignalsOnly"
    );

    let run = lab::run(&["sds", "--profile", p(&profile), "--asid", "176887180519"]).await;
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("ASID")
            && run.stdout.contains("176887180519")
            && run.stdout.contains("NHS e-Referral Service")
    );

    let run = lab::run(&["sds", "--profile", p(&profile), "--party-key", "NOPE-1"]).await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("no entries found"));

    let run = lab::run(&["sds", "--profile", p(&profile)]).await;
    assert_eq!(run.code, 2, "a key is required");
}

#[tokio::test(flavor = "multi_thread")]
async fn sds_command_failures_are_one_line_with_a_hint() {
    let lab = Lab::start().await;
    lab.dns.set("ldap.int.test", DnsAnswer::NxDomain);
    let endpoint = EndpointSpec::new("sds", "ldaps://ldap.int.test:636");
    let profile = lab.profile("sds.toml", &[endpoint], "");
    let run = lab::run(&[
        "sds",
        "--profile",
        p(&profile),
        "--party-key",
        "YES-0000806",
    ])
    .await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.starts_with("error: ")
            && run.stderr.contains("[dns.nxdomain]")
            && run.stderr.contains("\nhint: "),
        "{}",
        run.stderr
    );
}

/// LDAPv3 needs no bind to search, so an anonymous session searches at once; a directory that
/// insists on a bind first gets an anonymous one and the search again.
#[tokio::test(flavor = "multi_thread")]
async fn a_directory_that_requires_a_bind_gets_an_anonymous_one() {
    lab::needs!(Slapd);
    let options = SlapdOptions {
        require_bind: true,
        ..SlapdOptions::default()
    };
    let (lab, slapd) = directory(options).await;
    let profile = sds_profile(&lab, &slapd, "party_key = \"YES-0000806\"", "");
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        search(&ldap_checks(&run), "party-key")["details"]["entries"],
        5
    );
}

/// SDS is mutual TLS: a directory that asks for a client certificate but accepts a session
/// without one is information on the TLS check, not a failure.
#[tokio::test(flavor = "multi_thread")]
async fn a_directory_that_asks_for_a_certificate_and_takes_none_is_noted_not_failed() {
    lab::needs!(Slapd);
    let (lab, slapd) = directory(SlapdOptions::default()).await; // TLSVerifyClient allow
    let mut endpoint = EndpointSpec::new(
        "sds",
        format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
    );
    endpoint.mtls = true;
    let profile = lab.profile("sds.toml", &[endpoint], "party_key = \"YES-0000806\"");
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let tls = run.check("sds", "tls");
    assert_eq!(status(&tls), ("pass", ""));
    assert_eq!(tls["details"]["client_cert_requested"], true);
    assert_eq!(tls["details"]["client_cert_sent"], false);
    assert!(
        tls["message"]
            .as_str()
            .unwrap()
            .contains("the endpoint expects a client certificate, none is configured, and the server accepted the session without one"),
        "{tls:#}"
    );
    assert_eq!(status(&ldap_checks(&run)[0]), ("pass", ""));
}

/// `sds` opens its directory session through the TLS phase's own connect-and-classify path: the
/// same server gets the same reason from `sds` as from `check`'s TLS phase (it used to say
/// `tls.handshake_failed` or `ldap.timeout` where the phase said `tls.client_cert_required` or
/// `tls.handshake_timeout`).
#[tokio::test(flavor = "multi_thread")]
async fn sds_names_a_refusal_as_the_tls_phase_does() {
    let lab = Lab::start().await;
    let mut spec = TlsServerSpec::new(&lab.pki, &lab.pki.leaf(&LeafSpec::server("ldap.int.test")));
    // TLS 1.2: the refusal is part of the handshake itself.
    spec.client_auth = ClientAuth::Required(lab.pki.root.cert.clone());
    spec.tls12_only = true;
    let wants_cert = tls_server(lo(1), spec).await;
    let silent = silent_server(lo(2)).await;
    lab.dns.point("ldap.int.test", &[lo(1)]);
    lab.dns.point("quiet.int.test", &[lo(2)]);
    for (host, addr, expected) in [
        ("ldap.int.test", wants_cert, "tls.client_cert_required"),
        ("quiet.int.test", silent, "tls.handshake_timeout"),
    ] {
        let endpoint = EndpointSpec::new("sds", format!("ldaps://{host}:{}", addr.port()));
        let profile = lab.profile(
            &format!("{host}.toml"),
            &[endpoint],
            "party_key = \"YES-0000806\"",
        );
        let checked = run(&[
            "--profile",
            p(&profile),
            "--format",
            "json",
            "--timeout",
            "1s",
        ])
        .await;
        let phase = checked.check("sds", "tls");
        assert_eq!(phase["reason"], expected, "{}", checked.stdout);
        let looked_up = run(&[
            "sds",
            "--profile",
            p(&profile),
            "--party-key",
            "YES-0000806",
            "--timeout",
            "1s",
        ])
        .await;
        assert_eq!(looked_up.code, 1, "{}", looked_up.stderr);
        assert!(
            looked_up.stderr.contains(&format!("[{expected}]")),
            "sds on {host}: {}",
            looked_up.stderr
        );
    }
}
