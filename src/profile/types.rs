//! Value types that validate themselves while TOML is parsed, so that a bad value is reported
//! with its file, line and column.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

/// The protocol an endpoint URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Https,
    Ldaps,
    Tcp,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Ldaps => "ldaps",
            Scheme::Tcp => "tcp",
        }
    }

    /// Whether the endpoint speaks TLS (and so has a TLS phase).
    pub fn uses_tls(self) -> bool {
        matches!(self, Scheme::Https | Scheme::Ldaps)
    }
}

/// An endpoint URL: `https://host[:port]/path`, `ldaps://host[:port]` or `tcp://host:port`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct EndpointUrl {
    pub raw: String,
    pub scheme: Scheme,
    /// The host as written, without IPv6 brackets.
    pub host: String,
    /// Set when the host is an IP literal rather than a name.
    pub ip: Option<IpAddr>,
    pub port: u16,
}

impl EndpointUrl {
    /// `host:port`, with brackets around IPv6 literals.
    pub fn authority(&self) -> String {
        match self.ip {
            Some(IpAddr::V6(_)) => format!("[{}]:{}", self.host, self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

impl TryFrom<String> for EndpointUrl {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        let parsed = url::Url::parse(&raw).map_err(|e| format!("`{raw}` is not a URL ({e})"))?;
        let scheme = match parsed.scheme() {
            "https" => Scheme::Https,
            "ldaps" => Scheme::Ldaps,
            "tcp" => Scheme::Tcp,
            "http" | "ldap" => {
                return Err(format!(
                    "`{raw}` is unencrypted; Spine endpoints are checked over TLS: use https:// or ldaps://"
                ));
            }
            other => {
                return Err(format!(
                    "`{raw}` has unsupported scheme `{other}`: use https://, ldaps:// or tcp://host:port"
                ));
            }
        };
        let (host, ip) = match parsed.host() {
            // tcp:// is not a "special" scheme, so the url crate leaves IP literals as names.
            Some(url::Host::Domain(name)) if !name.is_empty() => {
                let literal = name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .ok();
                match literal {
                    Some(ip) => (ip.to_string(), Some(ip)),
                    None => (name.to_ascii_lowercase(), None),
                }
            }
            Some(url::Host::Ipv4(v4)) => (v4.to_string(), Some(IpAddr::V4(v4))),
            Some(url::Host::Ipv6(v6)) => (v6.to_string(), Some(IpAddr::V6(v6))),
            _ => return Err(format!("`{raw}` has no host")),
        };
        let port = match (parsed.port_or_known_default(), scheme) {
            (Some(port), _) => port,
            (None, Scheme::Ldaps) => 636,
            (None, _) => return Err(format!("`{raw}` needs a port (tcp://host:port)")),
        };
        Ok(EndpointUrl {
            raw,
            scheme,
            host,
            ip,
            port,
        })
    }
}

/// A DNS server address: `IP` (port 53) or `IP:PORT` (`[v6]:PORT` for IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ResolverAddr(pub SocketAddr);

impl FromStr for ResolverAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(ResolverAddr(addr));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(ResolverAddr(SocketAddr::new(ip, 53)));
        }
        Err(format!(
            "`{text}` is not a DNS server address: use IP or IP:PORT, e.g. 155.231.231.1 or [::1]:5353"
        ))
    }
}

impl TryFrom<String> for ResolverAddr {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl ResolverAddr {
    /// The HSCN DNS servers (the NHS integration environments page).
    pub fn hscn() -> Vec<ResolverAddr> {
        [[155, 231, 231, 1], [155, 231, 231, 2]]
            .into_iter()
            .map(|ip| ResolverAddr(SocketAddr::from((ip, 53))))
            .collect()
    }

    /// `155.231.231.1, 155.231.231.2`: servers as reports list them.
    pub fn list(servers: &[ResolverAddr]) -> String {
        servers
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for ResolverAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.port() == 53 {
            write!(f, "{}", self.0.ip())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// Whether server chains are checked against the CRLs given (`[trust] revocation`). NHS's own TLS
/// clients (mesh-client, EPS's Spine client) do not check revocation of Spine's server
/// certificates: the built-in profiles say "off".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub enum RevocationMode {
    #[default]
    Off,
    /// A revoked server certificate is a warning.
    Warn,
    /// A revoked server certificate fails the TLS check.
    Fail,
}

impl TryFrom<String> for RevocationMode {
    type Error = String;

    fn try_from(text: String) -> Result<RevocationMode, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(RevocationMode::Off),
            "warn" => Ok(RevocationMode::Warn),
            "fail" => Ok(RevocationMode::Fail),
            _ => Err(format!(
                "revocation `{text}` is not a mode: use \"off\" (no check), \"warn\" (a revoked server certificate is a warning) or \"fail\" (it fails the TLS check)"
            )),
        }
    }
}

/// `--connect-to HOST:IP`: connect to IP for the endpoints whose URL host is HOST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectTo {
    pub host: String,
    pub ip: std::net::IpAddr,
}

