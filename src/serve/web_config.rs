//! The listener's optional TLS and basic auth, from a web-config file in the spirit of
//! Prometheus' exporter toolkit (TOML here, like every int-check file):
//!
//! ```toml
//! [tls]
//! cert_file = "server.pem"     # leaf first, then its chain
//! key_file = "server.key"
//! [basic_auth_users]
//! prometheus = "pbkdf2-sha256$100000$SALT_HEX$HASH_HEX"   # int-check serve --hash-password
//! ```
//!
//! Passwords are stored hashed (PBKDF2-HMAC-SHA256, ring), checked in constant time, and never
//! logged; a successful check is remembered by the SHA-256 of the credentials so that a
//! scrape every few seconds does not pay the hash each time.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use crate::error::UsageError;

const ALGORITHM: &str = "pbkdf2-sha256";
const ITERATIONS: u32 = 100_000;
/// Remembered successful logins (hashes only), at most.
const REMEMBERED: usize = 32;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebConfigDoc {
    tls: Option<TlsDoc>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsDoc {
    cert_file: PathBuf,
    key_file: PathBuf,
}

/// The loaded web config.
pub struct WebConfig {
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    users: BTreeMap<String, Hashed>,
    /// Verified against for unknown users, so that they take as long as known ones.
    dummy: Hashed,
    remembered: Mutex<Vec<[u8; 32]>>,
}

struct Hashed {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the hashes.
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl WebConfig {
    pub fn load(path: &Path) -> Result<WebConfig, UsageError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError::new(format!(
                "cannot read the web config {}: {}",
                path.display(),
                crate::profile::io_reason(&e)
            ))
            .hint("check the --web-config path")
        })?;
        let doc: WebConfigDoc = toml::from_str(&text).map_err(|e| {
            UsageError::new(format!(
                "{} is not a valid web config: {}",
                path.display(),
                e.message().trim()
            ))
            .hint("it takes [tls] cert_file, key_file and [basic_auth_users] NAME = \"HASH\" (int-check serve --hash-password)")
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let tls = match doc.tls {
            None => None,
            Some(tls) => Some(acceptor(
                &base.join(tls.cert_file),
                &base.join(tls.key_file),
            )?),
        };
        let mut users = BTreeMap::new();
        for (name, stored) in doc.basic_auth_users.unwrap_or_default() {
            let hashed = parse_hash(&stored).ok_or_else(|| {
                UsageError::new(format!(
                    "{}: the password of user `{name}` is not a hash int-check made",
                    path.display()
                ))
                .hint("store hashes, never passwords: echo -n PASSWORD | int-check serve --hash-password")
            })?;
            users.insert(name, hashed);
        }
        Ok(WebConfig::with_users(tls, users))
    }

    fn with_users(
        tls: Option<tokio_rustls::TlsAcceptor>,
        users: BTreeMap<String, Hashed>,
    ) -> WebConfig {
        // An unknown user costs what the costliest known one does: the time of a refusal says
        // nothing about which users exist.
        let mut dummy = Hashed {
            iterations: users
                .values()
                .map(|h| h.iterations)
                .max()
                .unwrap_or(NonZeroU32::MIN),
            salt: vec![0; 16],
            hash: vec![0; 32],
        };
        let random = ring::rand::SystemRandom::new();
        let _ = ring::rand::SecureRandom::fill(&random, &mut dummy.salt);
        let _ = ring::rand::SecureRandom::fill(&random, &mut dummy.hash);
        WebConfig {
            tls,
            users,
            dummy,
            remembered: Mutex::new(Vec::new()),
        }
    }

    pub fn needs_auth(&self) -> bool {
        !self.users.is_empty()
    }

    /// Whether an Authorization header carries a configured user's password.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        if self.users.is_empty() {
            return true;
        }
        let Some(encoded) = authorization.and_then(|a| a.strip_prefix("Basic ")) else {
            return false;
        };
        let Some(decoded) = base64_decode(encoded.trim()) else {
            return false;
        };
        let fingerprint: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, &decoded)
            .as_ref()
            .try_into()
            .unwrap_or([0; 32]);
        if let Ok(remembered) = self.remembered.lock()
            && remembered.contains(&fingerprint)
        {
            return true;
        }
        let Some(colon) = decoded.iter().position(|b| *b == b':') else {
            return false;
        };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        let known = std::str::from_utf8(user)
            .ok()
            .and_then(|u| self.users.get(u));
        let hashed = known.unwrap_or(&self.dummy);
        let verified = ring::pbkdf2::verify(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            hashed.iterations,
            &hashed.salt,
            password,
            &hashed.hash,
        )
        .is_ok();
        let ok = verified && known.is_some();
        if ok && let Ok(mut remembered) = self.remembered.lock() {
            if remembered.len() >= REMEMBERED {
                remembered.remove(0);
            }
            remembered.push(fingerprint);
        }
        ok
    }
}

