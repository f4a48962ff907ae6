//! The proxy phase: for an endpoint reached through an HTTP proxy, `CONNECT host:port` over the
//! TCP connection to the proxy, and the proxy's answer judged. What a 2xx opens is a plain TCP
//! stream to the host: TLS, the certificate verdict, HTTP and the directory run over it exactly
//! as they do direct. The DNS phase looks the proxy's name up (the proxy resolves the host's),
//! and the TCP phase connects to the proxy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ProbeContext, ProbeFailure, secs};
use crate::findings::{Check, CheckKind, Status};
use crate::profile::{Endpoint, EndpointProxy, ProxyUrl, Scheme};
use crate::reasons::Reason;

/// A proxy's answer to CONNECT is a status line and headers: more than this is not a proxy.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How much of a refusal's plain-text body a message quotes.
const QUOTE_BYTES: usize = 160;

/// How an endpoint's connections leave this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Direct,
    Proxy(Arc<ProxyUrl>),
}

impl Route {
    pub fn proxy(&self) -> Option<&ProxyUrl> {
        match self {
            Route::Direct => None,
            Route::Proxy(proxy) => Some(proxy),
        }
    }
}

/// The run's proxy rules: the proxy for https:// endpoints (`[http] proxy`, else HTTPS_PROXY),
/// the hosts that bypass it (NO_PROXY), the proxy for plain http:// fetches (revocation lists:
/// `[http] proxy`, else HTTP_PROXY, else the https one) and the credentials a variable holds.
#[derive(Clone, Debug, Default)]
pub struct ProxyRules {
    pub https: Option<Arc<ProxyUrl>>,
    pub http: Option<Arc<ProxyUrl>>,
    pub no_proxy: Option<String>,
    /// `user:password` from the variable `[http] proxy_credentials_env` names.
    credentials: Option<String>,
}

