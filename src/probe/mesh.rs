//! MESH mailbox handshake: after the MESH endpoint's TLS phase, authenticate as the MESH client
//! does and ask for the mailbox (`POST /messageexchange/{mailbox}`). The password and shared key
//! come from environment variables only and never leave this module: not in a message, a
//! detail, a log line or a report.

use std::net::SocketAddr;
use std::time::Instant;

use crate::findings::{Check, CheckKind};
use crate::probe::{ProbeContext, ProbeFailure, http, secs};
use crate::profile::MeshAuth;
use crate::reasons::Reason;

/// MESH refuses a token whose timestamp is more than 2 hours from its clock (the MESH API
/// specification, NHSDigital/mesh-api-specification, "MESH Authorization header").
const CLOCK_TOLERANCE_SECS: i64 = 2 * 3600;

/// A skew this large is worth a warning even when MESH accepts the token (as `clock.skew`).
const CLOCK_WARNING_SECS: i64 = 300;

/// Bytes of a refusal's body read: MESH's error bodies are a few hundred bytes.
const BODY_BYTES: usize = 8 * 1024;

/// A mailbox's credentials for one handshake (never printed: only the header's hash leaves).
pub struct MeshSecrets<'a> {
    /// The mailbox ID, uppercase.
    pub mailbox: &'a str,
    pub password: &'a str,
    /// The environment's shared key (the HMAC key).
    pub shared_key: &'a str,
}

/// The Authorization header value: `NHSMESH mailbox:nonce:nonce_count:timestamp:hash`, the hash
/// an HMAC-SHA256 keyed with the shared key over `mailbox:nonce:nonce_count:password:timestamp`
/// (timestamp yyyyMMddHHmm, UTC), as NHSDigital/mesh-client's key_helper builds it.
pub fn authorization(
    secrets: &MeshSecrets<'_>,
    nonce: &str,
    nonce_count: u32,
    timestamp: &str,
) -> String {
    let MeshSecrets {
        mailbox,
        password,
        shared_key,
    } = secrets;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, shared_key.as_bytes());
    let message = format!("{mailbox}:{nonce}:{nonce_count}:{password}:{timestamp}");
    let tag = ring::hmac::sign(&key, message.as_bytes());
    let hash: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("NHSMESH {mailbox}:{nonce}:{nonce_count}:{timestamp}:{hash}")
}

