//! The HTTPS phase end to end: real TLS servers on loopback answering like Spine services.

use int_check_lab as lab;
use std::time::Duration;

use lab::*;

/// Starts one HTTPS endpoint answering `reply` and runs the binary against it.
async fn serve(reply: HttpReply, endpoint_toml: &str, args: &[&str]) -> (Lab, Run) {
    let lab = Lab::start().await;
    let addr = lab
        .serve("msg.int.test", lo(1), |spec| {
            spec.reply = reply;
        })
        .await;
    let endpoint = EndpointSpec::new(
        "svc",
        format!(
            "https://msg.int.test:{}/reliablemessaging/reliablerequest",
            addr.port()
        ),
    )
    .with(endpoint_toml);
    let profile = lab.profile("p.toml", &[endpoint], "");
    let mut all = vec![
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--timeout",
        "2s",
    ];
    all.extend_from_slice(args);
    let run = run(&all).await;
    (lab, run)
}

#[tokio::test(flavor = "multi_thread")]
async fn soap_endpoint_answering_405_to_a_get_is_reachable() {
    let (_lab, run) = serve(HttpReply::status("405 Method Not Allowed"), "", &[]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let http = run.check("svc", "http");
    assert_eq!(status(&http), ("pass", ""));
    assert_eq!(http["details"]["status"], 405);
    assert_eq!(http["details"]["server"], "lab");
    assert_eq!(http["details"]["http_version"], "HTTP/1.1");
    assert!(http["details"]["time_to_first_byte_ms"].is_u64());
    assert!(
        http["message"]
            .as_str()
            .unwrap()
            .starts_with("405 Method Not Allowed from lab")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expect_status_not_met_fails_with_the_body_quoted() {
    let (_lab, run) = serve(
        HttpReply::status("500 Internal Server Error"),
        "expect_status = [200, 405]",
        &[],
    )
    .await;
    assert_eq!(run.code, 1);
    let http = run.check("svc", "http");
    assert_eq!(status(&http), ("fail", "http.unexpected_status"));
    let message = http["message"].as_str().unwrap();
    // The lab echoes the request line: GET by default, over the endpoint path.
    assert!(
        message.contains("expected 200 or 405")
            && message.contains("GET /reliablemessaging/reliablerequest"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn method_is_configurable() {
    let (_lab, run) = serve(
        HttpReply::status("418 I'm a teapot"),
        "method = \"POST\"\nexpect_status = [200]",
        &[],
    )
    .await;
    let http = run.check("svc", "http");
    assert_eq!(http["details"]["method"], "POST");
    assert!(
        http["message"]
            .as_str()
            .unwrap()
            .contains("POST /reliablemessaging"),
        "{http:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redirect_is_reported_with_its_location_and_not_followed() {
    let reply = HttpReply::Echo {
        status: "302 Found".into(),
        headers: "Location: https://login.example/portal\r\n".into(),
    };
    let (_lab, run) = serve(reply, "", &[]).await;
    assert_eq!(run.code, 0);
    let http = run.check("svc", "http");
    assert_eq!(status(&http), ("warn", "http.redirect"));
    assert_eq!(http["details"]["location"], "https://login.example/portal");
}

#[tokio::test(flavor = "multi_thread")]
async fn body_that_never_finishes_does_not_hang_the_run() {
    let (_lab, run) = serve(HttpReply::SlowBody, "expect_status = [200]", &[]).await;
    assert_eq!(run.code, 1);
    let http = run.check("svc", "http");
    assert_eq!(status(&http), ("fail", "http.unexpected_status"));
    assert!(
        http["message"]
            .as_str()
            .unwrap()
            .contains("<soap:Fault>slow"),
        "{http:#}"
    );
    // Bounded by the phase's own timeout (5 s), not by the server: one wait, not more.
    let took = run.took("svc", "http");
    assert!(took < Duration::from_secs(2 * 5), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn server_that_never_answers_is_an_http_timeout() {
    let (_lab, run) = serve(HttpReply::Silent, "", &["--timeout", "1s"]).await;
    assert_eq!(run.code, 1);
    assert_eq!(status(&run.check("svc", "tls")), ("pass", ""));
    assert_eq!(status(&run.check("svc", "http")), ("fail", "http.timeout"));
    // One timeout (1 s), not two.
    let took = run.took("svc", "http");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(2),
        "took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn skewed_server_clock_is_a_warning() {
    let reply = HttpReply::Echo {
        status: "200 OK".into(),
        headers: "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n".into(),
    };
    let (_lab, run) = serve(reply, "", &[]).await;
    assert_eq!(run.code, 0);
    let http = run.check("svc", "http");
    assert_eq!(status(&http), ("warn", "clock.skew"));
    assert!(http["hint"].as_str().unwrap().contains("expired"));
}

#[tokio::test(flavor = "multi_thread")]
async fn hscn_mesh_style_400_without_a_client_certificate() {
    // Like HSCN MESH: the handshake completes without a certificate, then HTTP 400.
    let lab = Lab::start().await;
    let addr = lab
        .serve("mesh.int.test", lo(1), |spec| {
            spec.client_auth = ClientAuth::Optional(lab.pki.root.cert.clone());
            spec.reply = HttpReply::NginxClientCert;
        })
        .await;
    let url = format!(
        "https://mesh.int.test:{}/messageexchange/_ping",
        addr.port()
    );
    let profile = lab.profile("p.toml", &[EndpointSpec::new("mesh", url)], "");

    let run = lab::run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 1);
    assert_eq!(status(&run.check("mesh", "tls")), ("pass", ""));
    let http = run.check("mesh", "http");
    assert_eq!(
        status(&http),
        ("fail", "http.client_cert_rejected"),
        "{http:#}"
    );
    assert!(
        http["message"]
            .as_str()
            .unwrap()
            .contains("No required SSL certificate was sent")
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
    assert_eq!(status(&run.check("mesh", "http")), ("pass", ""));
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_is_used_and_reported_unless_no_proxy_covers_the_host() {
    let lab = Lab::start().await;
    let addr = lab.serve("msg.int.test", lo(1), |_| {}).await;
    let dead_proxy = format!("http://user:secret@127.0.0.1:{}", closed_port(lo(1)).await);
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new(
            "svc",
            format!("https://msg.int.test:{}/", addr.port()),
        )],
        &format!("[http]\nproxy = \"{dead_proxy}\"\n"),
    );
    let run = lab::run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 1);
    // The whole endpoint goes through the proxy: a dead proxy is the TCP phase's finding, named
    // as the proxy's, and the endpoint itself is never tried.
    let tcp = run.check("svc", "tcp");
    assert_eq!(status(&tcp), ("fail", "proxy.unreachable"), "{tcp:#}");
    assert!(
        tcp["details"]["proxy"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert_eq!(tcp["details"]["original_reason"], "tcp.refused");
    assert_eq!(status(&run.check("svc", "http")).0, "skip");
    assert!(
        !run.stdout.contains("secret"),
        "proxy credentials must not be printed"
    );

    let mut cmd = binary();
    cmd.env("NO_PROXY", ".int.test");
    let run = run_with(cmd, &["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.check("svc", "http")["details"].get("proxy").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_go_through_a_working_https_proxy() {
    let lab = Lab::start().await;
    let addr = lab
        .serve("proxied.int.test", lo(1), |spec| {
            spec.reply = HttpReply::status("405 Method Not Allowed");
        })
        .await;
    let (proxy, log) = connect_proxy().await;
    PROXY_MAP
        .lock()
        .unwrap()
        .insert(format!("proxied.int.test:{}", addr.port()), addr);
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new(
            "svc",
            format!("https://proxied.int.test:{}/x", addr.port()),
        )],
        "",
    );
    let mut cmd = binary();
    cmd.env("HTTPS_PROXY", format!("http://{proxy}"));
    let run = run_with(cmd, &["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let http = run.check("svc", "http");
    assert_eq!(status(&http), ("pass", ""));
    assert_eq!(http["details"]["proxy"], format!("http://{proxy}"));
    assert_eq!(http["details"]["status"], 405);
    assert_eq!(
        log.lock().unwrap().as_slice(),
        [format!("proxied.int.test:{}", addr.port())]
    );
}

/// HTTP answers that go wrong in different ways are told apart: a body that stalls, an endless
/// run of 1xx, a head that never finishes, bytes that are not HTTP, a status outside 100-599.
#[tokio::test(flavor = "multi_thread")]
async fn broken_http_answers_are_told_apart() {
    let cases: Vec<(HttpReply, (&str, &str), &str)> = vec![
        (
            HttpReply::StalledBody,
            ("fail", "http.timeout"),
            "200 OK from lab, but the body stalled after 16 of 100000 bytes",
        ),
        (
            HttpReply::Informational,
            ("fail", "http.timeout"),
            "informational (1xx) answer(s) but no final answer",
        ),
        (
            HttpReply::PartialHead,
            ("fail", "http.timeout"),
            "started an answer ('HTTP/1.1 200 OK') but did not finish its head",
        ),
        (
            HttpReply::Raw(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()),
            ("fail", "http.protocol_error"),
            "something that is not HTTP: 'SSH-2.0-OpenSSH_9.2'",
        ),
        (
            HttpReply::Raw(b"HTTP/1.1 700 Odd\r\nContent-Length: 0\r\n\r\n".to_vec()),
            ("fail", "http.protocol_error"),
            "status 700, which is not an HTTP status (100-599)",
        ),
        (
            HttpReply::Echo {
                status: "200 OK".into(),
                headers: "Date: Sat, 01 Jan 2000 00:00:00 GMT\r\n".into(),
            },
            ("warn", "clock.skew"),
            "that server's clock is wrong",
        ),
    ];
    for (reply, expected, words) in cases {
        let (_lab, run) = serve(reply, "", &["--timeout", "1s"]).await;
        let http = run.check("svc", "http");
        assert_eq!(status(&http), expected, "{http:#}");
        let message = http["message"].as_str().unwrap();
        assert!(message.contains(words), "{message}");
        assert!(!message.contains("invalid HTTP"), "{message}");
        // The stalls cost one timeout (1 s), not two; the rest are named as the answer is read,
        // before the timeout.
        let took = run.took("svc", "http");
        let bound = if expected.1 == "http.timeout" {
            Duration::from_secs(2)
        } else {
            Duration::from_secs(1)
        };
        assert!(took < bound, "{}: took {took:?}", expected.1);
    }
}

/// One server two hours off while another agrees with this machine: that server's clock is
/// blamed. Both off by the same: this machine's clock is.
#[tokio::test(flavor = "multi_thread")]
async fn clock_skew_blames_the_clock_the_other_answers_disagree_with() {
    let date = |offset_hours: i64| {
        let at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(offset_hours);
        format!(
            "Date: {}\r\n",
            jiff::fmt::rfc2822::DateTimePrinter::new()
                .timestamp_to_rfc9110_string(&at)
                .unwrap()
        )
    };
    for (offsets, words) in [
        (
            [-2i64, 0],
            "other server(s) agree with this machine's clock",
        ),
        ([-2, -2], "fix this machine's clock"),
    ] {
        let lab = Lab::start().await;
        let mut endpoints = Vec::new();
        for (i, offset) in offsets.iter().enumerate() {
            let host = format!("s{i}.int.test");
            let headers = date(*offset);
            let addr = lab
                .serve(&host, lo(1 + i as u8), move |s| {
                    s.reply = HttpReply::Echo {
                        status: "200 OK".into(),
                        headers,
                    }
                })
                .await;
            endpoints.push(EndpointSpec::new(
                &format!("s{i}"),
                format!("https://{host}:{}/", addr.port()),
            ));
        }
        let profile = lab.profile("p.toml", &endpoints, "");
        let run = run(&["--profile", p(&profile), "--format", "json"]).await;
        let skewed = run.check("s0", "http");
        assert_eq!(status(&skewed), ("warn", "clock.skew"));
        assert!(
            skewed["message"].as_str().unwrap().contains(words),
            "{skewed:#}"
        );
    }
}

/// An HTTP/1.1 200 answer with this content type and body, closing the connection.
fn answer(content_type: &str, body: &str) -> HttpReply {
    HttpReply::Raw(
        format!(
            "HTTP/1.1 200 OK\r\nServer: lab\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

const DISCOVERY: &str = r#"{"issuer":"https://am.int.test:443/openam/oauth2/realms/root/realms/NHSIdentity/realms/Healthcare","jwks_uri":"https://am.int.test/jwks","scopes_supported":["openid","profile"],"claims":{"nested":[{"n":2}]}}"#;

#[tokio::test(flavor = "multi_thread")]
async fn expect_json_compares_fields_and_urls_as_urls() {
    // NHS's discovery documents write the issuer with an explicit :443: the same URL.
    let issuer =
        "https://am.int.test/openam/oauth2/realms/root/realms/NHSIdentity/realms/Healthcare";
    let (_lab, run) = serve(
        answer("application/json", DISCOVERY),
        &format!("expect_status = [200]\nexpect_json = {{ issuer = \"{issuer}\", \"claims.nested.0.n\" = 2, \"scopes_supported.1\" = \"profile\" }}"),
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(status(&run.check("svc", "http")), ("pass", ""));

    // Another realm is another issuer: the message says what was expected and what came.
    let (_lab, run) = serve(
        answer("application/json", DISCOVERY),
        "expect_json = { issuer = \"https://am.int.test/openam/oauth2/realms/root/realms/Other\" }",
        &[],
    )
    .await;
    let http = run.check("svc", "http");
    assert_eq!(status(&http), ("fail", "http.unexpected_body"), "{http:#}");
    let message = http["message"].as_str().unwrap();
    assert!(
        message.contains(
            "expected issuer = \"https://am.int.test/openam/oauth2/realms/root/realms/Other\""
        ) && message.contains("got \"https://am.int.test:443/openam"),
        "{message}"
    );

    // A field that is not there is named.
    let (_lab, run) = serve(
        answer("application/json", DISCOVERY),
        "expect_json = { \"claims.version\" = \"1\" }",
        &[],
    )
    .await;
    let message = run.check("svc", "http")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("the JSON has no claims.version"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ping_that_answers_a_login_page_is_not_a_pass() {
    // `expect_json = {}`: any JSON body; a proxy's HTML page is not the service.
    let (_lab, run) = serve(
        answer("application/json", r#"{"version":"1.2.3"}"#),
        "expect_json = {}",
        &[],
    )
    .await;
    assert_eq!(status(&run.check("svc", "http")), ("pass", ""));
    let (_lab, run) = serve(
        answer("text/html", "<html><body>Please sign in</body></html>"),
        "expect_json = {}",
        &[],
    )
    .await;
    let http = run.check("svc", "http");
    assert_eq!(status(&http), ("fail", "http.unexpected_body"));
    let message = http["message"].as_str().unwrap();
    assert!(
        message.contains("expected a JSON body; got \"<html><body>Please sign in"),
        "{message}"
    );
    assert!(
        http["hint"]
            .as_str()
            .unwrap()
            .contains("login or error page")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expect_body_looks_for_text() {
    let (_lab, run) = serve(
        answer("text/plain", "Spine OK"),
        "expect_body = \"OK\"",
        &[],
    )
    .await;
    assert_eq!(status(&run.check("svc", "http")), ("pass", ""));
    let (_lab, run) = serve(
        answer("text/plain", "degraded"),
        "expect_body = \"OK\"",
        &[],
    )
    .await;
    let http = run.check("svc", "http");
    assert_eq!(status(&http), ("fail", "http.unexpected_body"));
    assert!(
        http["message"]
            .as_str()
            .unwrap()
            .contains("expected the body to contain \"OK\"; got \"degraded\""),
        "{http:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn body_expectations_are_checked_when_the_profile_loads() {
    let lab = Lab::start().await;
    for (toml, url, words) in [
        (
            "expect_json = {}",
            "ldaps://ldap.int.test:636",
            "apply to https:// endpoints only",
        ),
        (
            "method = \"HEAD\"\nexpect_body = \"x\"",
            "https://a.int.test/",
            "a HEAD answer has none",
        ),
        (
            "expect_json = { when = 2026-01-01 }",
            "https://a.int.test/",
            "a TOML date cannot be compared with JSON",
        ),
    ] {
        let profile = lab.profile("p.toml", &[EndpointSpec::new("e", url).with(toml)], "");
        let run = run(&["--profile", p(&profile), "--dry-run"]).await;
        assert_eq!(run.code, 2, "{toml}: {}", run.stderr);
        assert!(run.stderr.contains(words), "{toml}: {}", run.stderr);
    }
}
