//! The MESH mailbox handshake against the lab's MESH-like server, which checks the NHSMESH
//! header exactly as the facts file describes it; and the proof that the password and shared
//! key never leave the process: every output format, every report file and the -vv log.

use int_check_lab as lab;

use lab::*;

const PASSWORD: &str = "pw-Zq81-secret-password";
const SHARED_KEY: &str = "sk-Vh27-shared-secret-key";

fn mesh_lab(clock_offset_secs: i64) -> MeshLab {
    MeshLab::new("X26OT181", PASSWORD, SHARED_KEY, clock_offset_secs)
}

/// A profile with one MESH endpoint served by `server`, and `[mesh]` for `mailbox`.
async fn mesh_profile(lab: &Lab, server: MeshLab, mailbox: &str) -> String {
    let addr = lab
        .serve("mesh.int.test", lo(1), |spec| {
            spec.reply = HttpReply::Mesh(server)
        })
        .await;
    let endpoint = EndpointSpec::new(
        "mesh",
        format!(
            "https://mesh.int.test:{}/messageexchange/_ping",
            addr.port()
        ),
    );
    let profile = lab.profile(
        &format!("mesh-{mailbox}-{}.toml", addr.port()),
        &[endpoint],
        &format!(
            "[mesh]\nmailbox = \"{mailbox}\"\npassword_env = \"LAB_MESH_PASSWORD\"\nshared_key_env = \"LAB_MESH_KEY\"\n"
        ),
    );
    p(&profile).to_string()
}

