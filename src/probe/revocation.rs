//! Revocation lists fetched from the distribution point a certificate names (CRL distribution
//! points are http:// URLs, RFC 5280 4.2.1.13), through the same proxy rules as the endpoints,
//! bounded in size and time. A list that cannot be had is said as such (with the network path
//! tried): the revocation status is then unknown, never a silent pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::proxy::ProxyRules;

use super::proxy::Route;
use crate::pki::crl::{LoadedCrl, MAX_CRL_BYTES};

/// Distribution points tried per certificate, at most: a certificate may name any number, and
/// each that does not answer costs the phase timeout (real certificates name one or two).
pub const MAX_POINTS: usize = 3;

/// Why a list could not be used, in words (the network path tried included).
pub type FetchProblem = String;

/// GETs one CRL over http:// within `timeout`, at most MAX_CRL_BYTES.
pub async fn fetch(url: &str, route: &Route, timeout: Duration) -> Result<LoadedCrl, FetchProblem> {
    let path = match route {
        Route::Direct => "directly".to_string(),
        Route::Proxy(proxy) => format!("through the proxy {}", proxy.shown()),
    };
    if !url.starts_with("http://") {
        return Err(format!(
            "{url} is not an http:// distribution point (clients fetch CRLs over plain HTTP)"
        ));
    }
    let client = client(route).map_err(|why| format!("{url} could not be asked {path}: {why}"))?;
    let fetched = tokio::time::timeout(timeout, async {
        let response = client.get(url).send().await.map_err(|e| describe(&e))?;
        if !response.status().is_success() {
            return Err(format!("the server answered {}", response.status()));
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if (body.len() + chunk.len()) as u64 > MAX_CRL_BYTES {
                return Err(format!(
                    "the list is larger than the {} MiB a CRL may be",
                    MAX_CRL_BYTES >> 20
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    })
    .await;
    let body = match fetched {
        Err(_) => {
            return Err(format!(
                "{url} did not answer {path} within {}",
                super::secs(timeout)
            ));
        }
        Ok(Err(why)) => return Err(format!("{url} could not be fetched {path}: {why}")),
        Ok(Ok(body)) => body,
    };
    LoadedCrl::parse(body, std::path::PathBuf::from(url))
        .map_err(|why| format!("{url} (fetched {path}) is not usable: {why}"))
}

/// An HTTP client for plain http:// (no TLS is spoken; reqwest still wants a TLS set-up).
fn client(route: &Route) -> Result<reqwest::Client, String> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| "no TLS set-up".to_string())?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::limited(3))
        .pool_max_idle_per_host(0);
    let builder = match route {
        Route::Direct => builder.no_proxy(),
        Route::Proxy(proxy) => {
            builder.proxy(super::proxy::for_reqwest(proxy, None).map_err(|f| f.message)?)
        }
    };
    builder.build().map_err(|_| "no HTTP client".to_string())
}

/// A failed request in words: refused, unreachable, a name that did not resolve.
fn describe(error: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut chain = Vec::new();
    while let Some(e) = source {
        chain.push(e.to_string());
        source = e.source();
    }
    let text = chain.join(": ").to_ascii_lowercase();
    if text.contains("refused") {
        "the connection was refused".to_string()
    } else if text.contains("dns") || text.contains("resolve") || text.contains("lookup") {
        "its name did not resolve".to_string()
    } else if text.contains("unreachable") {
        "no route to it".to_string()
    } else if error.is_timeout() {
        "it did not answer in time".to_string()
    } else {
        "the request failed".to_string()
    }
}

/// A list fetched from one distribution point, or why not, and how long the asking took.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub list: Result<Arc<LoadedCrl>, FetchProblem>,
    pub took: Duration,
}

/// Distribution points asked once: every endpoint (and the identity) whose certificates name the
/// same list share one fetch. A usable list is kept until its nextUpdate (across `serve` runs);
/// a failure only for the run that met it (`new_run` forgets failures).
pub struct CrlFetcher {
    proxies: ProxyRules,
    timeout: Duration,
    lists: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Fetched>>>>,
}

impl CrlFetcher {
    pub fn new(proxies: ProxyRules, timeout: Duration) -> CrlFetcher {
        CrlFetcher {
            proxies,
            timeout,
            lists: Mutex::default(),
        }
    }

    /// Forgets failures and lists past their nextUpdate (at unix time `now`): a new run asks again.
    pub fn new_run(&self, now: i64) {
        if let Ok(mut lists) = self.lists.lock() {
            lists.retain(|_, cell| match cell.get() {
                Some(Fetched { list: Ok(list), .. }) => {
                    list.next_update.is_none_or(|next| next > now)
                }
                Some(Fetched { list: Err(_), .. }) => false,
                None => true,
            });
        }
    }

    /// The list at `url`, fetched at most once (through the proxy rules for plain http://).
    /// The second value says whether this call fetched it (else it was already here).
    pub async fn get(&self, url: &str) -> (Fetched, bool) {
        let cell = match self.lists.lock() {
            Ok(mut lists) => lists.entry(url.to_string()).or_default().clone(),
            Err(_) => Arc::default(),
        };
        let mut fetched_here = false;
        let fetched = cell
            .get_or_init(|| async {
                fetched_here = true;
                let host = url::Url::parse(url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_default();
                let route = self.proxies.http_route(&host);
                let started = Instant::now();
                let list = fetch(url, &route, self.timeout).await.map(Arc::new);
                Fetched {
                    list,
                    took: started.elapsed(),
                }
            })
            .await
            .clone();
        (fetched, fetched_here)
    }
}
