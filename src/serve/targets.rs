//! `--allow-target PATTERN`: which `/probe?target=URL` requests may be probed. Patterns and
//! targets are compared as parsed URLs, never as text: scheme, host and port exactly, a glob only
//! inside the host's labels (`*` and `?` never cross a `.`, let alone `/ ? # @ :`), any path under
//! the pattern's path. A target with user information (`user@host`) is never probed.

use crate::error::UsageError;

/// One parsed `--allow-target` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetPattern {
    /// The pattern as the operator wrote it, for messages.
    pub raw: String,
    /// Host labels, lower case, each a glob (`*`, `?`).
    labels: Vec<String>,
    port: u16,
    /// The path a target's path must equal or lie under (`/` for any).
    path: String,
}

impl TargetPattern {
    /// `https://HOST[:PORT][/PATH][*]`: `*` and `?` only in HOST, or one `*` ending PATH.
    pub fn parse(raw: &str) -> Result<TargetPattern, UsageError> {
        let refuse = |why: &str| {
            UsageError::new(format!(
                "--allow-target {}: {why}",
                crate::text::untrusted(raw)
            ))
            .hint("write https://HOST[:PORT][/PATH], e.g. https://*.nhs.uk/ or https://msg.int.test:8443/api/; * and ? match within one label of the host")
        };
        let rest = raw
            .strip_prefix("https://")
            .ok_or_else(|| refuse("only https:// targets can be allowed"))?;
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, "/"),
        };
        if authority.contains(['@', '?', '#', '[', ']', '\\']) || authority.is_empty() {
            return Err(refuse(
                "the host part may hold only a host name (with * or ?) and a port",
            ));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| refuse("the port is not a number from 1 to 65535"))?,
            ),
            None => (authority, 443),
        };
        let labels: Vec<String> = host.split('.').map(|l| l.to_ascii_lowercase()).collect();
        let label_ok = |l: &String| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '?'))
        };
        if !labels.iter().all(label_ok) {
            return Err(refuse(
                "the host is not a DNS name (letters, digits, `-`, and * or ? inside labels)",
            ));
        }
        if path.contains(['?', '#']) {
            return Err(refuse("a pattern has no query or fragment"));
        }
        let path = path.strip_suffix('*').unwrap_or(path);
        if path.contains(['*', '?']) {
            return Err(refuse("* may only end the path (any path below it)"));
        }
        Ok(TargetPattern {
            raw: raw.to_string(),
            labels,
            port,
            path: path.to_string(),
        })
    }

    /// Whether this pattern allows a parsed target.
    pub fn allows(&self, target: &url::Url) -> bool {
        let Some(url::Host::Domain(host)) = target.host() else {
            return false;
        };
        let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
        labels.len() == self.labels.len()
            && labels
                .iter()
                .zip(&self.labels)
                .all(|(label, glob)| crate::plan::glob_match(glob, label))
            && target.port_or_known_default() == Some(self.port)
            && under(target.path(), &self.path)
    }
}

/// Whether `path` is `prefix` or lies below it (`/api` allows `/api` and `/api/x`, not `/apix`).
fn under(path: &str, prefix: &str) -> bool {
    if prefix.ends_with('/') {
        return path.starts_with(prefix) || path == prefix.trim_end_matches('/');
    }
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A `/probe?target=` value, checked against the patterns: the URL to probe (fragment dropped),
/// or why not.
pub fn allowed(patterns: &[TargetPattern], target: &str) -> Result<url::Url, &'static str> {
    let mut url = url::Url::parse(target).map_err(|_| "it is not a URL")?;
    if url.scheme() != "https" {
        return Err("only https:// targets can be probed");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a target with user information (user@host) is never probed");
    }
    url.set_fragment(None);
    if patterns.iter().any(|p| p.allows(&url)) {
        Ok(url)
    } else {
        Err("it matches no --allow-target pattern")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, target: &str) -> bool {
        allowed(&[TargetPattern::parse(pattern).unwrap()], target).is_ok()
    }

    #[test]
    fn globs_stay_inside_host_labels() {
        let p = "https://*.allowed.test/*";
        assert!(check(p, "https://x.allowed.test/"));
        assert!(check(p, "https://X.Allowed.Test/any/path?q=1"));
        assert!(check(p, "https://x.allowed.test:443/"));
        for bypass in [
            "https://canary.test/.allowed.test/",
            "https://canary.test#.allowed.test/",
            "https://canary.test?.allowed.test/",
            "https://x.allowed.test@canary.test/",
            "https://x.allowed.test:pw@canary.test/",
            "https://canary.test\\.allowed.test/",
            "https://a.b.allowed.test/",
            "https://x.allowed.test:8443/",
            "http://x.allowed.test/",
            "https://x.allowed.test.canary.test/",
            "https://127.0.0.1/",
        ] {
            assert!(!check(p, bypass), "{bypass} was allowed");
        }
    }

    #[test]
    fn paths_are_prefixes_by_segment() {
        let p = "https://msg.int.test:8443/api";
        assert!(check(p, "https://msg.int.test:8443/api"));
        assert!(check(p, "https://msg.int.test:8443/api/x"));
        assert!(!check(p, "https://msg.int.test:8443/apix"));
        assert!(!check(p, "https://msg.int.test:8443/"));
        assert!(!check(p, "https://msg.int.test:8443/api/../admin"));
    }

    #[test]
    fn bad_patterns_are_refused_at_startup() {
        for bad in [
            "http://x.test/",
            "https://user@x.test/",
            "https://x.test/a*b",
            "https://x.test:99999/",
            "https://*/",
            "https://x/#frag",
            "https://",
        ] {
            let refused = TargetPattern::parse(bad).is_err();
            // `https://*/` is a single-label glob: allowed as a pattern, matching one-label hosts.
            assert!(refused || bad == "https://*/", "{bad}");
        }
    }
}