async fn run_mesh(profile: &str, password: Option<&str>, extra: &[&str]) -> Run {
    let mut cmd = binary();
    if let Some(password) = password {
        cmd.env("LAB_MESH_PASSWORD", password)
            .env("LAB_MESH_KEY", SHARED_KEY);
    }
    let mut args = vec!["--profile", profile];
    args.extend_from_slice(extra);
    lab::run_with(cmd, &args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_handshake_is_judged_by_what_mesh_answers() {
    let lab = Lab::start().await;
    let good = mesh_profile(&lab, mesh_lab(0), "X26OT181").await;
    let run = run_mesh(&good, Some(PASSWORD), &["--format", "json"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let mesh = run.check("mesh", "mesh");
    assert_eq!(status(&mesh), ("pass", ""), "{mesh:#}");
    assert_eq!(mesh["details"]["status"], 200);
    assert!(
        mesh["message"]
            .as_str()
            .unwrap()
            .contains("mailbox X26OT181")
    );

    for (profile, password, reason) in [
        (&good, Some("wrong-password"), "mesh.auth_rejected"),
        (&good, None, "mesh.credentials_missing"),
        (
            &mesh_profile(&lab, mesh_lab(0), "X26OT999").await,
            Some(PASSWORD),
            "mesh.unknown_mailbox",
        ),
        // More than the 2 hours the specification allows: the clock.
        (
            &mesh_profile(&lab, mesh_lab(3 * 3600), "X26OT181").await,
            Some(PASSWORD),
            "mesh.clock_skew",
        ),
        // Half an hour off and a wrong password: the password, not the clock.
        (
            &mesh_profile(&lab, mesh_lab(1800), "X26OT181").await,
            Some("wrong-password"),
            "mesh.auth_rejected",
        ),
    ] {
        let run = run_mesh(profile, password, &["--format", "json"]).await;
        assert_eq!(run.code, 1, "{reason}: {}", run.stdout);
        let mesh = run.check("mesh", "mesh");
        assert_eq!(status(&mesh), ("fail", reason), "{mesh:#}");
        // The rest of the endpoint is judged as ever: the _ping answered (the server with the
        // wrong clock is also a clock.skew warning there, as it should be).
        let http = run.check("mesh", "http");
        assert_ne!(http["status"], "fail", "{http:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_secrets_appear_in_no_output_report_or_log() {
    let lab = Lab::start().await;
    let good = mesh_profile(&lab, mesh_lab(0), "X26OT181").await;
    let bad = mesh_profile(&lab, mesh_lab(0), "X26OT999").await;
    let dir = tempfile::tempdir().unwrap();
    for profile in [&good, &bad] {
        for format in ["human", "json", "junit", "markdown", "prometheus", "html"] {
            let report = dir.path().join(format!("report.{format}"));
            let report_arg = format!("{format}={}", report.display());
            let run = run_mesh(
                profile,
                Some(PASSWORD),
                &["--format", format, "-vv", "--report", &report_arg],
            )
            .await;
            assert!(run.code == 0 || run.code == 1, "{format}: {}", run.stderr);
            let written = std::fs::read_to_string(&report).unwrap();
            for secret in [PASSWORD, SHARED_KEY] {
                for (what, text) in [
                    ("stdout", &run.stdout),
                    ("log", &run.stderr),
                    ("report", &written),
                ] {
                    assert!(!text.contains(secret), "{format} {what} shows a secret");
                }
            }
            // The run did make the handshake and said so (the test is not vacuous): the
            // handshake's own words, or its metric series; not a word the endpoint's name has.
            let spoke = if format == "prometheus" {
                run.stdout.contains("kind=\"mesh\"")
            } else {
                run.stdout.contains("X26OT")
            };
            assert!(spoke, "{format}: {}", run.stdout);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_written_into_a_file_is_refused_without_echoing_it() {
    let lab = Lab::start().await;
    let config = lab.write(
        "secret.toml",
        &format!("[mesh]\nmailbox = \"X26OT181\"\npassword = \"{PASSWORD}\"\n"),
    );
    let run = lab::run(&["--config", p(&config), "--dry-run"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("secrets never go in a file"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(PASSWORD) && !run.stdout.contains(PASSWORD));
    let half = lab.write("half.toml", "[mesh]\nmailbox = \"X26OT181\"\n");
    let run = lab::run(&["--config", p(&half), "--dry-run"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("password_env and shared_key_env"),
        "{}",
        run.stderr
    );
}

/// `--dry-run` names the MESH variables and says which are not set (exit 1: the check would
/// fail), without the network; when they are set it never prints their values.
#[tokio::test(flavor = "multi_thread")]
async fn the_dry_run_says_which_mesh_variables_are_missing_never_their_values() {
    let lab = Lab::start().await;
    let profile = mesh_profile(&lab, mesh_lab(0), "X26OT181").await;
    let unset = run_mesh(&profile, None, &["--dry-run"]).await;
    assert_eq!(unset.code, 1, "{}", unset.stdout);
    assert!(
        unset.stdout.contains(
            "mesh    mailbox X26OT181 on mesh; password from $LAB_MESH_PASSWORD, shared key from $LAB_MESH_KEY: LAB_MESH_PASSWORD and LAB_MESH_KEY not set"
        ),
        "{}",
        unset.stdout
    );
    for format in ["human", "json"] {
        let set = run_mesh(&profile, Some(PASSWORD), &["--dry-run", "--format", format]).await;
        assert_eq!(set.code, 0, "{}{}", set.stdout, set.stderr);
        assert!(
            set.stdout.contains("both set") || set.stdout.contains("\"unset\": []"),
            "{}",
            set.stdout
        );
        for secret in [PASSWORD, SHARED_KEY] {
            assert!(!set.stdout.contains(secret) && !set.stderr.contains(secret));
        }
    }
}

/// Issue 22: MESH's refusals as its specification and sandbox word them, each its own reason;
/// the Accept header for v2 is sent; 30 minutes of skew is accepted (with the general clock
/// warning), 3 hours is the clock's fault; an unexpected status is never called a mailbox fault.
#[tokio::test(flavor = "multi_thread")]
async fn mesh_refusals_are_named_as_the_specification_words_them() {
    let lab = Lab::start().await;
    for (text, reason) in [
        (
            "Request Received from Inactive Mailbox",
            "mesh.inactive_mailbox",
        ),
        ("Mailbox id does not match token", "mesh.token_mismatch"),
        ("Error Duplicated Authentication Token", "mesh.token_reused"),
        (
            "Error reading from Authorization header",
            "mesh.auth_rejected",
        ),
    ] {
        let mut server = mesh_lab(0);
        server.refusal = Some(text.to_string());
        let profile = mesh_profile(&lab, server, "X26OT181").await;
        let run = run_mesh(&profile, Some(PASSWORD), &["--format", "json"]).await;
        let mesh = run.check("mesh", "mesh");
        assert_eq!(status(&mesh), ("fail", reason), "{text}: {mesh:#}");
        assert!(mesh["message"].as_str().unwrap().contains(text), "{mesh:#}");
        assert_eq!(mesh["details"]["status"], 403);
    }
    // A header lost on the way (a proxy that strips it): MESH's 400 names it.
    let mut server = mesh_lab(0);
    server.stripped_header = Some("mex-osversion".into());
    let stripped = mesh_profile(&lab, server, "X26OT181").await;
    let run = run_mesh(&stripped, Some(PASSWORD), &["--format", "json"]).await;
    let mesh = run.check("mesh", "mesh");
    assert_eq!(status(&mesh), ("fail", "mesh.handshake_failed"), "{mesh:#}");
    assert!(
        mesh["message"]
            .as_str()
            .unwrap()
            .contains("HTTP 400: header mex-osversion: field required"),
        "{mesh:#}"
    );
    // Within the 2 hours: accepted, and the skew is the general clock warning.
    let skewed = mesh_profile(&lab, mesh_lab(1800), "X26OT181").await;
    let run = run_mesh(&skewed, Some(PASSWORD), &["--format", "json"]).await;
    let mesh = run.check("mesh", "mesh");
    assert_eq!(status(&mesh), ("warn", "clock.skew"), "{mesh:#}");
    assert!(
        mesh["message"].as_str().unwrap().contains("accepted"),
        "{mesh:#}"
    );
    // A lower-case mailbox is sent upper case, as the specification requires; the handshake
    // asks for version 2 of the API.
    let server = mesh_lab(0);
    let asked = server.v2_handshakes.clone();
    let lower = mesh_profile(&lab, server, "x26ot181").await;
    let run = run_mesh(&lower, Some(PASSWORD), &["--format", "json"]).await;
    assert_eq!(status(&run.check("mesh", "mesh")), ("pass", ""));
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// The 400 MESH gives for a request it finds invalid names the field (the lab checks the mex-*
/// headers exactly as the sandbox does: a real int-check request carries them all, so a raw
/// request shows the server's side and the parser reads it).
#[test]
fn a_validation_error_is_read_field_by_field() {
    let server = mesh_lab(0);
    let (status, body) = server.answer("POST", "/messageexchange/X26OT181", &[]);
    assert_eq!(status, 400);
    assert_eq!(
        int_check::probe::mesh::refusal_words(&body).as_deref(),
        Some("header mex-clientversion: field required")
    );
}