impl std::str::FromStr for ConnectTo {
    type Err = String;

    fn from_str(text: &str) -> Result<ConnectTo, String> {
        let wrong = || {
            format!(
                "`{text}` is not HOST:IP: use e.g. msg.int.spine2.ncrs.nhs.uk:10.239.10.5 (an IPv6 address as is, or in brackets)"
            )
        };
        let (host, ip) = text.trim().split_once(':').ok_or_else(wrong)?;
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        let ip: std::net::IpAddr = ip.parse().map_err(|_| wrong())?;
        if host.is_empty() || host.contains(['/', ' ', '[']) {
            return Err(wrong());
        }
        Ok(ConnectTo {
            host: host.to_ascii_lowercase(),
            ip,
        })
    }
}

/// An HTTP proxy the endpoints' connections go through (`[http] proxy`, `HTTPS_PROXY`, an
/// endpoint's `proxy`): `http://[USER:PASSWORD@]HOST[:PORT]`, port 1080 when none is given (as
/// curl). Credentials are kept for the `Proxy-Authorization` header only: `Debug` and `shown`
/// never carry them.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    pub host: String,
    /// The host when it is an address (no DNS look-up for it).
    pub ip: Option<IpAddr>,
    pub port: u16,
    /// `user:password`, from the URL or the variable `[http] proxy_credentials_env` names.
    credentials: Option<String>,
    /// Where the proxy was set: `[http] proxy`, `HTTPS_PROXY`, `the endpoint's proxy`.
    pub source: String,
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({}, from {})", self.shown(), self.source)
    }
}

impl ProxyUrl {
    /// Reads a proxy URL; the error says what is wrong in plain words (never the credentials).
    pub fn parse(text: &str, source: &str) -> Result<ProxyUrl, String> {
        let trimmed = text.trim();
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("http://{trimmed}")
        };
        let shown_input = crate::text::redact_userinfo(&with_scheme);
        let wrong =
            |why: &str| format!("{source} `{shown_input}` is not a proxy int-check can use: {why}");
        let url = url::Url::parse(&with_scheme)
            .map_err(|_| wrong("write it as http://HOST:PORT (user:password@ before the host when the proxy asks for them)"))?;
        match url.scheme() {
            "http" => {}
            "https" => {
                return Err(wrong(
                    "int-check speaks to a proxy in plain HTTP (http://); a proxy reached over TLS (https://) is not supported",
                ));
            }
            "socks4" | "socks4a" | "socks5" | "socks5h" => {
                return Err(wrong(
                    "SOCKS proxies are not supported; give the HTTP proxy (http://HOST:PORT)",
                ));
            }
            other => {
                return Err(wrong(&format!(
                    "`{other}://` is not a proxy scheme; use http://HOST:PORT"
                )));
            }
        }
        let host = match url.host() {
            Some(url::Host::Domain(name)) => name.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(wrong("it names no host")),
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(wrong("a proxy URL has no path; write http://HOST:PORT"));
        }
        let decode = |part: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| wrong("its user name or password is not UTF-8 once percent-decoded"))
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, password) => Some(format!(
                "{}:{}",
                decode(user)?,
                decode(password.unwrap_or(""))?
            )),
        };
        // A local proxy helper (cntlm, px) on `localhost` is this machine, as curl takes it.
        let ip = match host.as_str() {
            "localhost" => Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
            _ => host.parse().ok(),
        };
        Ok(ProxyUrl {
            ip,
            host,
            port: url.port().unwrap_or(1080),
            credentials,
            source: source.to_string(),
        })
    }

    /// `http://HOST:PORT`, as reports show it (never the credentials).
    pub fn shown(&self) -> String {
        match self.ip {
            Some(IpAddr::V6(ip)) => format!("http://[{ip}]:{}", self.port),
            _ => format!("http://{}:{}", self.host, self.port),
        }
    }

    /// `user:password` for the proxy's Basic authentication, when there are any.
    pub fn credentials(&self) -> Option<&str> {
        self.credentials.as_deref()
    }

    /// Takes credentials from the variable `[http] proxy_credentials_env` names (`user:password`)
    /// when the URL carries none.
    pub fn with_credentials_from(mut self, value: Option<String>) -> ProxyUrl {
        if self.credentials.is_none() {
            self.credentials = value.filter(|v| !v.is_empty());
        }
        self
    }
}

/// An endpoint's `proxy`: `"none"` (straight to the host whatever the profile or the environment
/// say), or a proxy URL for this endpoint (any scheme, ldaps:// included; `NO_PROXY` does not
/// apply to it).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum EndpointProxy {
    None,
    Via(ProxyUrl),
}