/// A stored hash for `password`: `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX`.
pub fn hash_password(password: &[u8]) -> String {
    let mut salt = [0u8; 16];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt);
    let mut hash = [0u8; 32];
    let iterations = NonZeroU32::new(ITERATIONS).unwrap_or(NonZeroU32::MIN);
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password,
        &mut hash,
    );
    format!("{ALGORITHM}${ITERATIONS}${}${}", hex(&salt), hex(&hash))
}

fn parse_hash(stored: &str) -> Option<Hashed> {
    let mut parts = stored.split('$');
    if parts.next()? != ALGORITHM {
        return None;
    }
    let iterations = NonZeroU32::new(parts.next()?.parse().ok()?)?;
    let salt = unhex(parts.next()?)?;
    let hash = unhex(parts.next()?)?;
    (parts.next().is_none() && hash.len() == 32).then_some(Hashed {
        iterations,
        salt,
        hash,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Standard base64 (RFC 4648), as HTTP basic auth uses it.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= value(*c)? << (18 - 6 * i);
        }
        let produced = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        for i in 0..produced {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

fn acceptor(cert: &Path, key_file: &Path) -> Result<tokio_rustls::TlsAcceptor, UsageError> {
    let chain = crate::pki::read_certificates(cert)?;
    let key = crate::pki::read_private_key(key_file)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| UsageError::new("the TLS provider offers no protocol version"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|_| {
            UsageError::new(format!(
                "the web config's key {} does not belong to its certificate {}",
                key_file.display(),
                cert.display()
            ))
            .hint("give the key the certificate was issued for (`int-check certs verify` tells)")
        })?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_basic_auth_decodes() {
        let stored = hash_password(b"s3cret");
        assert!(stored.starts_with("pbkdf2-sha256$100000$"));
        assert!(!stored.contains("s3cret"));
        let config = WebConfig::with_users(
            None,
            [("prom".to_string(), parse_hash(&stored).unwrap())].into(),
        );
        // "prom:s3cret" and "prom:wrong"
        assert!(config.allows(Some("Basic cHJvbTpzM2NyZXQ=")));
        assert!(config.allows(Some("Basic cHJvbTpzM2NyZXQ=")));
        assert!(!config.allows(Some("Basic cHJvbTp3cm9uZw==")));
        assert!(!config.allows(None));
        assert!(!config.allows(Some("Bearer x")));
        assert_eq!(base64_decode("YWJj").unwrap(), b"abc");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert!(base64_decode("Y").is_none());
        assert!(parse_hash("plain-password").is_none());
    }

    #[test]
    fn unknown_users_take_as_long_as_known_ones() {
        let stored = hash_password(b"s3cret");
        let config = WebConfig::with_users(
            None,
            [("prom".to_string(), parse_hash(&stored).unwrap())].into(),
        );
        // Interleaved, the fastest of seven tries each: what the code costs, not what the
        // machine's load adds (other tests run beside this one).
        let once = |header: &str| {
            let started = std::time::Instant::now();
            assert!(!config.allows(Some(header)));
            started.elapsed().as_secs_f64()
        };
        let (mut known, mut unknown) = (f64::MAX, f64::MAX);
        for _ in 0..7 {
            known = known.min(once("Basic cHJvbTp3cm9uZw==")); // prom:wrong
            unknown = unknown.min(once("Basic bm9ib2R5Ondyb25n")); // nobody:wrong
        }
        let ratio = unknown / known;
        assert!((0.8..=1.25).contains(&ratio), "unknown/known = {ratio:.2}");
    }
}
