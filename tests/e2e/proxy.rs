//! Endpoints reached through an HTTP proxy, against Debian's squid and against proxies made here
//! that go wrong on purpose. The endpoints' names are known only to the proxy (squid's own hosts
//! file); the tests' resolver knows only the proxy's name: a run that passes proves the DNS,
//! TCP, CONNECT, TLS and HTTP phases all went through the proxy.

use std::process::Command;
use std::sync::Arc;

use int_check_lab as lab;
use lab::proxies::{BLOCKED_HOST, BadProxy, Squid, bad_proxy, intercepting_proxy};
use lab::*;

const HOST: &str = "spine.proxy.test";
const PROXY_NAME: &str = "proxy.lab.test";

/// A TLS server for HOST (the lab PKI) that no resolver of the test knows.
async fn hidden_server(lab: &Lab) -> std::net::SocketAddr {
    let leaf = lab.pki.leaf(&LeafSpec::server(HOST));
    tls_server(lo(2), TlsServerSpec::new(&lab.pki, &leaf)).await
}

fn json_run(profile: &std::path::Path) -> Vec<String> {
    vec![
        "--profile".into(),
        p(profile).into(),
        "--format".into(),
        "json".into(),
        "--timeout".into(),
        "3s".into(),
    ]
}

async fn run_args(cmd: Command, args: &[String]) -> Run {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_with(cmd, &args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_phase_goes_through_squid() {
    lab::needs!(Squid);
    let lab = Lab::start().await;
    let server = hidden_server(&lab).await;
    let squid = Squid::start(lab.dir.path(), &[(HOST, lo(2))]).await;
    lab.dns.point(PROXY_NAME, &[lo(1)]);
    let url = format!("https://{HOST}:{}/", server.port());
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new("svc", url.clone())],
        &format!(
            "[http]\nproxy = \"http://{PROXY_NAME}:{}\"\n",
            squid.open.port()
        ),
    );
    let run = run_args(binary(), &json_run(&profile)).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let dns = run.check("svc", "dns");
    assert_eq!(status(&dns), ("pass", ""), "{dns:#}");
    let said = dns["message"].as_str().unwrap();
    assert!(said.contains(PROXY_NAME), "{said}");
    assert!(
        said.contains(&format!("{HOST} is looked up by the proxy")),
        "{said}"
    );
    let tcp = run.check("svc", "tcp");
    assert_eq!(tcp["address"], squid.open.to_string(), "{tcp:#}");
    assert_eq!(
        tcp["details"]["proxy"],
        format!("http://{PROXY_NAME}:{}", squid.open.port())
    );
    let tunnel = run.check("svc", "proxy");
    assert_eq!(status(&tunnel), ("pass", ""), "{tunnel:#}");
    assert_eq!(tunnel["details"]["proxy_status"], 200);
    assert_eq!(status(&run.check("svc", "tls")), ("pass", ""));
    let http = run.check("svc", "http");
    assert_eq!(status(&http), ("pass", ""), "{http:#}");
    assert_eq!(http["details"]["status"], 200);

    // The text report shows the phase in its place, between TCP and TLS.
    let text = run_args(
        binary(),
        &[
            "--profile".into(),
            p(&profile).into(),
            "--timeout".into(),
            "3s".into(),
        ],
    )
    .await;
    assert_eq!(text.code, 0, "{}", text.stdout);
    let (tcp_at, proxy_at, tls_at) = (
        text.stdout.find("PASS  tcp  ").unwrap(),
        text.stdout.find("PASS  proxy ").unwrap(),
        text.stdout.find("PASS  tls  ").unwrap(),
    );
    assert!(tcp_at < proxy_at && proxy_at < tls_at, "{}", text.stdout);

    // The dry run shows the route, and the phase.
    let plan = lab::run(&["--profile", p(&profile), "--dry-run"]).await;
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    assert!(
        plan.stdout.contains("dns > tcp > proxy > tls > http"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!(
            "through the proxy http://{PROXY_NAME}:{} ([http] proxy)",
            squid.open.port()
        )),
        "{}",
        plan.stdout
    );

    // `proxy = "none"` on the endpoint goes direct: the name is then looked up here, and the
    // lab's resolver does not know it.
    let direct = lab.profile(
        "direct.toml",
        &[EndpointSpec::new("svc", url).with("proxy = \"none\"")],
        &format!(
            "[http]\nproxy = \"http://{PROXY_NAME}:{}\"\n",
            squid.open.port()
        ),
    );
    let run = run_args(binary(), &json_run(&direct)).await;
    assert_eq!(run.code, 1);
    assert_eq!(status(&run.check("svc", "dns")).0, "fail");
    assert!(run.checks("svc", "proxy").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn squid_refusals_are_named_and_credentials_never_printed() {
    lab::needs!(Squid, Curl);
    let lab = Lab::start().await;
    let server = hidden_server(&lab).await;
    let squid = Squid::start(lab.dir.path(), &[(HOST, lo(2))]).await;
    let dead = closed_port(lo(2)).await;
    let via = |port: u16, userinfo: &str| format!("proxy = \"http://{userinfo}127.0.0.1:{port}\"");
    let good = format!("{}:{}@", Squid::USER, Squid::PASSWORD);
    let wrong = format!("{}:not-the-password@", Squid::USER);
    let url = format!("https://{HOST}:{}/", server.port());
    let endpoints = [
        EndpointSpec::new("no-credentials", url.clone()).with(&via(squid.auth.port(), "")),
        EndpointSpec::new("wrong-password", url.clone()).with(&via(squid.auth.port(), &wrong)),
        EndpointSpec::new("authenticated", url.clone()).with(&via(squid.auth.port(), &good)),
        EndpointSpec::new("ldaps-port", format!("ldaps://{HOST}:636"))
            .with(&via(squid.open.port(), "")),
        EndpointSpec::new(
            "blocked-host",
            format!("https://{BLOCKED_HOST}:{}/", server.port()),
        )
        .with(&via(squid.open.port(), "")),
        EndpointSpec::new("host-down", format!("https://{HOST}:{dead}/"))
            .with(&via(squid.open.port(), "")),
    ];
    let profile = lab.profile("p.toml", &endpoints, "");
    let mut args = json_run(&profile);
    args.push("-vv".into());
    let run = run_args(binary(), &args).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let tunnel = |name: &str| {
        let check = run.check(name, "proxy");
        let (state, reason) = status(&check);
        (
            state.to_string(),
            reason.to_string(),
            check["message"].as_str().unwrap().to_string(),
        )
    };

    let (state, reason, said) = tunnel("no-credentials");
    assert_eq!(
        (state.as_str(), reason.as_str()),
        ("fail", "proxy.auth_required")
    );
    assert!(
        said.contains("none were given") && said.contains("asks for Basic"),
        "{said}"
    );
    let (_, reason, said) = tunnel("wrong-password");
    assert_eq!(reason, "proxy.auth_required");
    assert!(said.contains("refused the credentials given"), "{said}");
    assert_eq!(status(&run.check("authenticated", "http")), ("pass", ""));

    let (_, reason, said) = tunnel("ldaps-port");
    assert_eq!(reason, "proxy.refused");
    assert!(
        said.contains("ERR_ACCESS_DENIED") && said.contains("port 636"),
        "{said}"
    );
    let (_, reason, said) = tunnel("blocked-host");
    assert_eq!(reason, "proxy.refused");
    assert!(
        said.contains(BLOCKED_HOST) && !said.contains("port 636"),
        "{said}"
    );
    let (_, reason, said) = tunnel("host-down");
    assert_eq!(reason, "proxy.upstream_failed");
    assert!(said.contains("ERR_CONNECT_FAIL"), "{said}");
    for name in ["no-credentials", "ldaps-port", "host-down"] {
        assert_eq!(status(&run.check(name, "tls")).0, "skip");
    }
    // Neither the report nor the -vv log carries a password, nor the Basic token made from it.
    let token = int_check::text::base64(format!("{}:{}", Squid::USER, Squid::PASSWORD).as_bytes());
    for secret in [Squid::PASSWORD, "not-the-password", token.as_str()] {
        assert!(!run.stdout.contains(secret), "the report prints {secret}");
        assert!(!run.stderr.contains(secret), "the log prints {secret}");
    }

    // The same credentials from a variable the profile names, the URL carrying none.
    let named = lab.profile(
        "named.toml",
        &[EndpointSpec::new("svc", url.clone()).with(&via(squid.auth.port(), ""))],
        "[http]\nproxy_credentials_env = \"LAB_PROXY_AUTH\"\n",
    );
    let mut cmd = binary();
    cmd.env(
        "LAB_PROXY_AUTH",
        format!("{}:{}", Squid::USER, Squid::PASSWORD),
    );
    let run = run_args(cmd, &json_run(&named)).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(!run.stdout.contains(Squid::PASSWORD));

    // curl on the same proxy: the same verdicts, with fewer words (its exit code 56 and the
    // status alone: no scheme asked for, no squid error code, no hint).
    let curl = |proxy: String| {
        Command::new("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "--max-time",
                "5",
                "--proxy",
                &proxy,
            ])
            .args(["--cacert", p(&lab.root_file)])
            .arg(&url)
            .env_clear()
            .output()
            .unwrap()
    };
    let refused = curl(format!("http://{}", squid.auth));
    assert_eq!(refused.status.code(), Some(56));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("407"));
}