impl ProxyRules {
    /// The rules from the profile and the environment; a proxy variable that is not a usable
    /// proxy URL is said in plain words (HTTP_PROXY, which only revocation-list fetches use,
    /// is passed over instead).
    pub fn new(
        profile_proxy: Option<&ProxyUrl>,
        credentials_env: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ProxyRules, String> {
        let credentials = credentials_env.and_then(&env);
        let https = match profile_proxy {
            Some(proxy) => Some(proxy.clone()),
            None => env("HTTPS_PROXY")
                .map(|text| ProxyUrl::parse(&text, "HTTPS_PROXY"))
                .transpose()?,
        };
        let http = profile_proxy
            .cloned()
            .or_else(|| env("HTTP_PROXY").and_then(|t| ProxyUrl::parse(&t, "HTTP_PROXY").ok()))
            .or_else(|| https.clone());
        let with = |p: ProxyUrl| Arc::new(p.with_credentials_from(credentials.clone()));
        Ok(ProxyRules {
            https: https.map(with),
            http: http.map(with),
            no_proxy: env("NO_PROXY"),
            credentials,
        })
    }

    /// The route of an endpoint: its own `proxy` when it has one; else https:// endpoints go
    /// through the https proxy unless NO_PROXY covers the host (as curl); else direct.
    pub fn route(&self, endpoint: &Endpoint) -> Route {
        match endpoint.proxy.as_deref() {
            Some(EndpointProxy::None) => Route::Direct,
            Some(EndpointProxy::Via(proxy)) => Route::Proxy(Arc::new(
                proxy
                    .clone()
                    .with_credentials_from(self.credentials.clone()),
            )),
            None if endpoint.url.scheme == Scheme::Https => {
                self.for_host(&endpoint.url.host, self.https.as_ref())
            }
            None => Route::Direct,
        }
    }

    /// The route of a plain http:// fetch (a revocation list) to `host`.
    pub fn http_route(&self, host: &str) -> Route {
        self.for_host(host, self.http.as_ref())
    }

    fn for_host(&self, host: &str, proxy: Option<&Arc<ProxyUrl>>) -> Route {
        match proxy {
            Some(proxy) if !bypassed(host, self.no_proxy.as_deref()) => Route::Proxy(proxy.clone()),
            _ => Route::Direct,
        }
    }
}

/// Whether NO_PROXY covers `host`: `*`, a name, or a domain (`.nhs.uk` or `nhs.uk`) it ends in.
pub fn bypassed(host: &str, no_proxy: Option<&str>) -> bool {
    let host = host.to_ascii_lowercase();
    no_proxy.is_some_and(|list| {
        list.trim() == "*"
            || list
                .split(',')
                .map(|entry| {
                    entry
                        .trim()
                        .trim_start_matches('*')
                        .trim_start_matches('.')
                        .to_ascii_lowercase()
                })
                .any(|entry| {
                    !entry.is_empty() && (host == entry || host.ends_with(&format!(".{entry}")))
                })
    })
}

/// The DNS phase of a proxied endpoint: the proxy's name was looked up (the check made for it),
/// the endpoint's host is the proxy's to resolve.
pub fn dns_check(check: Check, proxy: &ProxyUrl, endpoint_host: &str) -> Check {
    let shown = proxy.shown();
    // A proxy's name pinned in the hosts file is how many networks publish their proxy; the
    // warning about pinned Spine addresses is not for it.
    let check = match check.reason {
        Some(Reason::DnsHostsOverride) => {
            let message = format!("{} (pinned in the hosts file)", check.message);
            let mut check = check;
            check.status = Status::Pass;
            check.reason = None;
            check.message = message;
            check
        }
        _ => check,
    };
    let message = match check.status {
        Status::Pass | Status::Warn | Status::Skip => format!(
            "the proxy's name {}: {}; {endpoint_host} is looked up by the proxy, not here",
            proxy.host, check.message
        ),
        Status::Fail => format!(
            "the proxy's name {} ({} says to use {shown}): {}",
            proxy.host, proxy.source, check.message
        ),
    };
    let mut check = check.with_detail(|d| d.via_proxy().proxy = Some(shown));
    check.message = message;
    check
}

/// The DNS phase when the proxy is given as an address: nothing to look up here.
pub fn literal_check(ctx: &ProbeContext<'_>, proxy: &ProxyUrl) -> Check {
    ctx.check_at_host(CheckKind::Dns)
        .with_detail(|d| {
            d.via_proxy().proxy = Some(proxy.shown());
            d.dns().addresses = proxy.ip.map(|ip| vec![ip.to_string()]);
        })
        .pass(format!(
            "the proxy {} is an address ({}): no DNS look-up here; {} is looked up by the proxy",
            proxy.shown(),
            proxy.source,
            ctx.endpoint.url.host
        ))
}

/// The TCP phase's check of a connection to the proxy: said as such, and a failure with its own
/// reason (the endpoint was never tried).
pub fn to_proxy(check: Check, proxy: &ProxyUrl) -> Check {
    if check.status != Status::Fail {
        let message = format!("{} (the proxy {})", check.message, proxy.shown());
        let mut check = check.with_detail(|d| d.via_proxy().proxy = Some(proxy.shown()));
        check.message = message;
        return check;
    }
    let message = format!(
        "cannot reach the proxy {} ({}): {}",
        proxy.shown(),
        proxy.source,
        check.message
    );
    let original = check.reason;
    check
        .with_detail(|d| {
            d.via_proxy().proxy = Some(proxy.shown());
            d.original_reason = original;
        })
        .fail(Reason::ProxyUnreachable, message)
}

/// Where CONNECT asks the proxy to go: the endpoint's host and port, or the connect-to address
/// (`address`, `--connect-to`) with SNI and the name check still the host's.
fn connect_target(endpoint: &Endpoint) -> String {
    let port = endpoint.url.port;
    match endpoint.connect_to.or(endpoint.url.ip) {
        Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
        Some(ip) => format!("{ip}:{port}"),
        None => format!("{}:{port}", endpoint.url.host),
    }
}

/// Runs the proxy phase over `stream` (connected to the proxy at `address`): the tunnel when
/// the proxy opened one, and the check either way.
pub async fn check(
    ctx: &ProbeContext<'_>,
    proxy: &ProxyUrl,
    address: SocketAddr,
    stream: TcpStream,
) -> (Option<TcpStream>, Check) {
    let started = Instant::now();
    let target = connect_target(ctx.endpoint);
    let check = ctx.check(CheckKind::Proxy, address).with_detail(|d| {
        d.via_proxy().proxy = Some(proxy.shown());
        d.round_trips = Some(1);
    });
    let asked = tokio::time::timeout(ctx.timeout, connect(stream, proxy, &target)).await;
    let check = check.took(started.elapsed());
    match asked {
        Err(_) => (
            None,
            check.fail(
                Reason::ProxyTimeout,
                format!(
                    "the proxy {} accepted the connection but did not answer CONNECT {target} within {}",
                    proxy.shown(),
                    secs(ctx.timeout)
                ),
            ),
        ),
        Ok(Err(failure)) => (None, check.failed(failure)),
        Ok(Ok(Answered { stream, status, said })) => {
            let check = check.with_detail(|d| d.via_proxy().proxy_status = Some(status));
            if (200..300).contains(&status) {
                let message = format!(
                    "the proxy {} opened a tunnel to {target} (HTTP {status}{})",
                    proxy.shown(),
                    said.map(|s| format!(" {s}")).unwrap_or_default()
                );
                (Some(stream), check.pass(message))
            } else {
                (None, check.failed(refusal(proxy, &target, status, said)))
            }
        }
    }
}

/// A tunnel for whatever opens its own connection through the proxy (the MESH handshake, a
/// directory look-up): the TCP phase's and this phase's verdicts as one failure.
pub async fn open(
    ctx: &ProbeContext<'_>,
    proxy: &ProxyUrl,
    address: SocketAddr,
) -> Result<TcpStream, ProbeFailure> {
    let (stream, tcp) = super::tcp::connect(ctx, address).await;
    let Some(stream) = stream else {
        let check = to_proxy(tcp, proxy);
        return Err(ProbeFailure {
            reason: check.reason.unwrap_or(Reason::ProxyUnreachable),
            message: check.message,
            raw: check.details.error.clone(),
        });
    };
    match check(ctx, proxy, address, stream).await {
        (Some(tunnel), _) => Ok(tunnel),
        (None, check) => Err(ProbeFailure {
            reason: check.reason.unwrap_or(Reason::ProxyProtocolError),
            message: check.message,
            raw: check.details.error.clone(),
        }),
    }
}

/// A proxy's answer to CONNECT, before it is judged.
struct Answered {
    stream: TcpStream,
    status: u16,
    /// What the proxy said besides the status: its reason phrase, its error code header
    /// (squid's `X-Squid-Error`), the authentication schemes it asks for, a short quote.
    said: Option<String>,
}

/// Sends CONNECT and reads the answer's head (bounded).
async fn connect(
    mut stream: TcpStream,
    proxy: &ProxyUrl,
    target: &str,
) -> Result<Answered, ProbeFailure> {
    let mut request = format!(
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: int-check/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(credentials) = proxy.credentials() {
        request.push_str("Proxy-Authorization: Basic ");
        request.push_str(&crate::text::base64(credentials.as_bytes()));
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let written = stream.write_all(request.as_bytes()).await;
    drop(request);
    if let Err(error) = written {
        return Err(closed(proxy, target).raw(error));
    }
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let read = stream
            .read(&mut chunk)
            .await
            .map_err(|e| closed(proxy, target).raw(e))?;
        if read == 0 {
            return Err(match head.is_empty() {
                true => closed(proxy, target),
                false => not_a_proxy(
                    proxy,
                    &head,
                    "its answer to CONNECT ended before its headers did",
                ),
            });
        }
        head.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&head) {
            Ok(httparse::Status::Complete(length)) => {
                let status = response.code.unwrap_or_default();
                let said = what_it_said(&response, &head[length..], status);
                // A tunnel carries nothing before the client speaks: TLS waits for our
                // ClientHello, so bytes after a 2xx head are not the host's.
                if (200..300).contains(&status) && head.len() > length {
                    return Err(not_a_proxy(
                        proxy,
                        &head[length..],
                        &format!(
                            "after its HTTP {status} to CONNECT it sent {} byte(s) of its own before the host could speak",
                            head.len() - length
                        ),
                    ));
                }
                return Ok(Answered {
                    stream,
                    status,
                    said,
                });
            }
            Ok(httparse::Status::Partial) if head.len() < MAX_HEAD_BYTES => continue,
            Ok(httparse::Status::Partial) => {
                return Err(not_a_proxy(
                    proxy,
                    &head,
                    &format!(
                        "its answer to CONNECT had no end of headers in {MAX_HEAD_BYTES} bytes"
                    ),
                ));
            }
            Err(_) => {
                return Err(not_a_proxy(
                    proxy,
                    &head,
                    "it does not answer CONNECT in HTTP",
                ));
            }
        }
    }
}

/// The reason phrase, the proxy's own error code, the authentication schemes asked for, and a
/// short quote of a plain-text body: what a message quotes of a proxy's refusal.
fn what_it_said(response: &httparse::Response<'_, '_>, body: &[u8], status: u16) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    if let Some(phrase) = response.reason.filter(|r| !r.trim().is_empty()) {
        parts.push(phrase.trim().to_string());
    }
    let header = |name: &'static str| {
        response
            .headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    if status == 407 {
        let schemes: Vec<String> = header("proxy-authenticate")
            .filter_map(|v| v.split_whitespace().next().map(str::to_string))
            .collect();
        parts.push(match schemes.is_empty() {
            true => "it names no authentication scheme".to_string(),
            false => format!("it asks for {}", schemes.join(", ")),
        });
    }
    if let Some(code) = header("x-squid-error").next() {
        parts.push(code);
    }
    let plain = header("content-type").any(|t| t.to_ascii_lowercase().starts_with("text/plain"));
    if !(200..300).contains(&status) && plain && !body.is_empty() {
        let text = String::from_utf8_lossy(&body[..body.len().min(QUOTE_BYTES)]);
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if !text.is_empty() {
            parts.push(format!("\"{text}\""));
        }
    }
    let said = parts.join("; ");
    (!said.is_empty()).then(|| crate::text::untrusted(&said).into_owned())
}

