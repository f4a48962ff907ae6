//! End-to-end tests of the preflight pipeline through the real binary, against the loopback lab.

use int_check_lab as lab;
use std::time::Duration;

use lab::*;

#[tokio::test(flavor = "multi_thread")]
async fn healthy_endpoints_pass_with_chain_and_protocol_reported() {
    let lab = Lab::start().await;
    let addr = lab.serve("msg.int.test", lo(1), |_| {}).await;
    let profile = lab.profile(
        "p.toml",
        &[
            EndpointSpec::new(
                "reliable",
                format!(
                    "https://msg.int.test:{}/reliablemessaging/reliablerequest",
                    addr.port()
                ),
            ),
            EndpointSpec::new(
                "intermediary",
                format!(
                    "https://msg.int.test:{}/reliablemessaging/intermediary",
                    addr.port()
                ),
            ),
            EndpointSpec::new("plain-tcp", format!("tcp://msg.int.test:{}", addr.port())),
        ],
        "",
    );
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    assert_eq!(json["schema"], "int-check.report.v1");
    assert_eq!(json["summary"]["fail"], 0);
    assert_eq!(
        json["summary"]["total"],
        json["checks"].as_array().unwrap().len()
    );
    let dns = run.check("reliable", "dns");
    assert_eq!(status(&dns), ("pass", ""));
    assert_eq!(dns["details"]["addresses"][0], "127.0.0.1");
    assert_eq!(dns["details"]["resolver"], lab.dns.addr.to_string());
    let tls = run.check("reliable", "tls");
    assert_eq!(status(&tls), ("pass", ""), "{tls:#}");
    assert_eq!(tls["address"], addr.to_string());
    assert_eq!(tls["details"]["protocol"], "TLS 1.3");
    let chain = tls["details"]["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[0]["subject"], "CN=msg.int.test");
    assert!(
        chain[1]["subject"]
            .as_str()
            .unwrap()
            .contains("NHS INT Authentication G2")
    );
    assert!(
        chain[1]["issuer"]
            .as_str()
            .unwrap()
            .contains("NHS PTL Root Authority G2")
    );
    assert_eq!(tls["details"]["client_cert_requested"], false);
    // tcp:// endpoints stop after TCP.
    assert!(run.checks("plain-tcp", "tls").is_empty());
    assert_eq!(status(&run.check("plain-tcp", "tcp")), ("pass", ""));
}

/// One endpoint on a fresh lab host, returning the run.
async fn single(lab: &Lab, url: String, extra_args: &[&str]) -> Run {
    let profile = lab.profile("p.toml", &[EndpointSpec::new("svc", url)], "");
    let mut args = vec![
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--timeout",
        "2s",
    ];
    args.extend_from_slice(extra_args);
    run(&args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn nxdomain_fails_dns_and_skips_the_rest() {
    let lab = Lab::start().await;
    lab.dns.set("gone.int.test", DnsAnswer::NxDomain);
    let run = single(&lab, "https://gone.int.test/x".into(), &[]).await;
    assert_eq!(run.code, 1);
    let dns = run.check("svc", "dns");
    assert_eq!(status(&dns), ("fail", "dns.nxdomain"));
    assert!(dns["hint"].as_str().unwrap().contains("155.231.231.1"));
    assert_eq!(
        status(&run.check("svc", "tcp")),
        ("skip", "skip.dependency_failed")
    );
    assert_eq!(
        status(&run.check("svc", "tls")),
        ("skip", "skip.dependency_failed")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn servfail_is_named() {
    let lab = Lab::start().await;
    lab.dns.set("broken.int.test", DnsAnswer::ServFail);
    let run = single(&lab, "https://broken.int.test/".into(), &[]).await;
    assert_eq!(run.code, 1);
    let dns = run.check("svc", "dns");
    assert_eq!(status(&dns), ("fail", "dns.servfail"));
    assert!(
        dns["message"].as_str().unwrap().contains("SERVFAIL"),
        "{dns:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_resolver_times_out_within_the_phase_timeout() {
    let lab = Lab::start().await;
    lab.dns.set("slow.int.test", DnsAnswer::Silent);
    let run = single(&lab, "https://slow.int.test/".into(), &["--timeout", "1s"]).await;
    assert_eq!(run.code, 1);
    assert_eq!(status(&run.check("svc", "dns")), ("fail", "dns.timeout"));
    // Within the phase's timeout (1 s), not a resolver's own longer one.
    let took = run.took("svc", "dns");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_port_is_tcp_refused() {
    let lab = Lab::start().await;
    let port = closed_port(lo(1)).await;
    lab.dns.point("closed.int.test", &[lo(1)]);
    let run = single(&lab, format!("https://closed.int.test:{port}/"), &[]).await;
    assert_eq!(run.code, 1);
    let tcp = run.check("svc", "tcp");
    assert_eq!(status(&tcp), ("fail", "tcp.refused"));
    assert_eq!(tcp["address"], format!("127.0.0.1:{port}"));
    assert_eq!(
        status(&run.check("svc", "tls")),
        ("skip", "skip.dependency_failed")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_server_is_a_handshake_timeout_and_the_run_ends_on_time() {
    let lab = Lab::start().await;
    let addr = silent_server(lo(1)).await;
    lab.dns.point("hole.int.test", &[lo(1)]);
    let run = single(
        &lab,
        format!("https://hole.int.test:{}/", addr.port()),
        &["--timeout", "1s"],
    )
    .await;
    assert_eq!(run.code, 1);
    assert_eq!(status(&run.check("svc", "tcp")), ("pass", ""));
    let tls = run.check("svc", "tls");
    assert_eq!(status(&tls), ("fail", "tls.handshake_timeout"));
    // A silent server costs one timeout (1 s), not two (the small-packet retry runs in the time
    // left, or only when data arrived).
    let took = run.took("svc", "tls");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_leaf_names_the_element_and_date() {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec {
        valid_from_days: -400,
        valid_to_days: -10,
        ..LeafSpec::server("old.int.test")
    });
    let addr = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &leaf)).await;
    lab.dns.point("old.int.test", &[lo(1)]);
    let run = single(&lab, format!("https://old.int.test:{}/", addr.port()), &[]).await;
    assert_eq!(run.code, 1);
    let tls = run.check("svc", "tls");
    assert_eq!(status(&tls), ("fail", "tls.expired"));
    let message = tls["message"].as_str().unwrap();
    assert!(message.contains("'old.int.test' expired on"), "{message}");
    // The rejected chain is still reported.
    assert_eq!(tls["details"]["chain"][0]["subject"], "CN=old.int.test");
}

#[tokio::test(flavor = "multi_thread")]
async fn not_yet_valid_leaf() {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec {
        valid_from_days: 10,
        valid_to_days: 400,
        ..LeafSpec::server("new.int.test")
    });
    let addr = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &leaf)).await;
    lab.dns.point("new.int.test", &[lo(1)]);
    let run = single(&lab, format!("https://new.int.test:{}/", addr.port()), &[]).await;
    assert_eq!(
        status(&run.check("svc", "tls")),
        ("fail", "tls.not_yet_valid")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_host_name_lists_the_names_the_certificate_has() {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec::server("other.int.test"));
    let addr = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &leaf)).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    let run = single(&lab, format!("https://msg.int.test:{}/", addr.port()), &[]).await;
    assert_eq!(run.code, 1);
    let tls = run.check("svc", "tls");
    assert_eq!(status(&tls), ("fail", "tls.hostname_mismatch"));
    let message = tls["message"].as_str().unwrap();
    assert!(
        message.contains("not valid for msg.int.test") && message.contains("other.int.test"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unrelated_root_is_untrusted() {
    let lab = Lab::start().await;
    let stranger = Pki::g2();
    let leaf = stranger.leaf(&LeafSpec::server("msg.int.test"));
    // Only the leaf: the stranger's SubCA name matches the pinned one, but its key does not.
    let mut spec = TlsServerSpec::new(&stranger, &leaf);
    spec.chain.truncate(1);
    let addr = tls_server(lo(1), spec).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    let run = single(&lab, format!("https://msg.int.test:{}/", addr.port()), &[]).await;
    assert_eq!(run.code, 1);
    assert_eq!(
        status(&run.check("svc", "tls")),
        ("fail", "tls.untrusted_issuer")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rogue_ca_with_the_same_names_is_untrusted() {
    let lab = Lab::start().await;
    let rogue = Pki::g2();
    let leaf = rogue.leaf(&LeafSpec::server("msg.int.test"));
    // The rogue sends its own SubCA, named exactly like the real one.
    let addr = tls_server(lo(1), TlsServerSpec::new(&rogue, &leaf)).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    let run = single(&lab, format!("https://msg.int.test:{}/", addr.port()), &[]).await;
    assert_eq!(run.code, 1);
    let tls = run.check("svc", "tls");
    assert_eq!(status(&tls), ("fail", "tls.wrong_intermediate"), "{tls:#}");
    assert!(
        tls["details"]["chain"][1]["subject"]
            .as_str()
            .unwrap()
            .contains("NHS INT Authentication G2")
    );
    // The "wrong SubCA" support call, said exactly.
    let message = tls["message"].as_str().unwrap();
    assert!(
        message.contains(
            "'NHS INT Authentication G2' (position 2 of the chain) carries the name of the pinned"
        ) && message.contains("stale or impostor intermediate"),
        "{message}"
    );
}

/// The server sends an expired copy of the SubCA (same name and key, old validity): the
/// message says it is the server's stale copy, and that the pinned one is valid.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_copy_of_the_subca_is_told_from_an_expired_anchor() {
    let lab = Lab::start().await;
    let mut params = lab.pki.subca.params.clone();
    set_validity(&mut params, -800, -400);
    let stale = params
        .signed_by(&lab.pki.subca.key, &lab.pki.root.issuer())
        .unwrap();
    let leaf = lab.pki.leaf(&LeafSpec::server("msg.int.test"));
    let mut spec = TlsServerSpec::new(&lab.pki, &leaf);
    spec.chain = vec![leaf.cert.clone(), stale.der().clone()];
    let addr = tls_server(lo(1), spec).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    let run = single(&lab, format!("https://msg.int.test:{}/", addr.port()), &[]).await;
    let tls = run.check("svc", "tls");
    assert_eq!(status(&tls), ("fail", "tls.expired"), "{tls:#}");
    let message = tls["message"].as_str().unwrap();
    assert!(
        message.contains("the server sends an old copy") && message.contains("is valid until"),
        "{message}"
    );
}

/// A certificate valid "forever" (notAfter 9999-12-31, RFC 5280's no-expiry date) is reported
/// with an RFC 3339 date, like every other.
#[tokio::test(flavor = "multi_thread")]
async fn a_no_expiry_date_stays_rfc_3339() {
    let lab = Lab::start().await;
    let mut spec = LeafSpec::server("msg.int.test");
    spec.valid_to_days = 3_000_000;
    let leaf = lab.pki.leaf(&spec);
    let addr = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &leaf)).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    let run = single(&lab, format!("https://msg.int.test:{}/", addr.port()), &[]).await;
    let tls = run.check("svc", "tls");
    let not_after = tls["details"]["chain"][0]["not_after"].as_str().unwrap();
    assert!(not_after.starts_with("9999-12-31T"), "{tls:#}");
    // RFC 3339 in full (jiff's own range stops a day short of it, so this checks the shape).
    let shape: Vec<bool> = not_after.bytes().map(|b| b.is_ascii_digit()).collect();
    assert_eq!(not_after.len(), 20, "{not_after}");
    assert!(
        shape[..4].iter().all(|d| *d) && not_after.ends_with('Z'),
        "{not_after}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_intermediate_is_a_warning_when_the_profile_knows_the_subca() {
    let lab = Lab::start().await;
    let addr = lab
        .serve("msg.int.test", lo(1), |spec| {
            spec.chain.truncate(1);
        })
        .await;
    let run = single(&lab, format!("https://msg.int.test:{}/", addr.port()), &[]).await;
    assert_eq!(run.code, 0, "warnings do not fail the run");
    let tls = run.check("svc", "tls");
    assert_eq!(status(&tls), ("warn", "tls.missing_intermediate"));
    assert!(
        tls["message"]
            .as_str()
            .unwrap()
            .contains("NHS INT Authentication G2")
    );

    // Without the SubCA among the anchors, the same server is untrusted.
    let run = single(
        &lab,
        format!("https://msg.int.test:{}/", addr.port()),
        &["--ca-file", p(&lab.root_file)],
    )
    .await;
    assert_eq!(
        status(&run.check("svc", "tls")),
        ("fail", "tls.untrusted_issuer")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cn_only_certificate_is_reported_precisely() {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec {
        cn_only: true,
        ..LeafSpec::server("mesh.int.test")
    });
    let addr = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &leaf)).await;
    lab.dns.point("mesh.int.test", &[lo(1)]);
    let run = single(&lab, format!("https://mesh.int.test:{}/", addr.port()), &[]).await;
    assert_eq!(run.code, 0);
    let tls = run.check("svc", "tls");
    assert_eq!(status(&tls), ("warn", "tls.cn_only"));
    let message = tls["message"].as_str().unwrap();
    assert!(
        message.contains("OpenSSL") && message.contains("rustls"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expiring_soon_is_a_warning() {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec {
        valid_to_days: 10,
        ..LeafSpec::server("soon.int.test")
    });
    let addr = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &leaf)).await;
    lab.dns.point("soon.int.test", &[lo(1)]);
    let run = single(&lab, format!("https://soon.int.test:{}/", addr.port()), &[]).await;
    assert_eq!(run.code, 0);
    let tls = run.check("svc", "tls");
    assert_eq!(status(&tls), ("warn", "tls.expiring_soon"));
    assert!(
        tls["message"].as_str().unwrap().contains("in 9 days")
            || tls["message"].as_str().unwrap().contains("in 10 days")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn client_certificate_required_without_and_with_one() {
    for tls12_only in [false, true] {
        let lab = Lab::start().await;
        let addr = lab
            .serve("msg.int.test", lo(1), |spec| {
                spec.client_auth = ClientAuth::Required(lab.pki.root.cert.clone());
                spec.tls12_only = tls12_only;
            })
            .await;
        let url = format!("https://msg.int.test:{}/", addr.port());

        let run = single(&lab, url.clone(), &[]).await;
        assert_eq!(run.code, 1, "tls12_only={tls12_only}");
        let tls = run.check("svc", "tls");
        assert_eq!(
            status(&tls),
            ("fail", "tls.client_cert_required"),
            "tls12_only={tls12_only}: {tls:#}"
        );
        assert_eq!(tls["details"]["client_cert_requested"], true);
        let names = tls["details"]["acceptable_ca_names"].as_array().unwrap();
        assert!(
            names[0]
                .as_str()
                .unwrap()
                .contains("NHS PTL Root Authority G2"),
            "{names:?}"
        );

        let (cert, key) = lab.client_identity(&lab.pki, "x.supplier.thirdparty.nhs.uk");
        let run = single(
            &lab,
            url.clone(),
            &["--client-cert", p(&cert), "--client-key", p(&key)],
        )
        .await;
        assert_eq!(run.code, 0, "tls12_only={tls12_only}: {}", run.stdout);
        let tls = run.check("svc", "tls");
        assert_eq!(status(&tls), ("pass", ""));
        assert_eq!(tls["details"]["client_cert_sent"], true);
        assert_eq!(
            tls["details"]["protocol"],
            if tls12_only { "TLS 1.2" } else { "TLS 1.3" }
        );

        // A certificate from another CA is rejected by the server.
        let stranger = Pki::g2();
        let (cert, key) = lab.client_identity(&stranger, "y.supplier.thirdparty.nhs.uk");
        let run = single(
            &lab,
            url,
            &["--client-cert", p(&cert), "--client-key", p(&key)],
        )
        .await;
        assert_eq!(run.code, 1);
        let tls = run.check("svc", "tls");
        assert_eq!(
            status(&tls),
            ("fail", "tls.client_cert_rejected"),
            "tls12_only={tls12_only}: {tls:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn optional_client_certificate_is_reported_but_passes() {
    let lab = Lab::start().await;
    let addr = lab
        .serve("msg.int.test", lo(1), |spec| {
            spec.client_auth = ClientAuth::Optional(lab.pki.root.cert.clone());
        })
        .await;
    let run = single(&lab, format!("https://msg.int.test:{}/", addr.port()), &[]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let tls = run.check("svc", "tls");
    assert_eq!(status(&tls), ("pass", ""));
    assert_eq!(tls["details"]["client_cert_requested"], true);
    assert_eq!(tls["details"]["client_cert_sent"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_below_min_tls_is_a_protocol_version_failure() {
    let lab = Lab::start().await;
    let addr = lab
        .serve("old.int.test", lo(1), |spec| {
            spec.tls12_only = true;
        })
        .await;
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new(
            "svc",
            format!("https://old.int.test:{}/", addr.port()),
        )],
        "",
    );
    // The lab profile sets [trust]; append min_tls through a config overlay.
    let config = lab.write("local.toml", "[trust]\nmin_tls = \"1.3\"\n");
    let run = run(&[
        "--profile",
        p(&profile),
        "--config",
        p(&config),
        "--format",
        "json",
    ])
    .await;
    assert_eq!(run.code, 1);
    assert_eq!(
        status(&run.check("svc", "tls")),
        ("fail", "tls.protocol_version")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_dead_address_fails_visibly_while_the_other_passes() {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec::server("msg.int.test"));
    let addr = tls_server(lo(2), TlsServerSpec::new(&lab.pki, &leaf)).await;
    lab.dns.point("msg.int.test", &[lo(2), lo(3)]);
    let run = single(&lab, format!("https://msg.int.test:{}/", addr.port()), &[]).await;
    assert_eq!(run.code, 1);
    let tcp = run.checks("svc", "tcp");
    assert_eq!(tcp.len(), 2);
    let by_address = |ip: &str| {
        tcp.iter()
            .find(|c| c["address"].as_str().unwrap().starts_with(ip))
            .unwrap()
            .clone()
    };
    assert_eq!(status(&by_address("127.0.0.2")), ("pass", ""));
    assert_eq!(status(&by_address("127.0.0.3")), ("fail", "tcp.refused"));
    let tls = run.checks("svc", "tls");
    assert_eq!(tls.len(), 2);
    assert_eq!(tls.iter().filter(|c| c["status"] == "pass").count(), 1);
    assert_eq!(tls.iter().filter(|c| c["status"] == "skip").count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_file_pin_is_a_warning() {
    let lab = Lab::start().await;
    let addr = lab.serve("msg.int.test", lo(1), |_| {}).await;
    let hosts = lab.write(
        "hosts",
        "127.0.0.1 localhost\n10.239.1.2   msg.int.test  # stale pin\n",
    );
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new(
            "svc",
            format!("https://msg.int.test:{}/", addr.port()),
        )],
        "",
    );
    let mut cmd = binary();
    cmd.env("INT_CHECK_HOSTS_FILE", &hosts);
    let run = run_with(cmd, &["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 0);
    let dns = run.check("svc", "dns");
    assert_eq!(status(&dns), ("warn", "dns.hosts_override"));
    assert!(dns["message"].as_str().unwrap().contains("10.239.1.2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_run_concurrently_and_share_one_lookup_per_host() {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec::server("msg.int.test"));
    let good = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &leaf)).await;
    let hole = silent_server(lo(4)).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    lab.dns.point("hole.int.test", &[lo(4)]);
    let mut endpoints: Vec<EndpointSpec> = (0..8)
        .map(|i| {
            EndpointSpec::new(
                &format!("good-{i}"),
                format!("https://msg.int.test:{}/{i}", good.port()),
            )
        })
        .collect();
    for i in 0..3 {
        endpoints.push(EndpointSpec::new(
            &format!("hole-{i}"),
            format!("https://hole.int.test:{}/{i}", hole.port()),
        ));
    }
    let profile = lab.profile("p.toml", &endpoints, "");
    let run = run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--timeout",
        "1s",
    ])
    .await;
    assert_eq!(run.code, 1);
    // Three silent endpoints cost one timeout, not three.
    let took = run.run_took();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let json = run.json();
    assert_eq!(json["summary"]["fail"], 3);
    assert_eq!(
        json["summary"]["skip"], 3,
        "the silent endpoints' HTTP phases"
    );
    assert_eq!(json["summary"]["pass"], 8 * 4 + 3 * 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn human_report_groups_by_endpoint_with_hints_and_a_summary() {
    let lab = Lab::start().await;
    lab.dns.set("gone.int.test", DnsAnswer::NxDomain);
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new("svc", "https://gone.int.test/x")],
        "",
    );
    let run = run(&["--profile", p(&profile)]).await;
    assert_eq!(run.code, 1);
    assert!(
        !run.stdout.contains('\x1b'),
        "no colour when not a terminal"
    );
    assert!(run.stdout.contains("svc  https://gone.int.test/x"));
    assert!(run.stdout.contains("FAIL  dns"));
    assert!(run.stdout.contains("[dns.nxdomain]"));
    assert!(run.stdout.contains("hint: "));
    assert!(
        run.stdout
            .contains("0 passed, 0 warned, 1 failed, 3 skipped in ")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_loopback_endpoint_passes_every_phase() {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec::server("v6.int.test"));
    let v6: std::net::IpAddr = "::1".parse().unwrap();
    let addr = tls_server(v6, TlsServerSpec::new(&lab.pki, &leaf)).await;
    lab.dns.point("v6.int.test", &[v6]);
    let run = single(&lab, format!("https://v6.int.test:{}/", addr.port()), &[]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.check("svc", "dns")["details"]["addresses"][0], "::1");
    let tls = run.check("svc", "tls");
    assert_eq!(tls["address"], format!("[::1]:{}", addr.port()));
    assert_eq!(status(&tls), ("pass", ""));
    assert_eq!(status(&run.check("svc", "http")), ("pass", ""));
}

/// Regression: an endpoint with its own `ca_files` keeps its anchors whatever the selection.
/// (Trust stores were once a list by position, built before selection and read after it.)
#[tokio::test(flavor = "multi_thread")]
async fn endpoint_anchors_survive_selection() {
    let lab = Lab::start().await;
    let first = lab.serve("msg.int.test", lo(1), |_| {}).await;
    let own = Pki::g2();
    let leaf = own.leaf(&LeafSpec::server("mesh.int.test"));
    let second = tls_server(lo(2), TlsServerSpec::new(&own, &leaf)).await;
    lab.dns.point("mesh.int.test", &[lo(2)]);
    let own_root = lab.write("own-root.pem", &own.root.pem);
    let profile = lab.profile(
        "p.toml",
        &[
            EndpointSpec::new("first", format!("https://msg.int.test:{}/", first.port()))
                .with("service = \"spine-core\""),
            EndpointSpec::new(
                "second",
                format!("https://mesh.int.test:{}/", second.port()),
            )
            .with("service = \"mesh\"")
            .with(&format!("ca_files = [\"{}\"]", p(&own_root))),
        ],
        "",
    );
    let profile = p(&profile);
    for selection in [
        &[][..],
        &["--endpoint", "second"][..],
        &["--service", "mesh"][..],
        &["--endpoint", "sec*"][..],
    ] {
        let mut args = vec!["check", "--profile", profile, "--format", "json"];
        args.extend_from_slice(selection);
        let run = run(&args).await;
        let tls = run.check("second", "tls");
        assert_eq!(status(&tls).0, "pass", "{selection:?}: {tls:#}");
        assert_eq!(run.code, 0, "{selection:?}: {}", run.stdout);
    }
    // The first endpoint is still judged against the profile's anchors, not the second's.
    let run = run(&[
        "check",
        "--profile",
        profile,
        "--format",
        "json",
        "--endpoint",
        "first",
    ])
    .await;
    assert_eq!(status(&run.check("first", "tls")).0, "pass");
}

/// A bug (a panic) in one endpoint's probes fails that endpoint with run.internal_error; the
/// other endpoints' results and the report survive, and the exit code is 1, not 3.
#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_probe_costs_its_endpoint_not_the_run() {
    let lab = Lab::start().await;
    let addr = lab.serve("msg.int.test", lo(1), |_| {}).await;
    let url = format!("https://msg.int.test:{}/", addr.port());
    let profile = lab.profile(
        "p.toml",
        &[
            EndpointSpec::new("first", url.clone()),
            EndpointSpec::new("second", url),
        ],
        "",
    );
    let mut cmd = binary();
    cmd.env("INT_CHECK_LAB_PANIC", "tls:first");
    let run = run_with(cmd, &["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let tls = run.check("first", "tls");
    assert_eq!(status(&tls), ("fail", "run.internal_error"));
    assert!(
        tls["details"]["error"]
            .as_str()
            .unwrap()
            .contains("failpoint")
    );
    assert_eq!(status(&run.check("first", "tcp")).0, "pass");
    assert_eq!(status(&run.check("first", "http")).0, "skip");
    assert_eq!(status(&run.check("second", "tls")).0, "pass");
    assert_eq!(status(&run.check("second", "http")).0, "pass");
}

/// 0.0.0.0 is always a filter's answer; a loopback answer is one too unless the profile says
/// it reaches INT through a local tunnel ([dns] allow_loopback).
#[tokio::test(flavor = "multi_thread")]
async fn sinkhole_answers_fail_and_loopback_needs_saying_so() {
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
    let strict = lab.write("strict.toml", "[dns]\nallow_loopback = false\n");
    let run = run(&[
        "--profile",
        p(&profile),
        "--config",
        p(&strict),
        "--format",
        "json",
    ])
    .await;
    assert_eq!(run.code, 1);
    let dns = run.check("svc", "dns");
    assert_eq!(status(&dns), ("fail", "dns.sinkhole"));
    assert!(
        dns["message"].as_str().unwrap().contains("127.0.0.1"),
        "{dns:#}"
    );
    assert!(dns["hint"].as_str().unwrap().contains("allow_loopback"));
    assert_eq!(status(&run.check("svc", "tcp")).0, "skip");
    // The lab's own profile allows loopback: the same endpoint passes.
    let run = lab::run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
}

/// With one configured DNS server dead and another answering, the DNS phase ends when the
/// answer arrives, not at the timeout; the report says the dead one gave no answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_dns_server_does_not_hold_the_phase() {
    let lab = Lab::start().await;
    let addr = lab.serve("msg.int.test", lo(1), |_| {}).await;
    let dead = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap().to_string();
    let live = lab.dns.addr.to_string();
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new(
            "svc",
            format!("https://msg.int.test:{}/", addr.port()),
        )],
        "",
    );
    let run = run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--timeout",
        "4s",
        "--resolver",
        &dead_addr,
        "--resolver",
        &live,
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let dns = run.check("svc", "dns");
    assert!(dns["duration_ms"].as_u64().unwrap() < 1000, "{dns:#}");
    assert_eq!(dns["details"]["servers"][&dead_addr], "no answer (yet)");
    assert_eq!(dns["details"]["resolver"], live);
    drop(dead);
}

/// TLS 1.3: the server's verdict on our certificate arrives on the first read. With an HTTP
/// phase after it, no time is spent waiting in the TLS phase: the HTTP read meets the alert and
/// the TLS check reports it. With `--only tls`, the TLS phase waits one round trip for it.
#[tokio::test(flavor = "multi_thread")]
async fn a_tls13_client_certificate_rejection_is_a_tls_finding_without_a_wait() {
    let lab = Lab::start().await;
    let stranger = Pki::g2();
    let root = stranger.root.cert.clone();
    let addr = lab
        .serve("msg.int.test", lo(1), |s| {
            s.client_auth = ClientAuth::Required(root)
        })
        .await;
    let (cert, key) = lab.client_identity(&lab.pki, "me.int.test");
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new(
            "svc",
            format!("https://msg.int.test:{}/", addr.port()),
        )],
        "",
    );
    let base = [
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--client-cert",
        p(&cert),
        "--client-key",
        p(&key),
    ];
    let run = lab::run(&base).await;
    assert_eq!(run.code, 1);
    let tls = run.check("svc", "tls");
    assert_eq!(
        status(&tls),
        ("fail", "tls.client_cert_rejected"),
        "{tls:#}"
    );
    assert!(
        tls["message"]
            .as_str()
            .unwrap()
            .contains("by the http phase"),
        "{tls:#}"
    );
    assert_eq!(status(&run.check("svc", "http")).0, "skip");

    let mut only_tls = base.to_vec();
    only_tls.extend(["--only", "tls"]);
    let run = lab::run(&only_tls).await;
    let tls = run.check("svc", "tls");
    assert_eq!(
        status(&tls),
        ("fail", "tls.client_cert_rejected"),
        "{tls:#}"
    );
}

/// The report shows what the network cost: round trips per check.
#[tokio::test(flavor = "multi_thread")]
async fn round_trips_are_counted_per_check() {
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
    let run = lab::run(&["--profile", p(&profile), "--format", "json"]).await;
    for (kind, trips) in [("dns", 1), ("tcp", 1), ("tls", 1), ("http", 1)] {
        assert_eq!(
            run.check("svc", kind)["details"]["round_trips"],
            trips,
            "{kind}"
        );
    }
}

/// The same chain seen on several endpoints is verified once per run, but a verdict is shared
/// only where everything that decides it is the same: the name asked for and the anchors.
#[tokio::test(flavor = "multi_thread")]
async fn a_shared_chain_verdict_never_crosses_names_or_anchors() {
    let lab = Lab::start().await;
    let addr = lab.serve("msg.int.test", lo(1), |_| {}).await;
    lab.dns.point("alias.int.test", &[lo(1)]);
    let other = Pki::g2();
    let other_root = lab.write("other-root.pem", &other.root.pem);
    let url = |host: &str, path: &str| format!("https://{host}:{}/{path}", addr.port());
    let profile = lab.profile(
        "p.toml",
        &[
            EndpointSpec::new("a", url("msg.int.test", "a")),
            EndpointSpec::new("b", url("msg.int.test", "b")),
            EndpointSpec::new("wrong-name", url("alias.int.test", "c")),
            EndpointSpec::new("other-anchors", url("msg.int.test", "d"))
                .with(&format!("ca_files = [\"{}\"]", p(&other_root))),
        ],
        "",
    );
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(status(&run.check("a", "tls")), ("pass", ""));
    assert_eq!(status(&run.check("b", "tls")), ("pass", ""));
    assert_eq!(
        status(&run.check("wrong-name", "tls")),
        ("fail", "tls.hostname_mismatch")
    );
    assert_eq!(status(&run.check("other-anchors", "tls")).0, "fail");
    // The shared verdict still carries the chain on every endpoint that saw it.
    assert_eq!(
        run.check("b", "tls")["details"]["chain"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// `trust = "public"`: an internet endpoint is judged against the public web roots, never the
/// profile's NHS anchors (and a chain under the NHS root is then untrusted).
#[tokio::test(flavor = "multi_thread")]
async fn public_trust_uses_the_web_roots_not_the_profile_anchors() {
    let lab = Lab::start().await;
    let addr = lab.serve("api.int.test", lo(1), |_| {}).await;
    let url = format!("https://api.int.test:{}/_ping", addr.port());
    let profile = lab.profile(
        "p.toml",
        &[
            EndpointSpec::new("pinned", url.clone()),
            EndpointSpec::new("public", url).with("trust = \"public\""),
        ],
        "",
    );
    let checked = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(status(&checked.check("pinned", "tls")), ("pass", ""));
    let public = checked.check("public", "tls");
    assert_eq!(status(&public).0, "fail", "{public:#}");
    assert!(
        public["message"]
            .as_str()
            .unwrap()
            .contains("public web roots"),
        "{public:#}"
    );
    let plan = run(&["--profile", p(&profile), "--dry-run"]).await;
    assert!(plan.stdout.contains("public web roots"), "{}", plan.stdout);

    let both = lab.profile(
        "both.toml",
        &[EndpointSpec::new("x", "https://a.int.test/")
            .with("trust = \"public\"\nca_files = [\"/x.pem\"]")],
        "",
    );
    let run = run(&["--profile", p(&both), "--dry-run"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("both say which anchors"),
        "{}",
        run.stderr
    );
}

/// Split DNS with two servers: names in a `[[dns.zone]]` go to its servers, the rest to the
/// `[dns]` servers, and each DNS check says which was asked and why.
#[tokio::test(flavor = "multi_thread")]
async fn dns_zones_send_hscn_names_to_their_own_servers() {
    let lab = Lab::start().await; // lab.dns: the default servers, which know only internet names
    let hscn_dns = DnsServer::start().await;
    let spine = lab.serve("msg.int.spine2.ncrs.nhs.uk", lo(1), |_| {}).await;
    hscn_dns.point("msg.int.spine2.ncrs.nhs.uk", &[lo(1)]);
    lab.dns
        .set("msg.int.spine2.ncrs.nhs.uk", DnsAnswer::NxDomain);
    let api = lab.serve("api.int.test", lo(2), |_| {}).await;
    let endpoints = [
        EndpointSpec::new(
            "spine",
            format!(
                "https://msg.int.spine2.ncrs.nhs.uk:{}/healthcheck",
                spine.port()
            ),
        ),
        EndpointSpec::new("api", format!("https://api.int.test:{}/_ping", api.port())),
    ];
    let zone = format!(
        "[[dns.zone]]\nname = \"ncrs.nhs.uk\"\nservers = [\"{}\"]\n",
        hscn_dns.addr
    );
    let text = std::fs::read_to_string(lab.profile("p.toml", &endpoints, "")).unwrap();
    // The zone table goes after [dns] (TOML: an array of tables under dns).
    let split = lab.write(
        "split.toml",
        &text.replace("[trust]\n", &format!("{zone}[trust]\n")),
    );
    let run1 = run(&["--profile", p(&split), "--format", "json"]).await;
    assert_eq!(run1.code, 0, "{}", run1.stdout);
    let spine_dns = run1.check("spine", "dns");
    assert_eq!(status(&spine_dns), ("pass", ""));
    assert!(
        spine_dns["details"]["asked"]
            .as_str()
            .unwrap()
            .contains("[[dns.zone]] ncrs.nhs.uk"),
        "{spine_dns:#}"
    );
    let api_dns = run1.check("api", "dns");
    assert!(
        api_dns["details"]["asked"]
            .as_str()
            .unwrap()
            .contains("[dns] servers; no [[dns.zone]] holds it"),
        "{api_dns:#}"
    );
    let networks = run1.json()["summary"]["networks"].clone();
    assert_eq!(networks[0]["network"], "hscn");
    assert_eq!(networks[0]["connected"], 1);
    let human = run(&["--profile", p(&split)]).await;
    assert!(
        human.stdout.contains("networks: HSCN reached (1 of 1 endpoints connected); internet reached (1 of 1 endpoints connected)"),
        "{}",
        human.stdout
    );

    // Without the zone, the default servers (not HSCN resolvers) say the HSCN name does not
    // exist: they do not forward the HSCN zone, and the message names them.
    let run2 = run(&[
        "--profile",
        p(&lab.write("plain.toml", &text)),
        "--format",
        "json",
    ])
    .await;
    let spine = run2.check("spine", "dns");
    assert_eq!(status(&spine), ("fail", "dns.no_forwarder"), "{spine:#}");
    assert!(
        spine["message"]
            .as_str()
            .unwrap()
            .contains("the resolver you named"),
        "{spine:#}"
    );
    let plan = run(&["--profile", p(&split), "--dry-run"]).await;
    assert!(
        plan.stdout
            .contains(&format!("; ncrs.nhs.uk via {}", hscn_dns.addr)),
        "{}",
        plan.stdout
    );
}

/// Issue 24: a support desk tests one node behind a name. `--connect-to HOST:IP` (or an
/// endpoint's `address`) connects there while SNI, the certificate's name check and the HTTP
/// Host stay the URL's host; the name is not looked up, and the report shows both.
#[tokio::test(flavor = "multi_thread")]
async fn connect_to_reaches_one_node_and_keeps_the_name() {
    let lab = Lab::start().await;
    // The node to test, and what DNS says (a port that refuses).
    let node = lab.serve("node.int.test", lo(5), |_| {}).await;
    lab.dns.point("node.int.test", &[lo(6)]);
    let url = format!("https://node.int.test:{}/", node.port());
    let by_dns = single(&lab, url.clone(), &[]).await;
    assert_eq!(by_dns.code, 1);
    assert_eq!(status(&by_dns.check("svc", "tcp")), ("fail", "tcp.refused"));

    let told = single(
        &lab,
        url.clone(),
        &["--connect-to", "node.int.test:127.0.0.5"],
    )
    .await;
    assert_eq!(told.code, 0, "{}", told.stdout);
    let dns = told.check("svc", "dns");
    assert_eq!(dns["status"], "skip", "{dns:#}");
    assert!(
        dns["message"].as_str().unwrap().contains("127.0.0.5"),
        "{dns:#}"
    );
    let tcp = told.check("svc", "tcp");
    assert_eq!(tcp["address"], format!("127.0.0.5:{}", node.port()));
    assert_eq!(tcp["target"], format!("node.int.test:{}", node.port()));
    // The name check ran against the URL's host, through SNI.
    assert_eq!(status(&told.check("svc", "tls")), ("pass", ""));
    assert_eq!(status(&told.check("svc", "http")), ("pass", ""));

    // The same from the profile, and a host that no endpoint has is refused by name.
    let profile = lab.profile(
        "node.toml",
        &[EndpointSpec::new("svc", url).with("address = \"127.0.0.5\"")],
        "",
    );
    let keyed = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(keyed.code, 0, "{}", keyed.stdout);
    let wrong = run(&[
        "--profile",
        p(&profile),
        "--connect-to",
        "other.int.test:127.0.0.5",
    ])
    .await;
    assert_eq!(wrong.code, 2);
    assert!(
        wrong.stderr.contains("no endpoint of profile"),
        "{}",
        wrong.stderr
    );
    assert!(wrong.stderr.contains("node.int.test"), "{}", wrong.stderr);
    let garbled = run(&["--profile", p(&profile), "--connect-to", "node.int.test"]).await;
    assert_eq!(garbled.code, 2);
    assert!(garbled.stderr.contains("HOST:IP"), "{}", garbled.stderr);
}