#[tokio::test(flavor = "multi_thread")]
async fn proxies_that_misbehave_are_named() {
    let lab = Lab::start().await;
    let cases = [
        (
            BadProxy::Silent,
            "proxy",
            "proxy.timeout",
            "did not answer CONNECT",
        ),
        (
            BadProxy::Closes,
            "proxy",
            "proxy.closed",
            "without answering CONNECT",
        ),
        (
            BadProxy::NotHttp,
            "proxy",
            "proxy.protocol_error",
            "SSH-2.0",
        ),
        (
            BadProxy::ClosesTunnel,
            "tls",
            "tls.handshake_failed",
            "closed during the TLS handshake",
        ),
    ];
    let mut endpoints = Vec::new();
    for (i, (how, ..)) in cases.iter().enumerate() {
        let proxy = bad_proxy(*how).await;
        endpoints.push(
            EndpointSpec::new(&format!("case{i}"), format!("https://{HOST}/"))
                .with(&format!("proxy = \"http://{proxy}\"")),
        );
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
    for (i, (how, kind, reason, words)) in cases.iter().enumerate() {
        let check = run.check(&format!("case{i}"), kind);
        assert_eq!(status(&check), ("fail", *reason), "{how:?}: {check:#}");
        let said = check["message"].as_str().unwrap();
        assert!(said.contains(words), "{how:?}: {said}");
    }
    // One timeout for a silent proxy, not two.
    assert!(run.took("case0", "proxy") < std::time::Duration::from_millis(1900));
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_interception_names_the_ca_that_resigned_the_chain() {
    let lab = Lab::start().await;
    let inspector = Arc::new(Pki::named("Corp Inspection Root", "Corp Inspection CA"));
    let proxy = intercepting_proxy(inspector).await;
    let via = format!("proxy = \"http://{proxy}\"");
    let profile = lab.profile(
        "p.toml",
        &[
            // An NHS name under the profile's pinned anchors, and a public-CA host.
            EndpointSpec::new("spine", format!("https://{HOST}/")).with(&via),
            EndpointSpec::new("public", "https://api.service.nhs.uk/")
                .with(&via)
                .with("trust = \"public\""),
        ],
        "",
    );
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 1);
    for name in ["spine", "public"] {
        let tls = run.check(name, "tls");
        assert_eq!(status(&tls), ("fail", "tls.intercepted"), "{tls:#}");
        let said = tls["message"].as_str().unwrap();
        assert!(said.contains("Corp Inspection CA"), "{said}");
        assert!(said.contains(&proxy.to_string()), "{said}");
    }

    // openssl s_client through the same proxy sees the same chain, and says only that it
    // cannot verify it.
    lab::needs!(Openssl);
    let out = Command::new("openssl")
        .args(["s_client", "-proxy", &proxy.to_string(), "-connect"])
        .arg(format!("{HOST}:443"))
        .args([
            "-servername",
            HOST,
            "-CAfile",
            p(&lab.root_file),
            "-verify_return_error",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("Corp Inspection"), "{said}");
}

/// The directory searches and the MESH handshake go through the tunnel too: slapd and the lab's
/// MESH server are known to squid only.
#[tokio::test(flavor = "multi_thread")]
async fn ldaps_and_mesh_go_through_the_tunnel() {
    lab::needs!(Squid, Slapd);
    let lab = Lab::start().await;
    let slapd = tokio::task::block_in_place(|| {
        lab::slapd::Slapd::start(&lab, lo(3), lab::slapd::SlapdOptions::default())
    });
    let mesh_leaf = lab.pki.leaf(&LeafSpec::server("mesh.proxy.test"));
    let mut spec = TlsServerSpec::new(&lab.pki, &mesh_leaf);
    let (password, key) = ("pw-through-the-proxy", "key-through-the-proxy");
    spec.reply = HttpReply::Mesh(MeshLab::new("X26OT181", password, key, 0));
    let mesh = tls_server(lo(2), spec).await;
    let squid = Squid::start(
        lab.dir.path(),
        &[("ldap.int.test", lo(3)), ("mesh.proxy.test", lo(2))],
    )
    .await;
    lab.dns.point(PROXY_NAME, &[lo(1)]);
    let via = format!("proxy = \"http://{PROXY_NAME}:{}\"", squid.open.port());
    let profile = lab.profile(
        "p.toml",
        &[
            EndpointSpec::new("sds", format!("ldaps://ldap.int.test:{}", slapd.addr.port()))
                .with(&via),
            EndpointSpec::new(
                "mesh",
                format!("https://mesh.proxy.test:{}/messageexchange/_ping", mesh.port()),
            ),
        ],
        &format!(
            "party_key = \"YES-0000806\"\n[mesh]\nmailbox = \"X26OT181\"\npassword_env = \"LAB_MESH_PASSWORD\"\nshared_key_env = \"LAB_MESH_KEY\"\n[http]\nproxy = \"http://{PROXY_NAME}:{}\"\n",
            squid.open.port()
        ),
    );
    let mut cmd = binary();
    cmd.env("LAB_MESH_PASSWORD", password)
        .env("LAB_MESH_KEY", key);
    let run = run_args(cmd, &json_run(&profile)).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(status(&run.check("sds", "proxy")), ("pass", ""));
    let search = &run.checks("sds", "ldap")[0];
    assert_eq!(status(search), ("pass", ""), "{search:#}");
    assert_eq!(search["details"]["entries"], 5);
    assert_eq!(status(&run.check("mesh", "proxy")), ("pass", ""));
    let handshake = run.check("mesh", "mesh");
    assert_eq!(status(&handshake), ("pass", ""), "{handshake:#}");
    assert!(!run.stdout.contains(password) && !run.stdout.contains(key));
}
