//! HTTPS phase: one request per endpoint, to an address the DNS phase resolved, over the same
//! trust anchors, SNI and client identity as the TLS phase. Redirects are reported, never followed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::{HeaderMap, StatusCode, Version};
use reqwest::redirect::Policy;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::tls::Session;
use super::wire_bytes::{Recorded, printable_line};
use super::{ProbeContext, ProbeFailure, secs};
use crate::findings::{Check, CheckKind};
use crate::profile::{BodyExpectation, HttpMethod};
use crate::reasons::Reason;

/// Clocks further apart than this make certificates and Spine timestamps go wrong.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);
/// A server Date further off than this is that server's broken clock.
const IMPLAUSIBLE_SKEW: Duration = Duration::from_secs(365 * 86_400);
/// How much of the body a report quotes.
const BODY_QUOTE_BYTES: usize = 200;
/// How much of the body is kept at most (enough to recognise an error page).
const BODY_READ_BYTES: usize = 4096;
/// How much of a body is read (and dropped past BODY_READ_BYTES) to see that it completes.
const BODY_LIMIT: usize = 64 * 1024;
const USER_AGENT: &str = concat!("int-check/", env!("CARGO_PKG_VERSION"));

/// An HTTP answer, whichever transport carried it.
struct Answer {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: Body,
    /// Whether the server asked for a client certificate on this connection.
    client_cert_requested: bool,
}

enum Body {
    Reqwest(reqwest::Response),
    Hyper(hyper::body::Incoming),
}

/// What arrived of a body.
struct BodyRead {
    /// The first bytes (as many as the read was asked to keep), as text.
    prefix: String,
    /// Bytes received in all.
    received: usize,
    /// The body did not end (nor reach BODY_LIMIT) within the time left.
    stalled: bool,
}

impl Body {
    /// Reads up to BODY_LIMIT within `budget`, keeping the first BODY_READ_BYTES: a body that
    /// never finishes must not hold the run, and must be told apart from one that finished.
    async fn read(self, budget: Duration, keep_bytes: usize) -> BodyRead {
        let mut kept = Vec::new();
        let mut received = 0usize;
        let mut keep = |data: &[u8]| {
            received += data.len();
            let room = keep_bytes.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
            received < BODY_LIMIT
        };
        let reading = async {
            match self {
                Body::Reqwest(mut response) => {
                    while let Ok(Some(chunk)) = response.chunk().await {
                        if !keep(&chunk) {
                            break;
                        }
                    }
                }
                Body::Hyper(mut incoming) => {
                    use http_body_util::BodyExt;
                    while let Some(Ok(frame)) = incoming.frame().await {
                        if let Some(data) = frame.data_ref()
                            && !keep(data)
                        {
                            break;
                        }
                    }
                }
            }
        };
        let stalled = tokio::time::timeout(budget, reading).await.is_err();
        BodyRead {
            prefix: String::from_utf8_lossy(&kept).into_owned(),
            received,
            stalled,
        }
    }
}

/// Runs the HTTPS phase at `address` and returns its check. `session` is the connection the
/// TLS phase verified, when it can carry the request.
pub async fn check(ctx: &ProbeContext<'_>, address: SocketAddr, session: Option<Session>) -> Check {
    let endpoint = ctx.endpoint;
    let mut check = ctx
        .check(CheckKind::Http, address)
        .with_detail(|d| d.http().method = Some(endpoint.method.as_str().to_string()));
    let started = Instant::now();
    if let Some(proxy) = ctx.route.proxy() {
        check = check.with_detail(|d| d.via_proxy().proxy = Some(proxy.shown()));
    }
    let exchanged = match session {
        // The common case: the request goes over the connection the TLS phase just verified
        // (through the proxy's tunnel when there is one).
        Some(session) => {
            check = check.with_detail(|d| d.round_trips = Some(1));
            over_session(ctx, session).await
        }
        // Boxed: reqwest's future is large, and this path is the rare one.
        None => Box::pin(via_reqwest(ctx, address)).await,
    };
    let first_byte = started.elapsed();
    let check = check.took(first_byte);
    let answer = match exchanged {
        Ok(answer) => answer,
        Err(failure) => return check.failed(failure),
    };
    let remaining = ctx.timeout.saturating_sub(started.elapsed());
    judge(ctx, check, answer, first_byte, remaining).await
}

