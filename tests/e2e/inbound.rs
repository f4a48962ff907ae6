//! Your own endpoint as Spine will reach it: the lab supplier's MHS records (real slapd) point
//! at a loopback TLS server standing in for the supplier's message handler, with the right and
//! the wrong certificate, with and without a client-certificate request.

use int_check_lab as lab;

use lab::slapd::{SUPPLIER_PARTY_KEY, Slapd, SlapdOptions, supplier_ldif};
use lab::*;
use serde_json::Value;

const FQDN: &str = "mhs.xyz.int.test";

/// Runs `int-check inbound` (and `check`) against a supplier endpoint shaped by `configure`,
/// served under the name `served_as`, and returns the JSON reports.
async fn inbound(served_as: &str, configure: impl FnOnce(&Lab, &mut TlsServerSpec)) -> (Run, Run) {
    // A lab of its own: each case has its own directory.
    let lab = &Lab::start().await;
    let addr = lab
        .serve(served_as, lo(2), |spec| configure(lab, spec))
        .await;
    lab.dns.point(FQDN, &[lo(2)]);
    let url = format!("https://{FQDN}:{}/reliablemessaging", addr.port());
    let options = SlapdOptions {
        extra_ldif: supplier_ldif(FQDN, &url),
        ..SlapdOptions::default()
    };
    let slapd = tokio::task::block_in_place(|| Slapd::start(lab, lo(1), options));
    lab.dns.point("ldap.int.test", &[lo(1)]);
    let endpoint = EndpointSpec::new(
        "sds",
        format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
    );
    let profile = lab.profile(&format!("in-{}.toml", addr.port()), &[endpoint], "");
    let (cert, key) = lab.client_identity(&lab.pki, FQDN);
    let config = lab.write(
        &format!("in-{}-config.toml", addr.port()),
        &format!(
            "[client]\ncert = \"{}\"\nkey = \"{}\"\nfqdn = \"{FQDN}\"\nparty_key = \"{SUPPLIER_PARTY_KEY}\"\n",
            p(&cert),
            p(&key)
        ),
    );
    let args = [
        "--profile",
        p(&profile),
        "--config",
        p(&config),
        "--format",
        "json",
    ];
    let mut inbound_args = vec!["inbound"];
    inbound_args.extend(args);
    let only = lab::run(&inbound_args).await;
    let whole = lab::run(&args).await;
    drop(slapd);
    (only, whole)
}

fn inbound_check(run: &Run) -> Value {
    let checks = run.json()["checks"].as_array().unwrap().clone();
    checks
        .into_iter()
        .find(|c| c["kind"] == "inbound")
        .unwrap_or_else(|| panic!("no inbound check: {}", run.stdout))
}

#[tokio::test(flavor = "multi_thread")]
async fn your_endpoint_is_judged_as_spine_will_reach_it() {
    lab::needs!(Slapd);
    // Right certificate, asks for a client certificate from the lab's G2 pair.
    let (only, whole) = inbound(FQDN, |lab, spec| {
        spec.client_auth = ClientAuth::Optional(lab.pki.root.cert.clone())
    })
    .await;
    assert_eq!(only.code, 0, "{}\n{}", only.stdout, only.stderr);
    let check = inbound_check(&only);
    assert_eq!(status(&check), ("pass", ""), "{check:#}");
    let message = check["message"].as_str().unwrap();
    assert!(
        message.contains("asks for a client certificate from NHS PTL Root Authority G2")
            && message.contains("not from Spine")
            && message.contains("TCP 443")
            || message.contains("allow TCP"),
        "{message}"
    );
    assert!(message.contains("10.239.0.0/16"), "{message}");
    // The endpoint is marked as yours, and `inbound` probes nothing else.
    let json = only.json();
    let endpoints = json["endpoints"].as_array().unwrap();
    assert!(
        endpoints.iter().any(|e| e["origin"] == "inbound"
            && e["name"] == "inbound:mhs.xyz.int.test/reliablemessaging"),
        "{endpoints:#?}"
    );
    assert!(!endpoints.iter().any(|e| e["name"] == "sds"));
    // `check` includes the same judgement, after the profile's endpoints.
    assert_eq!(status(&inbound_check(&whole)), ("pass", ""));
    assert_eq!(whole.code, 0, "{}", whole.stdout);

    // No client-certificate request.
    let (only, _) = inbound(FQDN, |_, _| {}).await;
    assert_eq!(only.code, 1);
    assert_eq!(
        status(&inbound_check(&only)),
        ("fail", "inbound.no_client_cert_request")
    );

    // Asks for certificates from another CA (named like the legacy G1 root).
    let g1 = Pki::g1_shaped();
    let (only, _) = inbound(FQDN, |_, spec| {
        spec.client_auth = ClientAuth::Optional(g1.root.cert.clone())
    })
    .await;
    let check = inbound_check(&only);
    assert_eq!(
        status(&check),
        ("fail", "inbound.wrong_ca_names"),
        "{check:#}"
    );
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("CN=NHS PTL Root Authority"),
        "{check:#}"
    );

    // The wrong certificate: issued for another name. The TLS phase says so.
    let (only, _) = inbound("other.xyz.int.test", |lab, spec| {
        spec.client_auth = ClientAuth::Optional(lab.pki.root.cert.clone())
    })
    .await;
    assert_eq!(only.code, 1);
    let tls = only.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "tls")
        .cloned()
        .unwrap();
    assert_eq!(tls["status"], "fail", "{tls:#}");
    assert!(
        tls["reason"].as_str().unwrap().starts_with("tls."),
        "{tls:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn inbound_without_a_party_key_is_a_usage_error() {
    let lab = Lab::start().await;
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new("sds", "ldaps://ldap.int.test:636")],
        "",
    );
    let run = lab::run(&["inbound", "--profile", p(&profile)]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("[client] party_key"), "{}", run.stderr);
}