/// A proxy's non-2xx answer to CONNECT, named.
fn refusal(proxy: &ProxyUrl, target: &str, status: u16, said: Option<String>) -> ProbeFailure {
    let shown = proxy.shown();
    let said = said.map(|s| format!(": {s}")).unwrap_or_default();
    match status {
        407 => {
            let given = match proxy.credentials() {
                Some(_) => "refused the credentials given",
                None => "asks for credentials and none were given",
            };
            ProbeFailure::new(
                Reason::ProxyAuthRequired,
                format!("the proxy {shown} {given} (HTTP 407{said})"),
            )
        }
        502..=504 => ProbeFailure::new(
            Reason::ProxyUpstreamFailed,
            format!(
                "the proxy {shown} could not reach {target} itself (HTTP {status}{said}): the proxy is working; the way from it to the host (its DNS, its route, the host) is not"
            ),
        ),
        400..=499 => {
            let port = target.rsplit(':').next().unwrap_or_default();
            let note = if port != "443" {
                format!("; many proxies tunnel only port 443, and this is port {port}")
            } else {
                String::new()
            };
            ProbeFailure::new(
                Reason::ProxyRefused,
                format!(
                    "the proxy {shown} refused to open a tunnel to {target} (HTTP {status}{said}): its policy does not allow this host or port{note}"
                ),
            )
        }
        _ => ProbeFailure::new(
            Reason::ProxyRefused,
            format!(
                "the proxy {shown} answered CONNECT {target} with HTTP {status}{said} instead of opening a tunnel"
            ),
        ),
    }
}