/// No HTTP answer within the phase timeout.
fn timed_out(timeout: Duration) -> ProbeFailure {
    ProbeFailure::new(
        Reason::HttpTimeout,
        format!(
            "no HTTP answer within {} after the request was sent",
            secs(timeout)
        ),
    )
}

/// HTTP/1.1 over the TLS phase's connection (it offered no ALPN, so the server speaks HTTP/1.1).
async fn over_session(ctx: &ProbeContext<'_>, session: Session) -> Result<Answer, ProbeFailure> {
    let (endpoint, timeout, sent_cert) = (ctx.endpoint, ctx.timeout, ctx.tls.has_identity());
    let asked = session.client_cert_requested;
    let informational = Arc::new(AtomicUsize::new(0));
    let parsed = url::Url::parse(&endpoint.url.raw).map_err(|e| {
        ProbeFailure::new(Reason::HttpProtocolError, "the URL cannot be requested").raw(e)
    })?;
    let path = &parsed[url::Position::BeforePath..];
    let host = match parsed.port() {
        Some(port) => format!("{}:{port}", endpoint.url.host),
        None => endpoint.url.host.clone(),
    };
    let method = match endpoint.method {
        HttpMethod::Get => hyper::Method::GET,
        HttpMethod::Head => hyper::Method::HEAD,
        HttpMethod::Post => hyper::Method::POST,
    };
    let (stream, first_bytes) = Recorded::new(session.stream);
    let exchange = async {
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io).await?;
        tokio::spawn(async move {
            // Ends when the answer is read or dropped; its errors surface through the request.
            let _ = connection.await;
        });
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .body(Empty::<Bytes>::new())
            .expect("method, path and headers from a parsed URL are valid");
        let counter = informational.clone();
        hyper::ext::on_informational(&mut request, move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        sender.send_request(request).await
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => {
            let first = first_bytes.get();
            let count = informational.load(Ordering::Relaxed);
            Err(if count > 0 {
                ProbeFailure::new(
                    Reason::HttpTimeout,
                    format!(
                        "the service sent {count} informational (1xx) answer(s) but no final answer within {}",
                        secs(timeout)
                    ),
                )
            } else if !first.is_empty() {
                ProbeFailure::new(
                    Reason::HttpTimeout,
                    format!(
                        "the service started an answer ('{}') but did not finish its head within {}",
                        printable_line(&first),
                        secs(timeout)
                    ),
                )
            } else {
                timed_out(timeout)
            })
        }
        Ok(Err(error)) if error.is_parse() || error.is_parse_status() => {
            let first = first_bytes.get();
            Err(ProbeFailure::new(
                Reason::HttpProtocolError,
                format!(
                    "the service answered with something that is not HTTP: '{}'",
                    printable_line(&first)
                ),
            )
            .raw(error_chain(&error)))
        }
        Ok(Err(error))
            if error.is_incomplete_message() && asked && first_bytes.get().is_empty() =>
        {
            // Closed before a byte, after asking for a client certificate: its verdict on it.
            let (reason, what) = if sent_cert {
                (
                    Reason::TlsClientCertRejected,
                    "closed the connection after receiving our client certificate: it rejected it",
                )
            } else {
                (
                    Reason::TlsClientCertRequired,
                    "asked for a client certificate and closed the connection when none was sent",
                )
            };
            Err(ProbeFailure::new(reason, format!("the service {what}")).raw(error_chain(&error)))
        }
        Ok(Err(error)) if error.is_incomplete_message() => Err(ProbeFailure::new(
            Reason::HttpProtocolError,
            "the service closed the connection before a complete answer",
        )
        .raw(error_chain(&error))),
        Ok(Err(error)) => Err(no_answer(&error, asked, sent_cert)),
        Ok(Ok(response)) => {
            let (parts, incoming) = response.into_parts();
            Ok(Answer {
                status: parts.status,
                version: parts.version,
                headers: parts.headers,
                body: Body::Hyper(incoming),
                client_cert_requested: asked,
            })
        }
    }
}

