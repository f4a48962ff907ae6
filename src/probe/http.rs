//! HTTPS phase: one request per endpoint, to an address the DNS phase resolved, over the same
//! trust anchors, SNI and client identity as the TLS phase. Redirects are reported, never followed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::redirect::Policy;

use super::secs;
use super::tls::{Recorder, TlsSetup};
use crate::findings::{Check, CheckKind};
use crate::pki::TrustStore;
use crate::profile::{Endpoint, HttpMethod};
use crate::reasons::Reason;

/// Clocks further apart than this make certificates and Spine timestamps go wrong.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);
/// How much of the body a report quotes.
const BODY_QUOTE_BYTES: usize = 200;
/// How much of the body is read at most (enough to recognise an error page).
const BODY_READ_BYTES: usize = 4096;

/// Where HTTPS requests go: straight to the resolved address, or through a proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Direct,
    Proxy(String),
}

/// Picks the route for a host: the proxy, unless the NO_PROXY list covers the host.
pub fn route_for(host: &str, proxy: Option<&str>, no_proxy: Option<&str>) -> Route {
    let Some(proxy) = proxy.filter(|p| !p.trim().is_empty()) else {
        return Route::Direct;
    };
    let host = host.to_ascii_lowercase();
    let excluded = no_proxy.is_some_and(|list| {
        list.split(',')
            .map(|entry| {
                entry
                    .trim()
                    .trim_start_matches('*')
                    .trim_start_matches('.')
                    .to_ascii_lowercase()
            })
            .any(|entry| {
                entry.is_empty() && list.trim() == "*"
                    || !entry.is_empty() && (host == entry || host.ends_with(&format!(".{entry}")))
            })
    });
    if excluded {
        Route::Direct
    } else {
        Route::Proxy(proxy.to_string())
    }
}

pub struct HttpRequest<'a> {
    pub endpoint: &'a Endpoint,
    pub target: &'a str,
    pub address: SocketAddr,
    pub route: Route,
    pub timeout: Duration,
}

/// Runs the HTTPS phase and returns its check.
pub async fn check(setup: &TlsSetup, trust: &Arc<TrustStore>, request: HttpRequest<'_>) -> Check {
    let endpoint = request.endpoint;
    let check = Check::new(&endpoint.name, CheckKind::Http, request.target)
        .at(request.address)
        .detail("method", endpoint.method.as_str());
    let (mut config, recorder) = setup.client_config(trust);
    // reqwest does not set ALPN on a preconfigured rustls config.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .redirect(Policy::none())
        .connect_timeout(request.timeout)
        .pool_max_idle_per_host(0)
        .user_agent(concat!("int-check/", env!("CARGO_PKG_VERSION")));
    let check = match &request.route {
        Route::Direct => {
            builder = builder
                .no_proxy()
                .resolve(&endpoint.url.host, request.address);
            check
        }
        Route::Proxy(url) => match reqwest::Proxy::https(url) {
            Ok(proxy) => {
                builder = builder.proxy(proxy);
                check.detail("proxy", redact_userinfo(url))
            }
            Err(e) => {
                return check.fail(
                    Reason::HttpProtocolError,
                    format!(
                        "the HTTPS proxy `{}` is not usable: {e}",
                        redact_userinfo(url)
                    ),
                );
            }
        },
    };
    let client = match builder.build() {
        Ok(client) => client,
        Err(e) => {
            return check.fail(
                Reason::HttpProtocolError,
                format!("cannot build the HTTP client: {}", error_chain(&e)),
            );
        }
    };
    let method = match endpoint.method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Head => reqwest::Method::HEAD,
        HttpMethod::Post => reqwest::Method::POST,
    };

    let started = Instant::now();
    let sent = tokio::time::timeout(
        request.timeout,
        client.request(method, &endpoint.url.raw).send(),
    )
    .await;
    let first_byte = started.elapsed();
    let check = check.took(first_byte);
    let response = match sent {
        Err(_) => {
            return check.fail(
                Reason::HttpTimeout,
                format!(
                    "no HTTP answer within {} after the request was sent",
                    secs(request.timeout)
                ),
            );
        }
        Ok(Err(error)) => {
            return request_failed(
                check,
                &error,
                &recorder,
                setup.has_identity(),
                request.timeout,
            );
        }
        Ok(Ok(response)) => response,
    };

    let status = response.status();
    let headers = response.headers().clone();
    let header = |name: reqwest::header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let server = header(reqwest::header::SERVER);
    let location = header(reqwest::header::LOCATION);
    let date = header(reqwest::header::DATE);
    let mut check = check
        .detail("status", status.as_u16())
        .detail("http_version", format!("{:?}", response.version()))
        .detail("time_to_first_byte_ms", first_byte.as_millis() as u64);
    if let Some(server) = &server {
        check = check.detail("server", server.clone());
    }
    let asked = recorder.client_cert_requested().is_some();
    let sent_cert = setup.has_identity();
    let expected = endpoint.expect_status.as_ref();
    let status_ok = expected.is_none_or(|list| list.contains(&status.as_u16()));
    let suspicious = matches!(status.as_u16(), 400 | 403) && asked;

    // The body matters only when the answer is not a plain pass; read a bounded prefix.
    let body = if !status_ok || suspicious {
        let remaining = request.timeout.saturating_sub(started.elapsed());
        read_prefix(response, remaining).await
    } else {
        drop(response);
        String::new()
    };
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
        return check.fail(
            Reason::HttpUnexpectedStatus,
            format!("{summary}, expected {}{}", list.join(" or "), quote(&body)),
        );
    }
    if status.is_redirection() && expected.is_none() {
        let to = location.unwrap_or_else(|| "(no Location header)".to_string());
        return check.detail("location", to.clone()).warn(
            Reason::HttpRedirect,
            format!("{summary}: redirects to {to} (not followed)"),
        );
    }
    if let Some(skew) = date.as_deref().and_then(clock_skew)
        && skew.unsigned_abs() > MAX_CLOCK_SKEW
    {
        let direction = if skew.is_negative() {
            "behind"
        } else {
            "ahead of"
        };
        return check.detail("clock_skew_seconds", skew.as_secs()).warn(
            Reason::ClockSkew,
            format!(
                "{summary}; the server's clock ({}) is {} {direction} this machine's",
                date.unwrap_or_default(),
                secs(skew.unsigned_abs()),
            ),
        );
    }
    check.pass(format!("{summary} in {}", super::secs(first_byte)))
}

