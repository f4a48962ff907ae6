//! Your side: your own records in a real slapd (the lab supplier's AS and MHS records), judged
//! through the real binary by `check` and `sds --mine`, and the `sds --ods/--fqdn` look-ups.

use int_check_lab as lab;

use lab::slapd::{
    SUPPLIER_ASID, SUPPLIER_INTERACTIONS, SUPPLIER_ODS, SUPPLIER_PARTY_KEY, Slapd, SlapdOptions,
    supplier_ldif,
};
use lab::*;
use serde_json::Value;

const FQDN: &str = "mhs.xyz.int.test";

async fn directory() -> (Lab, Slapd) {
    let lab = Lab::start().await;
    let options = SlapdOptions {
        extra_ldif: supplier_ldif(FQDN, "https://mhs.xyz.int.test/reliablemessaging"),
        ..SlapdOptions::default()
    };
    let slapd = tokio::task::block_in_place(|| Slapd::start(&lab, lo(1), options));
    lab.dns.point("ldap.int.test", &[lo(1)]);
    (lab, slapd)
}

/// A profile with the directory only, and a config with the client identity and `client` lines.
fn files(lab: &Lab, slapd: &Slapd, cert_name: &str, client: &str) -> (String, String) {
    let endpoint = EndpointSpec::new(
        "sds",
        format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
    );
    let profile = lab.profile("sds.toml", &[endpoint], "");
    let (cert, key) = lab.client_identity(&lab.pki, cert_name);
    let config = lab.write(
        &format!("mine-{cert_name}.toml"),
        &format!(
            "[client]\ncert = \"{}\"\nkey = \"{}\"\n{client}\n",
            p(&cert),
            p(&key)
        ),
    );
    (p(&profile).to_string(), p(&config).to_string())
}

fn mine() -> String {
    format!(
        "fqdn = \"{FQDN}\"\nasid = \"{SUPPLIER_ASID}\"\nparty_key = \"{SUPPLIER_PARTY_KEY}\"\nods = \"{SUPPLIER_ODS}\"\ninteractions = {:?}",
        SUPPLIER_INTERACTIONS
    )
}