/// A fresh connection through reqwest: for proxies, or when the TLS phase's connection cannot
/// be reused. Same anchors, SNI and identity; pinned to the resolved address when direct.
async fn via_reqwest(ctx: &ProbeContext<'_>, address: SocketAddr) -> Result<Answer, ProbeFailure> {
    let (endpoint, timeout, sent_cert) = (ctx.endpoint, ctx.timeout, ctx.tls.has_identity());
    let (client, recorder) = client_for(ctx, address)?;
    let method = match endpoint.method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Head => reqwest::Method::HEAD,
        HttpMethod::Post => reqwest::Method::POST,
    };
    let sent =
        tokio::time::timeout(timeout, client.request(method, &endpoint.url.raw).send()).await;
    let asked = || recorder.client_cert_requested().is_some();
    match sent {
        Err(_) => Err(timed_out(timeout)),
        Ok(Err(error)) if error.is_timeout() => Err(timed_out(timeout)),
        Ok(Err(error)) => Err(no_answer(&error, asked(), sent_cert)),
        Ok(Ok(response)) => Ok(Answer {
            status: response.status(),
            version: response.version(),
            headers: response.headers().clone(),
            client_cert_requested: asked(),
            body: Body::Reqwest(response),
        }),
    }
}

/// An HTTP client for one endpoint on a fresh connection: the endpoint's anchors, SNI and
/// identity, pinned to the resolved address when direct, through the proxy when not.
pub fn client_for(
    ctx: &ProbeContext<'_>,
    address: SocketAddr,
) -> Result<(reqwest::Client, Arc<super::tls::Recorder>), ProbeFailure> {
    let (endpoint, timeout) = (ctx.endpoint, ctx.timeout);
    let (mut config, recorder) = ctx.tls.client_config(ctx.trust);
    // reqwest does not set ALPN on a preconfigured rustls config.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .redirect(Policy::none())
        .connect_timeout(timeout)
        .pool_max_idle_per_host(0)
        .user_agent(USER_AGENT);
    builder = match ctx.route.proxy() {
        None => builder.no_proxy().resolve(&endpoint.url.host, address),
        // `address` is the proxy's, as the DNS phase resolved it.
        Some(proxy) => builder.proxy(super::proxy::for_reqwest(proxy, Some(address))?),
    };
    let client = builder.build().map_err(|e| {
        ProbeFailure::new(Reason::HttpProtocolError, "cannot build the HTTP client")
            .raw(error_chain(&e))
    })?;
    Ok((client, recorder))
}