/// A random nonce in the UUID text form the MESH client sends.
fn nonce() -> String {
    let mut bytes = [0u8; 16];
    let rng = ring::rand::SystemRandom::new();
    if ring::rand::SecureRandom::fill(&rng, &mut bytes).is_err() {
        // No randomness: a time-based nonce is still unique per run.
        let now = jiff::Timestamp::now().as_nanosecond();
        bytes = now.to_be_bytes();
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub async fn check(ctx: &ProbeContext<'_>, address: SocketAddr, mesh: &MeshAuth) -> Check {
    let check = ctx.check(CheckKind::Mesh, address).with_detail(|d| {
        d.http().method = Some("POST".into());
    });
    let started = Instant::now();
    let outcome = handshake(ctx, address, mesh).await;
    let check = check.took(started.elapsed());
    match outcome {
        Ok((status, message, skew)) => {
            let check = check.with_detail(|d| {
                d.http().status = Some(status);
                d.http().clock_skew_seconds = skew;
            });
            match skew.filter(|s| s.abs() > CLOCK_WARNING_SECS) {
                // Accepted, yet minutes away: the general clock warning (MESH allows 2 hours).
                Some(skew) => check.warn(
                    Reason::ClockSkew,
                    format!(
                        "{message}; MESH's clock is {} s {} this machine's (MESH accepts tokens within 2 hours)",
                        skew.abs(),
                        if skew > 0 { "ahead of" } else { "behind" }
                    ),
                ),
                None => check.pass(message),
            }
        }
        Err((status, failure)) => check
            .with_detail(|d| d.http().status = status)
            .failed(failure),
    }
}

/// What a MESH refusal's body says: the v2 `detail[].msg`, the v1 `errorDescription`, or the
/// 400's validation list (`detail[].loc` and `msg`). Bounded and one line.
pub fn refusal_words(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    if let Some(text) = value.get("errorDescription").and_then(|d| d.as_str()) {
        return Some(crate::text::untrusted(text).into_owned());
    }
    let details = value.get("detail")?.as_array()?;
    let said: Vec<String> = details
        .iter()
        .take(5)
        .filter_map(|d| {
            let msg = d.get("msg")?.as_str()?;
            let place = d
                .get("loc")
                .and_then(|l| l.as_array())
                .map(|l| {
                    l.iter()
                        .filter_map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .filter(|l| !l.is_empty());
            Some(match place {
                Some(place) => format!("{place}: {msg}"),
                None => msg.to_string(),
            })
        })
        .collect();
    (!said.is_empty()).then(|| crate::text::untrusted(&said.join("; ")).into_owned())
}

/// The reason and words for a 403, from what MESH said (the sandbox's texts) and the clocks.
fn refusal(mailbox: &str, said: Option<&str>, skew: Option<i64>) -> ProbeFailure {
    let quoted = said.map(|s| format!(": \"{s}\"")).unwrap_or_default();
    let lower = said.unwrap_or_default().to_ascii_lowercase();
    let skewed = skew.filter(|s| s.abs() > CLOCK_TOLERANCE_SECS);
    let (reason, why) = if lower.contains("no mailbox matched") {
        (
            Reason::MeshUnknownMailbox,
            "MESH has no such mailbox in this environment".to_string(),
        )
    } else if lower.contains("inactive mailbox") {
        (
            Reason::MeshInactiveMailbox,
            "the mailbox exists but is not active".to_string(),
        )
    } else if lower.contains("does not match token") {
        (
            Reason::MeshTokenMismatch,
            "the mailbox in the token is not the one in the URL".to_string(),
        )
    } else if lower.contains("duplicated") {
        (
            Reason::MeshTokenReused,
            "MESH saw this token before: each one is valid for one request only (something between you and MESH may be replaying requests)".to_string(),
        )
    } else if let Some(skew) = skewed {
        (
            Reason::MeshClockSkew,
            format!(
                "this machine's clock is {} s {} MESH's, more than the 2 hours MESH allows a token's timestamp",
                skew.abs(),
                if skew > 0 { "behind" } else { "ahead of" }
            ),
        )
    } else if lower.contains("reading from authorization") {
        (
            Reason::MeshAuthRejected,
            "MESH could not read the Authorization header (a proxy may strip or rewrite it)"
                .to_string(),
        )
    } else {
        (
            Reason::MeshAuthRejected,
            "the password or the shared key does not match what MESH holds for this mailbox"
                .to_string(),
        )
    };
    ProbeFailure::new(
        reason,
        format!("mailbox {mailbox}: the handshake was refused (HTTP 403{quoted}): {why}"),
    )
}

type Failed = (Option<u16>, ProbeFailure);

async fn handshake(
    ctx: &ProbeContext<'_>,
    address: SocketAddr,
    mesh: &MeshAuth,
) -> Result<(u16, String, Option<i64>), Failed> {
    let secret =
        |var: &str, what: &str| {
            std::env::var(var).ok().filter(|v| !v.is_empty()).ok_or_else(|| {
            (
                None,
                ProbeFailure::new(
                    Reason::MeshCredentialsMissing,
                    format!("[mesh] {what} names the environment variable {var}, which is not set"),
                ),
            )
        })
        };
    let password = secret(&mesh.password_env, "password_env")?;
    let shared_key = secret(&mesh.shared_key_env, "shared_key_env")?;
    let timestamp = jiff::Timestamp::now().strftime("%Y%m%d%H%M").to_string();
    // "Must be uppercase" (the specification's token table): MESH mailbox IDs are.
    let mailbox_id = mesh.mailbox.to_ascii_uppercase();
    let secrets = MeshSecrets {
        mailbox: &mailbox_id,
        password: &password,
        shared_key: &shared_key,
    };
    let header = authorization(&secrets, &nonce(), 0, &timestamp);
    let base = url::Url::parse(&ctx.endpoint.url.raw).map_err(|_| {
        (
            None,
            ProbeFailure::new(Reason::HttpProtocolError, "the URL cannot be requested"),
        )
    })?;
    let mut url = base.clone();
    url.set_path(&format!("/messageexchange/{mailbox_id}"));
    url.set_query(None);
    let (client, recorder) = http::client_for(ctx, address).map_err(|f| (None, f))?;
    let request = client
        .post(url.as_str())
        .header(reqwest::header::AUTHORIZATION, header)
        .header(
            "mex-ClientVersion",
            concat!("int-check/", env!("CARGO_PKG_VERSION")),
        )
        .header(reqwest::header::ACCEPT, "application/vnd.mesh.v2+json")
        .header("mex-OSName", std::env::consts::OS)
        .header("mex-OSArchitecture", std::env::consts::ARCH)
        .header("mex-OSVersion", os_version())
        .header(reqwest::header::CONTENT_LENGTH, "0")
        .send();
    let response = match tokio::time::timeout(ctx.timeout, request).await {
        Err(_) => {
            return Err((
                None,
                ProbeFailure::new(
                    Reason::HttpTimeout,
                    format!(
                        "no answer to the MESH handshake within {}",
                        secs(ctx.timeout)
                    ),
                ),
            ));
        }
        Ok(Err(error)) => {
            let asked = recorder.client_cert_requested().is_some();
            return Err((None, http::no_answer(&error, asked, ctx.tls.has_identity())));
        }
        Ok(Ok(response)) => response,
    };
    let status = response.status().as_u16();
    let skew = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(http::clock_skew)
        .map(|s| s.as_secs());
    let mailbox = &mailbox_id;
    if (200..=299).contains(&status) {
        return Ok((
            status,
            format!("mailbox {mailbox}: the handshake was accepted (HTTP {status})"),
            skew,
        ));
    }
    let body = read_bounded(response, ctx.timeout).await;
    let said = refusal_words(&body);
    let failure = match status {
        403 | 401 => refusal(mailbox, said.as_deref(), skew),
        400 => ProbeFailure::new(
            Reason::MeshHandshakeFailed,
            format!(
                "mailbox {mailbox}: MESH refused the request as invalid (HTTP 400{})",
                said.map(|s| format!(": {s}")).unwrap_or_default()
            ),
        ),
        _ => ProbeFailure::new(
            Reason::MeshHandshakeFailed,
            format!(
                "mailbox {mailbox}: the handshake got HTTP {status}, which the MESH API does not answer to it (200, 400 or 403){}",
                said.map(|s| format!(": {s}")).unwrap_or_default()
            ),
        ),
    };
    Err((Some(status), failure))
}

/// The first bytes of a body, within the time left.
async fn read_bounded(mut response: reqwest::Response, budget: std::time::Duration) -> String {
    let mut kept = Vec::new();
    let reading = async {
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = BODY_BYTES.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if kept.len() >= BODY_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(budget, reading).await;
    String::from_utf8_lossy(&kept).into_owned()
}

/// `mex-OSVersion`: the kernel release where it can be read.
fn os_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|v| v.trim().to_string())
        .ok()
        .filter(|v| !v.is_empty() && v.is_ascii())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_read_in_both_versions_and_the_400_list() {
        assert_eq!(
            refusal_words(r#"{"errorDescription": "No mailbox matched"}"#).as_deref(),
            Some("No mailbox matched")
        );
        assert_eq!(
            refusal_words(r#"{"detail": [{"event": "AUTH", "code": "403", "msg": "Invalid Authentication Token"}]}"#)
                .as_deref(),
            Some("Invalid Authentication Token")
        );
        assert_eq!(
            refusal_words(
                r#"{"detail": [{"loc": ["header", "mex-osversion"], "msg": "field required"}]}"#
            )
            .as_deref(),
            Some("header mex-osversion: field required")
        );
        assert_eq!(refusal_words("<html>no</html>"), None);
        let clock = refusal("MB", Some("Invalid Authentication Token"), Some(3 * 3600));
        assert_eq!(clock.reason, Reason::MeshClockSkew);
        let minutes = refusal("MB", Some("Invalid Authentication Token"), Some(1800));
        assert_eq!(
            minutes.reason,
            Reason::MeshAuthRejected,
            "30 minutes is not the clock"
        );
    }

    #[test]
    fn the_header_is_the_mesh_clients() {
        // HMAC-SHA256(key "BackBone", "mb:n:0:pw:202611251200"), computed independently with
        // `printf 'mb:n:0:pw:202611251200' | openssl dgst -sha256 -hmac BackBone`.
        let secrets = MeshSecrets {
            mailbox: "mb",
            password: "pw",
            shared_key: "BackBone",
        };
        let header = authorization(&secrets, "n", 0, "202611251200");
        assert_eq!(
            header,
            "NHSMESH mb:n:0:202611251200:e1de6da672db09380d137500dd5e251d2ee87e3fa566837515425fa75d4b3ae9"
        );
        assert!(!header.contains("pw"));
        let n = nonce();
        assert_eq!(n.len(), 36);
        assert_eq!(&n[14..15], "4");
    }
}