fn registration(run: &Run) -> Vec<Value> {
    run.checks("client-registration", "registration")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_correct_registration_passes_and_shows_its_settings() {
    lab::needs!(Slapd);
    let (lab, slapd) = directory().await;
    let (profile, config) = files(&lab, &slapd, FQDN, &mine());
    let run = run(&[
        "--profile",
        &profile,
        "--config",
        &config,
        "--format",
        "json",
    ])
    .await;
    // The registered endpoint itself does not exist in the lab's DNS: the run fails there only.
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        status(&run.check("inbound:mhs.xyz.int.test/reliablemessaging", "dns")),
        ("fail", "dns.nxdomain")
    );
    assert_eq!(run.json()["summary"]["fail"], 1);
    let checks = registration(&run);
    assert_eq!(checks.len(), 3, "{checks:#?}");
    assert!(checks.iter().all(|c| c["status"] == "pass"), "{checks:#?}");
    let as_record = &checks[0];
    assert!(
        as_record["message"]
            .as_str()
            .unwrap()
            .contains("ASID 200000000101: party key XYZ-0000101, ODS code XYZ, product Lab Supplier MHS, 2 interactions"),
        "{as_record:#}"
    );
    let mhs = &checks[1];
    assert!(
        mhs["message"].as_str().unwrap().contains(
            "2 MHS records; retries 2 every PT1M, persist PT5M, ack always, sync reply MSHSignalsOnly (2 records)"
        ),
        "{mhs:#}"
    );
    assert_eq!(mhs["details"]["entries"], 2);
    assert_eq!(
        mhs["details"]["sample"][0]["attributes"]["nhsMhsFQDN"][0],
        FQDN
    );
    assert!(checks[2]["message"].as_str().unwrap().contains(FQDN));
    // Reported first, before the endpoints, under its own heading.
    let json = run.json();
    let headings: Vec<&str> = json["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        headings,
        [
            "client-identity",
            "client-registration",
            "sds",
            "inbound:mhs.xyz.int.test/reliablemessaging"
        ]
    );

    // `sds --mine` says the same, and lists the records.
    let shown = lab::run(&["sds", "--mine", "--profile", &profile, "--config", &config]).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.contains("client-registration")
            && shown.stdout.contains("S200000101000")
            && shown.stdout.contains("REPC_IN150016UK05"),
        "{}",
        shown.stdout
    );
    let json = lab::run(&[
        "sds",
        "--mine",
        "--profile",
        &profile,
        "--config",
        &config,
        "--format",
        "json",
    ])
    .await;
    assert_eq!(json.code, 0);
    assert_eq!(registration(&json).len(), 3);
    // --dry-run says what the directory's answers will add, without asking it.
    let planned = lab::run(&["--profile", &profile, "--config", &config, "--dry-run"]).await;
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    assert!(
        planned.stdout.contains("directory registration: the records of ASID 200000000101 and party key XYZ-0000101 (2 interaction(s) listed)")
            && planned.stdout.contains("directory inbound: every URL your MHS records register"),
        "{}",
        planned.stdout
    );
    // --skip registration leaves it out.
    let skipped = lab::run(&[
        "--profile",
        &profile,
        "--config",
        &config,
        "--format",
        "json",
        "--skip",
        "registration",
    ])
    .await;
    assert!(registration(&skipped).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn each_registration_problem_is_named() {
    lab::needs!(Slapd);
    let (lab, slapd) = directory().await;
    let cases: [(&str, &str, &str, &str); 4] = [
        (
            FQDN,
            "asid = \"200000000101\"\nparty_key = \"XYZ-0000101\"\nods = \"ABC\"",
            "registration.as_mismatch",
            "ODS code XYZ (you said ABC)",
        ),
        (
            FQDN,
            "asid = \"200000000101\"\nparty_key = \"XYZ-0000101\"\ninteractions = [\"urn:nhs:names:services:psis:REPC_IN150016UK05\", \"urn:x:NOT_THERE\"]",
            "registration.interaction_missing",
            "does not register 1 of your interactions: urn:x:NOT_THERE",
        ),
        (
            FQDN,
            "party_key = \"XYZ-0000101\"\ninteractions = [\"urn:x:NOT_THERE\"]",
            "registration.mhs_not_found",
            "no MHS record for 1 of your interactions: urn:x:NOT_THERE",
        ),
        (
            "old.xyz.int.test",
            "party_key = \"XYZ-0000101\"",
            "registration.fqdn_mismatch",
            "the records register mhs.xyz.int.test, but your client certificate is issued for old.xyz.int.test",
        ),
    ];
    for (cert_name, client, reason, words) in cases {
        let (profile, config) = files(&lab, &slapd, cert_name, client);
        let run = run(&[
            "--profile",
            &profile,
            "--config",
            &config,
            "--format",
            "json",
        ])
        .await;
        assert_eq!(run.code, 1, "{reason}: {}", run.stdout);
        let failed: Vec<Value> = registration(&run)
            .into_iter()
            .filter(|c| c["status"] == "fail")
            .collect();
        let named = failed
            .iter()
            .find(|c| c["reason"] == reason)
            .unwrap_or_else(|| panic!("{reason}: {failed:#?}"));
        let message = named["message"].as_str().unwrap();
        assert!(message.contains(words), "{reason}: {message}");
        assert!(named["hint"].as_str().unwrap().len() > 20);
    }
    // A directory that cannot be reached fails the registration with the reason it gave.
    let (profile, config) = files(&lab, &slapd, FQDN, &mine());
    let down = lab.write(
        "down.toml",
        &std::fs::read_to_string(&profile)
            .unwrap()
            .replace(&slapd.addr.port().to_string(), "9"),
    );
    let run = run(&[
        "--profile",
        p(&down),
        "--config",
        &config,
        "--format",
        "json",
    ])
    .await;
    let checks = registration(&run);
    assert!(
        checks.iter().all(|c| c["reason"] == "tcp.refused"
            && c["message"]
                .as_str()
                .unwrap()
                .contains("could not be asked")),
        "{checks:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sds_finds_records_by_ods_code_and_fqdn() {
    lab::needs!(Slapd);
    let (lab, slapd) = directory().await;
    let (profile, _) = files(&lab, &slapd, FQDN, "");
    for (flags, count) in [
        (vec!["--ods", "XYZ"], 2),
        (
            vec!["--ods", "XYZ", "--interaction", SUPPLIER_INTERACTIONS[1]],
            1,
        ),
        (vec!["--ods", "XYZ", "--fqdn", "MHS.xyz.int.test"], 2),
        (vec!["--party-key", SUPPLIER_PARTY_KEY, "--fqdn", FQDN], 2),
        (vec!["--ods", "XYZ", "--fqdn", "nobody.int.test"], 0),
    ] {
        let mut args = vec!["sds", "--profile", &profile, "--format", "json"];
        args.extend(flags.iter().copied());
        let run = lab::run(&args).await;
        assert_eq!(
            run.code,
            if count == 0 { 1 } else { 0 },
            "{flags:?}: {}",
            run.stderr
        );
        assert_eq!(run.json()["count"], count, "{flags:?}");
    }
    let wrong = lab::run(&["sds", "--profile", &profile, "--interaction", "urn:x"]).await;
    assert_eq!(wrong.code, 2);
    let no_registration = lab::run(&["sds", "--profile", &profile, "--mine"]).await;
    assert_eq!(no_registration.code, 2);
    assert!(
        no_registration.stderr.contains("[client] asid"),
        "{}",
        no_registration.stderr
    );
}

/// `--discover`: what the directory registers under the profile's party key is probed in the
/// same run (new URLs only, bounded), and the disagreements are listed both ways.
#[tokio::test(flavor = "multi_thread")]
async fn discovery_probes_what_the_directory_registers() {
    lab::needs!(Slapd);
    let lab = Lab::start().await;
    let served = lab.serve(FQDN, lo(2), |_| {}).await;
    lab.dns.point(FQDN, &[lo(2)]);
    let registered = format!("https://{FQDN}:{}/reliablemessaging", served.port());
    let options = SlapdOptions {
        extra_ldif: supplier_ldif(FQDN, &registered),
        ..SlapdOptions::default()
    };
    let slapd = tokio::task::block_in_place(|| Slapd::start(&lab, lo(1), options));
    lab.dns.point("ldap.int.test", &[lo(1)]);
    let directory = EndpointSpec::new(
        "sds",
        format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
    );
    let unlisted = EndpointSpec::new(
        "old-mhs",
        format!("https://{FQDN}:{}/reliablemessaging/old", served.port()),
    );
    let ids = format!("party_key = \"{SUPPLIER_PARTY_KEY}\"");
    let summary = |run: &Run| run.check("directory-discovery", "ldap");

    // The profile does not list the registered URL: it is probed, marked as the directory's.
    let profile = lab.profile(
        "discover.toml",
        &[directory.clone(), unlisted.clone()],
        &ids,
    );
    let run = lab::run(&["--profile", p(&profile), "--discover", "--format", "json"]).await;
    let found = summary(&run);
    assert_eq!(found["status"], "pass", "{found:#}");
    let message = found["message"].as_str().unwrap();
    assert!(
        message.contains("registers 1 endpoint URLs under XYZ-0000101 (2 MHS records): 0 already in the profile, 1 more probed below")
            && message.contains("the profile's messaging endpoint https://")
            && message.contains("/reliablemessaging/old is not registered there"),
        "{message}"
    );
    assert_eq!(found["details"]["not_in_profile"][0], registered);
    assert!(
        found["details"]["not_in_directory"][0]
            .as_str()
            .unwrap()
            .ends_with("/reliablemessaging/old")
    );
    let name = "directory:mhs.xyz.int.test/reliablemessaging";
    assert_eq!(
        status(&run.check(name, "tls")),
        ("pass", ""),
        "{}",
        run.stdout
    );
    let json = run.json();
    assert!(
        json["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == name && e["origin"] == "directory")
    );

    // Listed in the profile: merged, not probed twice.
    let listed = EndpointSpec::new("mhs", registered.clone());
    let profile = lab.profile("listed.toml", &[directory.clone(), listed], &ids);
    let run = lab::run(&["--profile", p(&profile), "--discover", "--format", "json"]).await;
    assert!(
        summary(&run)["message"]
            .as_str()
            .unwrap()
            .contains("1 already in the profile, 0 more probed")
    );
    assert!(run.checks(name, "tls").is_empty());

    // Bounded: [discovery] max_endpoints = 0 probes none and says so.
    let profile = lab.profile(
        "bounded.toml",
        &[directory, unlisted],
        &format!("{ids}\n[discovery]\nenabled = true\nmax_endpoints = 0"),
    );
    let run = lab::run(&["--profile", p(&profile), "--format", "json"]).await;
    assert!(
        summary(&run)["message"]
            .as_str()
            .unwrap()
            .contains("1 not probed ([discovery] max_endpoints is 0"),
        "{}",
        run.stdout
    );
    assert!(run.checks(name, "tls").is_empty());
    // [discovery] interactions: only those records count.
    let profile = lab.profile(
        "narrow.toml",
        &[EndpointSpec::new(
            "sds",
            format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
        )],
        &format!("{ids}\n[discovery]\nenabled = true\ninteractions = [\"urn:x:NONE\"]"),
    );
    let run = lab::run(&["--profile", p(&profile), "--format", "json"]).await;
    assert!(
        summary(&run)["message"]
            .as_str()
            .unwrap()
            .contains("registers 0 endpoint URLs under XYZ-0000101 (0 MHS records)"),
        "{}",
        run.stdout
    );
    drop(slapd);
}
