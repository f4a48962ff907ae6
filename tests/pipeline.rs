//! End-to-end tests of the preflight pipeline through the real binary, against the loopback lab.

mod lab;

use lab::*;
use serde_json::Value;

fn status(check: &Value) -> (&str, &str) {
    (
        check["status"].as_str().unwrap(),
        check["reason"].as_str().unwrap_or(""),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn healthy_endpoints_pass_with_chain_and_protocol_reported() {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec::server("msg.int.test"));
    let addr = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &leaf)).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    let profile = lab.profile(
        "p.toml",
        &[
            EndpointSpec::new("reliable", format!("https://msg.int.test:{}/reliablemessaging/reliablerequest", addr.port())),
            EndpointSpec::new("intermediary", format!("https://msg.int.test:{}/reliablemessaging/intermediary", addr.port())),
            EndpointSpec::new("plain-tcp", format!("tcp://msg.int.test:{}", addr.port())),
        ],
        "",
    );
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    assert_eq!(json["schema"], "int-check.report.v1");
    assert_eq!(json["summary"]["fail"], 0);
    assert_eq!(json["summary"]["total"], json["checks"].as_array().unwrap().len());
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
    assert!(chain[1]["subject"].as_str().unwrap().contains("NHS INT Authentication G2"));
    assert!(chain[1]["issuer"].as_str().unwrap().contains("NHS PTL Root Authority G2"));
    assert_eq!(tls["details"]["client_cert_requested"], false);
    // tcp:// endpoints stop after TCP.
    assert!(run.checks("plain-tcp", "tls").is_empty());
    assert_eq!(status(&run.check("plain-tcp", "tcp")), ("pass", ""));
}
