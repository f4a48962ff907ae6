//! Directory servers that misbehave on purpose (raw LDAP bytes after a real TLS handshake):
//! every one is named with a reason and words, never a panic, never unbounded memory.

use int_check::probe::ldap::ber::{self, ENUMERATED, INTEGER, OCTET_STRING, SEQUENCE, SET};
use int_check_lab::*;

/// An LDAPMessage with ID 1 (the first request int-check sends) around `op`.
fn message(id: i64, op: Vec<u8>) -> Vec<u8> {
    ber::element(SEQUENCE, &[ber::int(INTEGER, id), op])
}

fn result(tag: u8, code: i64, text: &str, extra: Vec<u8>) -> Vec<u8> {
    ber::element(
        tag,
        &[
            ber::int(ENUMERATED, code),
            ber::primitive(OCTET_STRING, b""),
            ber::primitive(OCTET_STRING, text.as_bytes()),
            extra,
        ],
    )
}

fn entry(dn: &str, attributes: &[(&str, &[u8])]) -> Vec<u8> {
    let attrs: Vec<Vec<u8>> = attributes
        .iter()
        .map(|(name, value)| {
            ber::element(
                SEQUENCE,
                &[
                    ber::primitive(OCTET_STRING, name.as_bytes()),
                    ber::element(SET, &[ber::primitive(OCTET_STRING, value)]),
                ],
            )
        })
        .collect();
    ber::element(
        0x64,
        &[
            ber::primitive(OCTET_STRING, dn.as_bytes()),
            ber::element(SEQUENCE, &attrs),
        ],
    )
}

/// A lab whose directory (ldap.int.test) answers its first request with `bytes`, and a profile
/// for it with `ids` (profile lines such as the party key).
async fn raw_directory(bytes: Vec<u8>, ids: &str) -> (Lab, std::path::PathBuf) {
    let lab = Lab::start().await;
    let addr = lab
        .serve("ldap.int.test", lo(1), move |s| {
            s.reply = HttpReply::Raw(bytes)
        })
        .await;
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new(
            "sds",
            format!("ldaps://ldap.int.test:{}", addr.port()),
        )],
        ids,
    );
    (lab, profile)
}

