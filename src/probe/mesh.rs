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

/// A token further off the server's clock than this is refused as stale or from the future.
const CLOCK_TOLERANCE_SECS: i64 = 120;

/// The Authorization header value: `NHSMESH mailbox:nonce:nonce_count:timestamp:hash`, the hash
/// an HMAC-SHA256 keyed with the shared key over `mailbox:nonce:nonce_count:password:timestamp`
/// (timestamp yyyyMMddHHmm, UTC), as NHSDigital/mesh-client's key_helper builds it.
pub fn authorization(
    mailbox: &str,
    password: &str,
    shared_key: &str,
    nonce: &str,
    nonce_count: u32,
    timestamp: &str,
) -> String {
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
        Ok((status, message)) => check
            .with_detail(|d| d.http().status = Some(status))
            .pass(message),
        Err((status, failure)) => check
            .with_detail(|d| d.http().status = status)
            .failed(failure),
    }
}

type Failed = (Option<u16>, ProbeFailure);

async fn handshake(
    ctx: &ProbeContext<'_>,
    address: SocketAddr,
    mesh: &MeshAuth,
) -> Result<(u16, String), Failed> {
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
    let header = authorization(
        &mesh.mailbox,
        &password,
        &shared_key,
        &nonce(),
        0,
        &timestamp,
    );
    let base = url::Url::parse(&ctx.endpoint.url.raw).map_err(|_| {
        (
            None,
            ProbeFailure::new(Reason::HttpProtocolError, "the URL cannot be requested"),
        )
    })?;
    let mut url = base.clone();
    url.set_path(&format!("/messageexchange/{}", mesh.mailbox));
    url.set_query(None);
    let (client, recorder) = http::client_for(ctx, address).map_err(|f| (None, f))?;
    let request = client
        .post(url.as_str())
        .header(reqwest::header::AUTHORIZATION, header)
        .header(
            "mex-ClientVersion",
            concat!("int-check/", env!("CARGO_PKG_VERSION")),
        )
        .header("mex-OSName", std::env::consts::OS)
        .header("mex-OSArchitecture", std::env::consts::ARCH)
        .header("mex-OSVersion", "unknown")
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
    let mailbox = &mesh.mailbox;
    match status {
        200..=299 => Ok((
            status,
            format!("mailbox {mailbox}: the handshake was accepted (HTTP {status})"),
        )),
        401 | 403 if skew.is_some_and(|s| s.abs() > CLOCK_TOLERANCE_SECS) => Err((
            Some(status),
            ProbeFailure::new(
                Reason::MeshClockSkew,
                format!(
                    "mailbox {mailbox}: the handshake was refused (HTTP {status}), and this machine's clock is {} s {} MESH's: the token's timestamp is out of its window",
                    skew.unwrap_or(0).abs(),
                    if skew.unwrap_or(0) > 0 {
                        "behind"
                    } else {
                        "ahead of"
                    }
                ),
            ),
        )),
        401 | 403 => Err((
            Some(status),
            ProbeFailure::new(
                Reason::MeshAuthRejected,
                format!(
                    "mailbox {mailbox}: the handshake was refused (HTTP {status}): the password, the shared key or the mailbox's certificate binding is wrong"
                ),
            ),
        )),
        404 => Err((
            Some(status),
            ProbeFailure::new(
                Reason::MeshUnknownMailbox,
                format!("mailbox {mailbox}: MESH does not know this mailbox (HTTP 404)"),
            ),
        )),
        _ => Err((
            Some(status),
            ProbeFailure::new(
                Reason::MeshHandshakeFailed,
                format!("mailbox {mailbox}: the handshake got HTTP {status}"),
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_mesh_clients() {
        // HMAC-SHA256(key "BackBone", "mb:n:0:pw:202611251200"), computed independently with
        // `printf 'mb:n:0:pw:202611251200' | openssl dgst -sha256 -hmac BackBone`.
        let header = authorization("mb", "pw", "BackBone", "n", 0, "202611251200");
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