/// Server time minus local time, from an HTTP Date header.
fn clock_skew(date: &str) -> Option<jiff::SignedDuration> {
    let server = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(date)
        .ok()?;
    Some(server.duration_since(jiff::Timestamp::now()))
}

async fn read_prefix(mut response: reqwest::Response, budget: Duration) -> String {
    let mut body = Vec::new();
    let reading = async {
        while body.len() < BODY_READ_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
    };
    // A body that never finishes must not hold the run: keep what arrived in time.
    let _ = tokio::time::timeout(budget, reading).await;
    body.truncate(BODY_READ_BYTES);
    String::from_utf8_lossy(&body).into_owned()
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

fn request_failed(
    check: Check,
    error: &reqwest::Error,
    recorder: &Recorder,
    sent_cert: bool,
    timeout: Duration,
) -> Check {
    let text = error_chain(error);
    if error.is_timeout() {
        return check.fail(
            Reason::HttpTimeout,
            format!("no HTTP answer within {}", secs(timeout)),
        );
    }
    // A TLS 1.3 server rejects a client certificate with an alert on the first read.
    let alert = find_source::<rustls::Error>(error).and_then(|e| match e {
        rustls::Error::AlertReceived(alert) => Some(*alert),
        _ => None,
    });
    if let Some(alert) = alert
        && recorder.client_cert_requested().is_some()
    {
        let what = if sent_cert {
            "rejected the client certificate"
        } else {
            "requires a client certificate and none was sent"
        };
        return check.fail(
            Reason::HttpClientCertRejected,
            format!("the service {what} (alert {alert:?})"),
        );
    }
    check.fail(Reason::HttpProtocolError, text)
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

/// `http://user:secret@proxy:3128` -> `http://proxy:3128`: never print credentials.
fn redact_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_string(),
    }
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
            redact_userinfo("http://u:p@proxy:3128"),
            "http://proxy:3128/"
        );
        assert_eq!(redact_userinfo("http://proxy:3128"), "http://proxy:3128");
    }

    #[test]
    fn no_proxy_matches_suffixes_and_star() {
        let proxy = Some("http://proxy:3128");
        assert_eq!(route_for("msg.int.test", None, None), Route::Direct);
        assert_eq!(
            route_for("msg.int.test", proxy, None),
            Route::Proxy("http://proxy:3128".into())
        );
        assert_eq!(
            route_for("msg.int.test", proxy, Some("localhost, .int.test")),
            Route::Direct
        );
        assert_eq!(route_for("msg.int.test", proxy, Some("*")), Route::Direct);
        assert_eq!(
            route_for("msg.int.test", proxy, Some("other.test")),
            Route::Proxy("http://proxy:3128".into())
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