/// Runs int-check against a directory that answers its first request with `bytes`; returns the
/// run and the party-key search check.
async fn against(bytes: Vec<u8>, extra_args: &[&str]) -> (Run, serde_json::Value) {
    let (_lab, profile) = raw_directory(bytes, "party_key = \"YES-0000806\"").await;
    let mut args = vec![
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--timeout",
        "2s",
    ];
    args.extend_from_slice(extra_args);
    let run = run(&args).await;
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let check = run.check("sds", "ldap");
    (run, check)
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_answers_are_protocol_errors_with_words_not_panics() {
    // Each of these once panicked inside the LDAP client library (exit 3, report lost).
    for bytes in [
        vec![0x30, 0x05, 0x02, 0x01, 0x01, 0x61, 0x00],
        vec![0x30, 0x08, 0x02, 0x01, 0x01, 0x65, 0x03, 0x04, 0x01, 0x00],
        vec![0x30, 0x07, 0x02, 0x01, 0x01, 0x65, 0x02, 0x02, 0x00],
        vec![
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x65, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x30, 0x00,
        ],
        vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        vec![0x30, 0x80, 0x02, 0x01, 0x01, 0x61, 0x00, 0x00, 0x00],
        b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
    ] {
        let (run, check) = against(bytes.clone(), &[]).await;
        assert_eq!(run.code, 1, "{bytes:02x?}");
        assert_eq!(
            status(&check),
            ("fail", "ldap.protocol_error"),
            "{bytes:02x?}: {check:#}"
        );
        let message = check["message"].as_str().unwrap();
        assert!(
            message.contains("not valid LDAP") || message.contains("closed the connection"),
            "{bytes:02x?}: {message}"
        );
        assert!(!message.contains("channel closed"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn result_codes_referrals_and_disconnection_are_named() {
    let referral = ber::element(
        0xa3,
        &[ber::primitive(OCTET_STRING, b"ldap://other.example/o=nhs")],
    );
    let (_, check) = against(message(1, result(0x65, 10, "go elsewhere", referral)), &[]).await;
    assert_eq!(status(&check), ("fail", "ldap.search_failed"));
    let text = check["message"].as_str().unwrap();
    assert!(
        text.contains("10 (referral)") && text.contains("ldap://other.example/o=nhs"),
        "{text}"
    );

    let (_, check) = against(message(1, result(0x65, 53, "", vec![])), &[]).await;
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("53 (unwillingToPerform)")
    );

    let notice = ber::element(
        0x78,
        &[
            ber::int(ENUMERATED, 52),
            ber::primitive(OCTET_STRING, b""),
            ber::primitive(OCTET_STRING, b"server shutting down"),
            ber::primitive(0x8a, b"1.3.6.1.4.1.1466.20036"),
        ],
    );
    let (_, check) = against(message(0, notice), &[]).await;
    assert_eq!(status(&check), ("fail", "ldap.protocol_error"));
    let text = check["message"].as_str().unwrap();
    assert!(
        text.contains("Notice of Disconnection") && text.contains("server shutting down"),
        "{text}"
    );

    // A non-UTF-8 diagnostic message once panicked the client library.
    let latin = ber::element(
        0x65,
        &[
            ber::int(ENUMERATED, 32),
            ber::primitive(OCTET_STRING, b""),
            ber::primitive(OCTET_STRING, &[0xe9, b'x']),
        ],
    );
    let (_, check) = against(message(1, latin), &[]).await;
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("32 (noSuchObject)")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wide_and_binary_values_are_bounded_and_shown() {
    let mut bytes = message(
        1,
        entry(
            "uniqueIdentifier=1,ou=services,o=nhs",
            &[
                ("nhsMhsPartyKey", b"YES-0000806"),
                ("userCertificate", &[0x30, 0x82, 0xff, 0x00]),
                ("description", &[b'a'; 20_000]),
            ],
        ),
    );
    bytes.extend(message(1, result(0x65, 0, "", vec![])));
    let (run, check) = against(bytes, &[]).await;
    assert_eq!(status(&check), ("pass", ""), "{check:#}");
    let attrs = &check["details"]["sample"][0]["attributes"];
    assert_eq!(attrs["userCertificate"][0], "base64:MIL/AA==");
    let description = attrs["description"][0].as_str().unwrap();
    assert!(
        description.len() <= 1024 && description.ends_with("…(20000 bytes)"),
        "{}",
        description.len()
    );
    assert!(run.stdout.len() < 20_000);
}

/// One 50 MiB value: read past, never held, and said to be; peak memory stays small.
#[tokio::test(flavor = "multi_thread")]
async fn a_huge_value_is_read_past_within_bounded_memory() {
    int_check_lab::needs!(GnuTime);
    let huge = vec![b'x'; 50 * 1024 * 1024];
    let mut bytes = message(1, entry("cn=huge,o=nhs", &[("description", &huge)]));
    bytes.extend(message(1, result(0x65, 0, "", vec![])));
    let (_lab, profile) = raw_directory(bytes, "party_key = \"YES-0000806\"").await;
    let mut cmd = std::process::Command::new("/usr/bin/time");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("INT_CHECK_HOSTS_FILE", "/nonexistent/hosts")
        .args(["-f", "peak-rss-kib=%M"])
        .arg(binary_path());
    let run = run_with(
        cmd,
        &[
            "--profile",
            p(&profile),
            "--format",
            "json",
            "--timeout",
            "10s",
        ],
    )
    .await;
    let check = run.check("sds", "ldap");
    assert_eq!(status(&check), ("fail", "ldap.no_entries"), "{check:#}");
    let text = check["message"].as_str().unwrap();
    assert!(text.contains("256 KiB per entry"), "{text}");
    let rss: u64 = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kib="))
        .and_then(|v| v.trim().parse().ok())
        .expect("GNU time reports the peak RSS");
    assert!(rss < 64 * 1024, "peak RSS {rss} KiB");
}

/// `int-check sds` says when the answer was cut, and by whom.
#[tokio::test(flavor = "multi_thread")]
async fn sds_says_when_results_were_truncated() {
    let mut bytes = message(
        1,
        entry(
            "uniqueIdentifier=1,o=nhs",
            &[("nhsMhsPartyKey", b"YES-0000806")],
        ),
    );
    bytes.extend(message(1, result(0x65, 4, "", vec![])));
    let (_lab, profile) = raw_directory(bytes, "").await;
    for format in ["human", "json"] {
        let run = run(&[
            "sds",
            "--profile",
            p(&profile),
            "--party-key",
            "YES-0000806",
            "--format",
            format,
        ])
        .await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout.contains("the server's size limit"),
            "{}",
            run.stdout
        );
        if format == "json" {
            assert_eq!(run.json()["count"], 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn side_by_side_searches_take_answers_in_any_order_and_one_round_trip() {
    // Both searches go out in one write (IDs 1 and 2); the server answers the second first,
    // interleaved, and never finishes a third that int-check did not ask for.
    let mut bytes = Vec::new();
    let party = entry(
        "uniqueIdentifier=mhs1,ou=services,o=nhs",
        &[("nhsMHSPartyKey", b"YES-0000806")],
    );
    let asid = entry(
        "uniqueIdentifier=176887180519,ou=services,o=nhs",
        &[("uniqueIdentifier", b"176887180519")],
    );
    bytes.extend(message(2, asid));
    bytes.extend(message(1, party.clone()));
    bytes.extend(message(7, result(0x65, 0, "", vec![])));
    bytes.extend(message(2, result(0x65, 0, "", vec![])));
    bytes.extend(message(1, party));
    bytes.extend(message(1, result(0x65, 0, "", vec![])));
    let (_lab, profile) = raw_directory(
        bytes,
        "party_key = \"YES-0000806\"\nasid = \"176887180519\"",
    )
    .await;
    let run = run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--timeout",
        "2s",
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let checks = run.checks("sds", "ldap");
    let by_name = |name: &str| {
        checks
            .iter()
            .find(|c| c["details"]["search"] == name)
            .unwrap_or_else(|| panic!("no {name} in {checks:#?}"))
            .clone()
    };
    let (party, asid) = (by_name("party-key"), by_name("asid"));
    assert_eq!(status(&party), ("pass", ""));
    assert_eq!(party["details"]["entries"], 2);
    assert_eq!(status(&asid), ("pass", ""));
    assert_eq!(asid["details"]["entries"], 1);
    assert_eq!(party["details"]["round_trips"], 1);
    assert_eq!(asid["details"]["round_trips"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_left_unanswered_fails_alone() {
    // The party-key search (ID 1) is answered; the ASID search (ID 2) never is: the server
    // hangs up. The answered search keeps its verdict.
    let mut bytes = Vec::new();
    bytes.extend(message(
        1,
        entry(
            "uniqueIdentifier=mhs1,ou=services,o=nhs",
            &[("nhsMHSPartyKey", b"YES-0000806")],
        ),
    ));
    bytes.extend(message(1, result(0x65, 0, "", vec![])));
    let (_lab, profile) = raw_directory(
        bytes,
        "party_key = \"YES-0000806\"\nasid = \"176887180519\"",
    )
    .await;
    let run = run(&[
        "--profile",
        p(&profile),
        "--format",
        "json",
        "--timeout",
        "1s",
    ])
    .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let checks = run.checks("sds", "ldap");
    let party = checks
        .iter()
        .find(|c| c["details"]["search"] == "party-key")
        .unwrap();
    let asid = checks
        .iter()
        .find(|c| c["details"]["search"] == "asid")
        .unwrap();
    assert_eq!(status(party), ("pass", ""), "{party:#}");
    assert_eq!(status(asid), ("fail", "ldap.protocol_error"), "{asid:#}");
    assert!(
        asid["message"]
            .as_str()
            .unwrap()
            .contains("closed the connection during the search"),
        "{asid:#}"
    );
}

/// Issue 20: a directory's values and its diagnostic message carry terminal controls, bidi
/// overrides and Markdown/HTML; no output format emits them raw.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_directory_text_is_shown_escaped_in_every_format() {
    let hostile =
        "\x1b[2K\x1b[32mPASS\x1b[0m \u{202e}<img src=x onerror=alert(1)> [x](javascript:y)";
    let mut bytes = message(
        1,
        entry(
            &format!("uniqueIdentifier={hostile},ou=services,o=nhs"),
            &[
                ("nhsMhsPartyKey", b"YES-0000806"),
                ("description", hostile.as_bytes()),
            ],
        ),
    );
    bytes.extend(message(1, result(0x65, 53, hostile, vec![])));
    let (lab, profile) = raw_directory(bytes, "party_key = \"YES-0000806\"").await;
    for format in ["human", "json", "junit", "markdown", "prometheus", "html"] {
        let run = run(&[
            "--profile",
            p(&profile),
            "--format",
            format,
            "--timeout",
            "2s",
        ])
        .await;
        assert_eq!(run.code, 1, "{format}: {}", run.stderr);
        let hidden: Vec<char> = run
            .stdout
            .chars()
            .filter(|c| *c != '\n' && int_check::text::is_hidden(*c))
            .collect();
        assert!(hidden.is_empty(), "{format} holds {hidden:?}");
        if format == "markdown" {
            assert!(!run.stdout.contains(" <img"), "raw HTML in Markdown");
        }
        let shown = match format {
            "human" => run.stdout.clone(),
            "json" => run.check("sds", "ldap")["message"].to_string(),
            _ => continue,
        };
        assert!(
            shown.contains("x1b[2K") && shown.contains("u{202e}"),
            "{format}: the message is shown escaped: {shown}"
        );
    }
    drop(lab);
}