fn closed(proxy: &ProxyUrl, target: &str) -> ProbeFailure {
    ProbeFailure::new(
        Reason::ProxyClosed,
        format!(
            "the proxy {} closed the connection without answering CONNECT {target}",
            proxy.shown()
        ),
    )
}

/// What answered at the proxy's address is not an HTTP proxy (or not one that tunnels).
fn not_a_proxy(proxy: &ProxyUrl, bytes: &[u8], what: &str) -> ProbeFailure {
    let tls = bytes.first() == Some(&0x16);
    let extra = if tls {
        " (it speaks TLS: a proxy int-check must reach in plain HTTP, or a TLS port)".to_string()
    } else {
        match super::wire_bytes::printable_line(bytes) {
            line if line.is_empty() => String::new(),
            line => format!(" (it sent \"{line}\")"),
        }
    };
    ProbeFailure::new(
        Reason::ProxyProtocolError,
        format!("what answers at the proxy {}: {what}{extra}", proxy.shown()),
    )
}

/// The proxy for a reqwest client (the MESH handshake, a revocation list): at `address` when
/// the DNS phase resolved it, with the proxy's Basic credentials.
pub fn for_reqwest(
    proxy: &ProxyUrl,
    address: Option<SocketAddr>,
) -> Result<reqwest::Proxy, ProbeFailure> {
    let url = address.map_or_else(|| proxy.shown(), |a| format!("http://{a}"));
    let unusable = || {
        ProbeFailure::new(
            Reason::ProxyProtocolError,
            format!(
                "the proxy {} cannot be used by the HTTP client",
                proxy.shown()
            ),
        )
    };
    let mut built = reqwest::Proxy::all(url).map_err(|_| unusable())?;
    if let Some((user, password)) = proxy.credentials().and_then(|c| c.split_once(':')) {
        built = built.basic_auth(user, password);
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_covers_names_and_domains() {
        assert!(bypassed("a.nhs.uk", Some("x.org, .nhs.uk")));
        assert!(bypassed("nhs.uk", Some("nhs.uk")));
        assert!(bypassed("A.NHS.UK", Some("*.nhs.uk")));
        assert!(!bypassed("evilnhs.uk", Some("nhs.uk")));
        assert!(bypassed("anything", Some("*")));
        assert!(!bypassed("anything", Some("")));
        assert!(!bypassed("anything", None));
    }

    #[test]
    fn a_proxy_url_keeps_its_credentials_out_of_sight() {
        let proxy =
            ProxyUrl::parse("http://us%40er:p%3Ass@proxy.corp:3128", "HTTPS_PROXY").unwrap();
        assert_eq!(proxy.credentials(), Some("us@er:p:ss"));
        assert_eq!(proxy.shown(), "http://proxy.corp:3128");
        assert!(!format!("{proxy:?}").contains("p:ss"));
        assert_eq!(ProxyUrl::parse("proxy.corp", "x").unwrap().port, 1080);
        let local = ProxyUrl::parse("localhost:3128", "x").unwrap();
        assert_eq!(local.ip, Some(std::net::Ipv4Addr::LOCALHOST.into()));
        assert_eq!(local.shown(), "http://localhost:3128");
        let error = ProxyUrl::parse("https://u:secret@p:3128", "HTTPS_PROXY").unwrap_err();
        assert!(
            error.contains("https://") && !error.contains("secret"),
            "{error}"
        );
        assert!(
            ProxyUrl::parse("socks5://p:1080", "x")
                .unwrap_err()
                .contains("SOCKS")
        );
        assert!(ProxyUrl::parse("http://p:3128/path", "x").is_err());
    }

    #[test]
    fn rules_pick_the_endpoints_proxy_then_https_proxy_then_no_proxy() {
        let env = |name: &str| match name {
            "HTTPS_PROXY" => Some("http://env-proxy:8080".to_string()),
            "NO_PROXY" => Some(".ncrs.nhs.uk".to_string()),
            "CREDS" => Some("u:p".to_string()),
            _ => None,
        };
        let rules = ProxyRules::new(None, Some("CREDS"), env).unwrap();
        let https = rules.https.as_ref().unwrap();
        assert_eq!(https.shown(), "http://env-proxy:8080");
        assert_eq!(https.credentials(), Some("u:p"));
        assert_eq!(rules.http_route("crl.nhs.uk"), Route::Proxy(https.clone()));
        assert_eq!(rules.http_route("x.ncrs.nhs.uk"), Route::Direct);
        let bad = |name: &str| (name == "HTTPS_PROXY").then(|| "socks5://x".to_string());
        assert!(
            ProxyRules::new(None, None, bad)
                .unwrap_err()
                .contains("HTTPS_PROXY")
        );
    }
}