impl TryFrom<String> for EndpointProxy {
    type Error = String;

    fn try_from(text: String) -> Result<EndpointProxy, String> {
        if text.trim().eq_ignore_ascii_case("none") || text.trim().is_empty() {
            return Ok(EndpointProxy::None);
        }
        ProxyUrl::parse(&text, "the endpoint's proxy").map(EndpointProxy::Via)
    }
}

/// `ip`: which address families of a host are probed. `any` (the default) probes every
/// address and judges the families as a client would; `ipv4` or `ipv6` probes that family only,
/// and makes it required (HSCN is IPv4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum IpFamily {
    #[default]
    Any,
    Ipv4,
    Ipv6,
}

impl TryFrom<String> for IpFamily {
    type Error = String;

    fn try_from(text: String) -> Result<IpFamily, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "any" => Ok(IpFamily::Any),
            "ipv4" | "4" => Ok(IpFamily::Ipv4),
            "ipv6" | "6" => Ok(IpFamily::Ipv6),
            _ => Err(format!(
                "ip `{text}` is not an address family: use \"any\" (every address), \"ipv4\" or \"ipv6\""
            )),
        }
    }
}

impl IpFamily {
    /// Whether an address of this family is probed.
    pub fn allows(self, ip: std::net::IpAddr) -> bool {
        match self {
            IpFamily::Any => true,
            IpFamily::Ipv4 => ip.is_ipv4(),
            IpFamily::Ipv6 => ip.is_ipv6(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::Any => "any",
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
        }
    }
}

/// The lowest TLS version the checker offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub enum MinTls {
    V1_2,
    V1_3,
}

impl TryFrom<String> for MinTls {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        match text.trim() {
            "1.2" => Ok(MinTls::V1_2),
            "1.3" => Ok(MinTls::V1_3),
            other => Err(format!(
                "min_tls `{other}` is not supported: use \"1.2\" or \"1.3\" (Spine requires 1.2 or later)"
            )),
        }
    }
}

impl fmt::Display for MinTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MinTls::V1_2 => "1.2",
            MinTls::V1_3 => "1.3",
        })
    }
}

/// A duration written in a profile or config file (`"5s"`, `"500ms"`, `"2m"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct DurationText(pub Duration);

impl TryFrom<String> for DurationText {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        parse_duration(&text).map(DurationText)
    }
}

/// Parses `5s`, `500ms`, `1.5s`, `2m`: a positive duration with a unit.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: use e.g. 5s, 500ms or 2m"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" | "min" => value * 60.0,
        other => {
            return Err(format!(
                "`{text}` has unknown unit `{other}`: use ms, s or m"
            ));
        }
    };
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 3600.0 {
        return Err(format!(
            "`{text}` is out of range: use a duration above 0 and at most 1 hour"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_in_tcp_urls_are_addresses_not_names() {
        let url = EndpointUrl::try_from("tcp://10.239.1.2:636".to_string()).unwrap();
        assert_eq!(url.ip, Some("10.239.1.2".parse().unwrap()));
        let url = EndpointUrl::try_from("tcp://[::1]:443".to_string()).unwrap();
        assert_eq!(url.ip, Some("::1".parse().unwrap()));
        assert_eq!(url.authority(), "[::1]:443");
        let url = EndpointUrl::try_from("tcp://spine.int.test:443".to_string()).unwrap();
        assert_eq!(url.ip, None);
    }

    #[test]
    fn urls() {
        let url = EndpointUrl::try_from("https://Msg.Example.nhs.uk/x".to_string()).unwrap();
        assert_eq!(
            (url.scheme, url.host.as_str(), url.port),
            (Scheme::Https, "msg.example.nhs.uk", 443)
        );
        let url = EndpointUrl::try_from("ldaps://ldap.example".to_string()).unwrap();
        assert_eq!(url.port, 636);
        let url = EndpointUrl::try_from("tcp://[::1]:99".to_string()).unwrap();
        assert_eq!(
            (url.authority().as_str(), url.ip.is_some()),
            ("[::1]:99", true)
        );
        assert!(
            EndpointUrl::try_from("tcp://host".to_string())
                .unwrap_err()
                .contains("needs a port")
        );
        assert!(
            EndpointUrl::try_from("ftp://host".to_string())
                .unwrap_err()
                .contains("ftp")
        );
        assert!(
            EndpointUrl::try_from("http://host".to_string())
                .unwrap_err()
                .contains("unencrypted")
        );
    }

    #[test]
    fn resolvers_and_durations() {
        assert_eq!("10.0.0.1".parse::<ResolverAddr>().unwrap().0.port(), 53);
        assert_eq!("[::1]:5353".parse::<ResolverAddr>().unwrap().0.port(), 5353);
        assert!("nonsense".parse::<ResolverAddr>().is_err());
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }
}