/// Names a request that got no answer: a TLS alert after the server asked for a client
/// certificate is a rejection (TLS 1.3 servers send it on the first read); the rest is protocol.
pub fn no_answer(
    error: &(dyn std::error::Error + 'static),
    asked: bool,
    sent_cert: bool,
) -> ProbeFailure {
    let alert = find_source::<rustls::Error>(error).and_then(|e| match e {
        rustls::Error::AlertReceived(alert) => Some(*alert),
        _ => None,
    });
    match alert {
        Some(alert) if asked => {
            let (reason, what) = if sent_cert {
                (
                    Reason::TlsClientCertRejected,
                    "rejected the client certificate",
                )
            } else {
                (
                    Reason::TlsClientCertRequired,
                    "requires a client certificate and none was sent",
                )
            };
            ProbeFailure::new(
                reason,
                format!(
                    "the service {what} (TLS alert {})",
                    super::tls::alert_name(alert)
                ),
            )
            .raw(error_chain(error))
        }
        _ => {
            let chain = error_chain(error);
            let lower = chain.to_ascii_lowercase();
            let words = if lower.contains("tunnel") || lower.contains("proxy") {
                "the HTTPS proxy refused or broke the tunnel to the service"
            } else if lower.contains("connection closed") || lower.contains("connection reset") {
                "the service closed the connection before answering"
            } else if lower.contains("connect") {
                "the HTTP connection could not be made"
            } else {
                "the HTTP exchange failed before an answer arrived"
            };
            ProbeFailure::new(Reason::HttpProtocolError, words).raw(chain)
        }
    }
}

/// Judges an answer: expected status, client-certificate rejection, redirect, clock skew.
async fn judge(
    ctx: &ProbeContext<'_>,
    check: Check,
    answer: Answer,
    first_byte: Duration,
    budget: Duration,
) -> Check {
    let (endpoint, sent_cert) = (ctx.endpoint, ctx.tls.has_identity());
    let status = answer.status;
    if !(100..=599).contains(&status.as_u16()) {
        return check
            .with_detail(|d| d.http().status = Some(status.as_u16()))
            .fail(
                Reason::HttpProtocolError,
                format!(
                    "the service answered status {}, which is not an HTTP status (100-599)",
                    status.as_u16()
                ),
            );
    }
    let header = |name: hyper::header::HeaderName| {
        answer
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let server = header(hyper::header::SERVER);
    let location = header(hyper::header::LOCATION);
    let date = header(hyper::header::DATE);
    let check = check.with_detail(|d| {
        d.http().status = Some(status.as_u16());
        d.http().http_version = Some(http_version_name(answer.version).to_string());
        d.http().time_to_first_byte_ms = Some(first_byte.as_millis() as u64);
        d.http().server = server.clone();
    });
    let expected = endpoint.expect_status.as_ref();
    let status_ok = expected.is_none_or(|list| list.contains(&status.as_u16()));
    let suspicious = matches!(status.as_u16(), 400 | 403) && answer.client_cert_requested;

    // Read (bounded) to the end: a body that stalls is a failure of its own.
    let declared = header(hyper::header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    let read = if endpoint.method == HttpMethod::Head {
        BodyRead {
            prefix: String::new(),
            received: 0,
            stalled: false,
        }
    } else {
        // A body to judge is kept whole (up to BODY_LIMIT); otherwise only its start, to quote.
        let keep = if endpoint.expect.is_set() {
            BODY_LIMIT
        } else {
            BODY_READ_BYTES
        };
        answer.body.read(budget, keep).await
    };
    let stall = read.stalled.then(|| {
        let of = declared.map(|n| format!(" of {n}")).unwrap_or_default();
        format!("the body stalled after {}{of} bytes", read.received)
    });
    let body = read.prefix;
    let summary = format!(
        "{} {}{}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        server
            .as_deref()
            .map(|s| format!(" from {s}"))
            .unwrap_or_default()
    );

    let rejected_by_body = body.contains("SSL certificate")
        || body.to_ascii_lowercase().contains("client certificate");
    if suspicious && (!sent_cert || rejected_by_body) {
        let what = if sent_cert {
            "rejected the client certificate"
        } else {
            "asked for a client certificate, none was sent"
        };
        return check.fail(
            Reason::HttpClientCertRejected,
            format!("{summary}: the service {what}{}", quote(&body)),
        );
    }
    if !status_ok {
        let list: Vec<String> = expected.into_iter().flatten().map(u16::to_string).collect();
        let stalled = stall.map(|s| format!(" ({s})")).unwrap_or_default();
        return check.fail(
            Reason::HttpUnexpectedStatus,
            format!(
                "{summary}, expected {}{}{stalled}",
                list.join(" or "),
                quote(&body)
            ),
        );
    }
    if let Some(stall) = stall {
        return check.fail(
            Reason::HttpTimeout,
            format!("{summary}, but {stall} within the timeout"),
        );
    }
    if let Err(why) = body_meets(&endpoint.expect, &body, read.received) {
        return check.fail(Reason::HttpUnexpectedBody, format!("{summary}: {why}"));
    }
    if status.is_redirection() && expected.is_none() {
        let to = location.unwrap_or_else(|| "(no Location header)".to_string());
        return check
            .with_detail(|d| d.http().location = Some(to.clone()))
            .warn(
                Reason::HttpRedirect,
                format!("{summary}: redirects to {to} (not followed)"),
            );
    }
    let skew = date.as_deref().and_then(clock_skew);
    // Every server's offset is kept, so that the run can tell one wrong server clock from a
    // wrong local clock (`findings::blame_clocks`).
    let check = match skew {
        Some(skew) => check.with_detail(|d| d.http().clock_skew_seconds = Some(skew.as_secs())),
        None => check,
    };
    if let Some(skew) = skew
        && skew.unsigned_abs() > MAX_CLOCK_SKEW
    {
        let direction = if skew.is_negative() {
            "behind"
        } else {
            "ahead of"
        };
        // Years off is a server whose clock was never set, not this machine's problem.
        if skew.unsigned_abs() > IMPLAUSIBLE_SKEW {
            return check
                .with_detail(|d| d.http().clock_skew_seconds = Some(skew.as_secs()))
                .warn(
                    Reason::ClockSkew,
                    format!(
                        "{summary}; the server's Date header ({}) is implausibly far {direction} this machine's clock: that server's clock is wrong, not necessarily this machine's",
                        date.unwrap_or_default(),
                    ),
                );
        }
        return check
            .with_detail(|d| d.http().clock_skew_seconds = Some(skew.as_secs()))
            .warn(
                Reason::ClockSkew,
                format!(
                    "{summary}; the server's clock ({}) is {} {direction} this machine's",
                    date.unwrap_or_default(),
                    secs(skew.unsigned_abs()),
                ),
            );
    }
    check.pass(format!("{summary} in {}", secs(first_byte)))
}

/// Whether a body holds what the endpoint expects; if not, what was expected and what came.
fn body_meets(expect: &BodyExpectation, body: &str, received: usize) -> Result<(), String> {
    if !expect.is_set() {
        return Ok(());
    }
    if received >= BODY_LIMIT {
        return Err(format!(
            "the body is {} KiB or more, larger than int-check reads to check it",
            BODY_LIMIT / 1024
        ));
    }
    if let Some(text) = &expect.contains
        && !body.contains(text.as_str())
    {
        return Err(format!(
            "expected the body to contain \"{text}\"{}",
            got(body)
        ));
    }
    let Some(fields) = &expect.json else {
        return Ok(());
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return Err(format!("expected a JSON body{}", got(body)));
    };
    for (path, wanted) in fields {
        let shown = short_json(wanted);
        match lookup(&json, path) {
            None => return Err(format!("expected {path} = {shown}; the JSON has no {path}")),
            Some(actual) if !same_value(actual, wanted) => {
                return Err(format!(
                    "expected {path} = {shown}, got {}",
                    short_json(actual)
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// `; got "first bytes"` of a body, or `; the body is empty`.
fn got(body: &str) -> String {
    match quote(body) {
        quoted if quoted.is_empty() => "; the body is empty".to_string(),
        quoted => format!("; got{}", &quoted[1..]),
    }
}

/// The value at a dotted path (`a.b.0.c`: object keys, array indices).
fn lookup<'a>(json: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(json, |value, step| match value {
        serde_json::Value::Object(map) => map.get(step),
        serde_json::Value::Array(items) => items.get(step.parse::<usize>().ok()?),
        _ => None,
    })
}

/// JSON equality, except that two http(s) URLs compare as URLs (an explicit default port, as
/// NHS's own configuration writes `:443`, is the same URL) and numbers compare by value.
fn same_value(actual: &serde_json::Value, wanted: &serde_json::Value) -> bool {
    use serde_json::Value::{Number, String as Text};
    match (actual, wanted) {
        (Text(a), Text(w)) => {
            let as_url = |s: &str| {
                url::Url::parse(s)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
            };
            match (as_url(a), as_url(w)) {
                (Some(a), Some(w)) => a == w,
                _ => a == w,
            }
        }
        (Number(a), Number(w)) => a.as_f64() == w.as_f64(),
        _ => actual == wanted,
    }
}

/// A JSON value for a message: compact, at most BODY_QUOTE_BYTES characters.
fn short_json(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= BODY_QUOTE_BYTES {
        return text;
    }
    let cut: String = text.chars().take(BODY_QUOTE_BYTES).collect();
    format!("{cut}…")
}

/// The protocol version as the status line writes it.
fn http_version_name(version: hyper::Version) -> &'static str {
    match version {
        hyper::Version::HTTP_09 => "HTTP/0.9",
        hyper::Version::HTTP_10 => "HTTP/1.0",
        hyper::Version::HTTP_11 => "HTTP/1.1",
        hyper::Version::HTTP_2 => "HTTP/2",
        hyper::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP",
    }
}

/// Server time minus local time, from an HTTP Date header.
pub fn clock_skew(date: &str) -> Option<jiff::SignedDuration> {
    let server = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(date)
        .ok()?;
    Some(server.duration_since(jiff::Timestamp::now()))
}

/// `: "first 200 bytes"` of a body, as one line, or nothing.
fn quote(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return String::new();
    }
    let cut: String = flat.chars().take(BODY_QUOTE_BYTES).collect();
    let more = if cut.len() < flat.len() { "…" } else { "" };
    format!(": \"{cut}{more}\"")
}

fn find_source<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = inner.downcast_ref::<T>()
        {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// The error and its causes, deduplicated, as one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_one_line_and_bounded() {
        assert_eq!(quote(""), "");
        assert_eq!(quote("a\n b"), ": \"a b\"");
        assert!(quote(&"x".repeat(500)).ends_with("…\""));
    }

    #[test]
    fn proxy_credentials_are_redacted() {
        assert_eq!(
            crate::text::redact_userinfo("http://u:p@proxy:3128"),
            "http://proxy:3128/"
        );
        assert_eq!(
            crate::text::redact_userinfo("http://proxy:3128"),
            "http://proxy:3128"
        );
    }

    #[test]
    fn http_dates_parse_for_skew() {
        assert!(
            clock_skew("Sun, 06 Nov 1994 08:49:37 GMT")
                .unwrap()
                .as_secs()
                < -1_000_000
        );
        assert!(clock_skew("not a date").is_none());
    }
}
