//! The chain verdict on its own (`probe::tls::judge`): chains made in the test, judged without a
//! server or a handshake, one rule per test. The TLS phase gives the same verdict (it calls the
//! same function); the fault table shows that through the binary.

use std::sync::Arc;
use std::time::Duration;

use int_check::pki::TrustStore;
use int_check::probe::tls::judge;
use int_check::reasons::Reason;
use int_check_lab as lab;
use lab::{LeafSpec, Pki};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

const HOST: &str = "msg.int.test";
const WARN_WITHIN: Duration = Duration::from_secs(30 * 86_400);

fn trust(certs: &[&CertificateDer<'static>]) -> TrustStore {
    TrustStore::from_certs(
        "test anchors".into(),
        certs.iter().map(|c| (*c).clone()).collect(),
    )
    .expect("usable anchors")
}

/// The verdict's reason (problem, else first warning), and whether it refused the chain.
fn verdict(
    trust: &TrustStore,
    chain: &[CertificateDer<'static>],
    host: &str,
) -> (Option<Reason>, bool) {
    let name = ServerName::try_from(host.to_string()).expect("a name");
    let assessment = judge(trust, chain, &name, UnixTime::now(), WARN_WITHIN).expect("a leaf");
    (assessment.verdict(), assessment.problem.is_some())
}

fn server(pki: &Pki, spec: LeafSpec) -> CertificateDer<'static> {
    pki.leaf(&spec).cert
}

#[test]
fn a_complete_chain_to_a_pinned_root_passes() {
    let pki = Pki::g2();
    let leaf = server(&pki, LeafSpec::server(HOST));
    let anchors = trust(&[&pki.root.cert]);
    assert_eq!(
        verdict(&anchors, &[leaf, pki.subca.cert.clone()], HOST),
        (None, false)
    );
}

#[test]
fn a_missing_intermediate_is_completed_from_the_profile_with_a_warning() {
    let pki = Pki::g2();
    let leaf = server(&pki, LeafSpec::server(HOST));
    let with_subca = trust(&[&pki.root.cert, &pki.subca.cert]);
    assert_eq!(
        verdict(&with_subca, std::slice::from_ref(&leaf), HOST),
        (Some(Reason::TlsMissingIntermediate), false)
    );
    // Without the intermediate pinned either, nothing links the leaf to the root.
    let root_only = trust(&[&pki.root.cert]);
    let (reason, refused) = verdict(&root_only, &[leaf], HOST);
    assert!(refused, "{reason:?}");
}

#[test]
fn a_chain_from_another_hierarchy_is_refused_as_untrusted() {
    let pinned = Pki::g2();
    let stranger = Pki::named("Someone Else Root", "Someone Else Issuing CA");
    let leaf = server(&stranger, LeafSpec::server(HOST));
    let anchors = trust(&[&pinned.root.cert]);
    assert_eq!(
        verdict(&anchors, &[leaf, stranger.subca.cert.clone()], HOST),
        (Some(Reason::TlsUntrustedIssuer), true)
    );
}

#[test]
fn dates_are_judged_on_the_leaf() {
    let pki = Pki::g2();
    let anchors = trust(&[&pki.root.cert]);
    let mut expired = LeafSpec::server(HOST);
    expired.valid_from_days = -60;
    expired.valid_to_days = -1;
    let mut soon = LeafSpec::server(HOST);
    soon.valid_to_days = 5;
    let mut future = LeafSpec::server(HOST);
    future.valid_from_days = 3;
    future.valid_to_days = 300;
    for (spec, expected, refused) in [
        (expired, Reason::TlsExpired, true),
        (soon, Reason::TlsExpiringSoon, false),
        (future, Reason::TlsNotYetValid, true),
    ] {
        let leaf = server(&pki, spec);
        assert_eq!(
            verdict(&anchors, &[leaf, pki.subca.cert.clone()], HOST),
            (Some(expected), refused),
            "{expected:?}"
        );
    }
}

#[test]
fn the_name_is_checked_against_the_host_asked_for() {
    let pki = Pki::g2();
    let leaf = server(&pki, LeafSpec::server(HOST));
    let anchors = trust(&[&pki.root.cert]);
    let chain = [leaf, pki.subca.cert.clone()];
    assert_eq!(verdict(&anchors, &chain, HOST), (None, false));
    assert_eq!(
        verdict(&anchors, &chain, "other.int.test"),
        (Some(Reason::TlsHostnameMismatch), true)
    );
}

#[test]
fn the_verdict_is_the_same_shared_or_not() {
    // The TLS phase shares one verdict per chain across endpoints; judging twice gives the same.
    let pki = Pki::g2();
    let leaf = server(&pki, LeafSpec::server(HOST));
    let anchors = Arc::new(trust(&[&pki.root.cert]));
    let chain = [leaf, pki.subca.cert.clone()];
    assert_eq!(
        int_check::probe::tls::judge_chain(anchors.clone(), &chain, HOST),
        verdict(&anchors, &chain, HOST).0
    );
}
