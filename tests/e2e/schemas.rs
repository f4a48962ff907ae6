//! Every machine document the binary prints validates against the JSON Schema that
//! `int-check schema NAME` prints for it (Python's jsonschema, Draft 2020-12).

use int_check::documents::Document;
use int_check_lab::slapd::{Slapd, SlapdOptions};
use int_check_lab::*;
use serde_json::Value;

/// The arguments that make the binary print `document` as JSON, in `lab`.
async fn producing(document: Document, lab: &Lab, slapd: &Slapd) -> Vec<String> {
    let owned = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    match document {
        Document::Report => {
            let addr = lab.serve("msg.int.test", lo(1), |_| {}).await;
            let profile = lab.profile(
                "report.toml",
                &[
                    EndpointSpec::new("web", format!("https://msg.int.test:{}/", addr.port())),
                    EndpointSpec::new("gone", "https://gone.int.test/"),
                    EndpointSpec::new(
                        "sds",
                        format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
                    ),
                ],
                "party_key = \"YES-0000806\"",
            );
            owned(&["--profile", p(&profile), "--format", "json"])
        }
        Document::Plan => owned(&["--dry-run", "--format", "json"]),
        Document::Certs => owned(&["certs", "show", "--format", "json"]),
        Document::Inspect => {
            let file = lab.write(
                "both.pem",
                &format!("{}{}", lab.pki.root.pem, lab.pki.subca.pem),
            );
            owned(&["certs", "inspect", p(&file), "--format", "json"])
        }
        Document::Windows => owned(&["windows", "--format", "json"]),
        Document::Sds => {
            let profile = lab.profile(
                "sds.toml",
                &[EndpointSpec::new(
                    "sds",
                    format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
                )],
                "",
            );
            owned(&[
                "sds",
                "--profile",
                p(&profile),
                "--party-key",
                "YES-0000806",
                "--format",
                "json",
            ])
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_document_matches_the_schema_the_binary_prints() {
    int_check_lab::needs!(Slapd);
    let lab = Lab::start().await;
    let slapd = tokio::task::block_in_place(|| Slapd::start(&lab, lo(2), SlapdOptions::default()));
    lab.dns.point("ldap.int.test", &[lo(2)]);
    for document in Document::ALL {
        let printed = run(&["schema", &format!("{document:?}").to_ascii_lowercase()]).await;
        assert_eq!(printed.code, 0, "{}", printed.stderr);
        let schema: Value = serde_json::from_str(&printed.stdout).unwrap();
        assert_eq!(schema["title"], document.id());
        assert_eq!(schema["properties"]["schema"]["const"], document.id());

        let args = producing(document, &lab, &slapd).await;
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run(&argv).await;
        assert!(output.code <= 1, "{argv:?}: {}", output.stderr);
        let value: Value = serde_json::from_str(&output.stdout)
            .unwrap_or_else(|e| panic!("{argv:?} is not JSON ({e}): {}", output.stdout));
        assert_eq!(value["schema"], document.id(), "{argv:?}");
        validate_against(&schema, &value);
    }
}

/// The validator is not a formality: a document with a wrong type or a missing field fails.
#[test]
fn the_validator_rejects_what_breaks_the_schema() {
    int_check_lab::needs!(Jsonschema);
    let schema = Document::Windows.json_schema();
    let good = serde_json::json!({
        "schema": "int-check.windows.v1", "at": null, "time_zone": "Europe/London",
        "active": [], "next": [], "profile": "int", "slots": []
    });
    validate_against(&schema, &good);
    for broken in [
        serde_json::json!({"schema": "int-check.windows.v1"}),
        serde_json::json!({
            "schema": "int-check.report.v1", "at": null, "time_zone": "Europe/London",
            "active": [], "next": [], "profile": "int", "slots": []
        }),
        serde_json::json!({
            "schema": "int-check.windows.v1", "at": 5, "time_zone": "Europe/London",
            "active": [], "next": [], "profile": "int", "slots": []
        }),
    ] {
        let caught = std::panic::catch_unwind(|| validate_against(&schema, &broken));
        assert!(caught.is_err(), "accepted {broken:#}");
    }
}
