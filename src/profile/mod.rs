//! Environment profiles: built-in ones, TOML files, and the local config layered over them.
//!
//! Every source is parsed into the same `ProfileDoc` (all keys optional, unknown keys rejected),
//! layered `profile < --config file < command line`, then resolved once into an immutable
//! `Profile` with defaults applied.

mod file;
mod layering;
mod resolve;
mod types;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use file::*;
pub use resolve::*;
pub use types::{
    ConnectTo, DurationText, EndpointProxy, EndpointUrl, IpFamily, MinTls, ProxyUrl, ResolverAddr,
    RevocationMode, Scheme, parse_duration,
};

use crate::error::UsageError;
use crate::maintenance::{Maintenance, MaintenanceMode};
use crate::output::Format;

/// A short reason for an I/O error, without Rust's "(os error 2)" noise.
pub fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        std::io::ErrorKind::ConnectionReset => "the peer reset the connection".to_string(),
        std::io::ErrorKind::ConnectionAborted => "the connection was aborted".to_string(),
        std::io::ErrorKind::BrokenPipe => "the peer closed the connection".to_string(),
        // rustls says this with a link to its manual; people need the fact only.
        std::io::ErrorKind::UnexpectedEof => {
            "the peer closed the connection without ending TLS properly".to_string()
        }
        _ => {
            let text = error.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_resolve() {
        for b in BUILTINS {
            let doc = load_profile(b.name).unwrap();
            let profile = Profile::resolve(doc).unwrap();
            assert_eq!(profile.name, b.name);
            assert!(!profile.endpoints.is_empty());
        }
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let text = "name = \"x\"\n[trust]\nmin_tls = \"1.2\"\ncolour = true\n";
        let err = ProfileDoc::parse(text, "p.toml", Path::new(".")).unwrap_err();
        assert!(err.message.starts_with("p.toml:4:1:"), "{}", err.message);
        assert!(err.message.contains("colour"), "{}", err.message);
    }

    #[test]
    fn an_address_family_is_said_in_words() {
        let err = ProfileDoc::parse("ip = \"ipv5\"\n", "p.toml", Path::new(".")).unwrap_err();
        assert!(err.message.starts_with("p.toml:1:"), "{}", err.message);
        assert!(
            err.message.contains("not an address family"),
            "{}",
            err.message
        );
        let doc = ProfileDoc::parse("ip = \"IPv4\"\n", "p.toml", Path::new(".")).unwrap();
        assert_eq!(doc.ip, Some(IpFamily::Ipv4));
    }

    #[test]
    fn a_revocation_mode_and_an_endpoint_proxy_are_said_in_words() {
        let parse = |t: &str| ProfileDoc::parse(t, "p.toml", Path::new("."));
        let err = parse("[trust]\nrevocation = \"maybe\"\n").unwrap_err();
        assert!(err.message.contains("is not a mode"), "{}", err.message);
        let endpoint =
            |extra: &str| format!("[[endpoint]]\nname = \"a\"\nurl = \"https://a/\"\n{extra}\n");
        let err = parse(&endpoint("proxy = \"socks5://u:pw@h:1080\"")).unwrap_err();
        assert!(err.message.contains("SOCKS"), "{}", err.message);
        assert!(!err.message.contains("pw@"), "{}", err.message);
        assert!(parse(&endpoint("proxy = \"none\"\nrevocation = \"Fail\"")).is_ok());
    }

    #[test]
    fn scheme_specific_keys_are_checked() {
        let parse = |t: &str| {
            ProfileDoc::parse(t, "p.toml", Path::new("."))
                .unwrap_err()
                .message
        };
        assert!(
            parse("[[endpoint]]\nname = \"a\"\nurl = \"https://a/\"\nexpect_status = []\n")
                .contains("expect_status is empty")
        );
        assert!(
            parse("[[endpoint]]\nname = \"a\"\nurl = \"https://a/\"\nexpect_status = [99]\n")
                .contains("not an HTTP status")
        );
        assert!(
            parse("[[endpoint]]\nname = \"a\"\nurl = \"tcp://a:1\"\nmethod = \"GET\"\n")
                .contains("https:// endpoints only")
        );
        assert!(
            parse("[[endpoint]]\nname = \"a\"\nurl = \"https://a/\"\nbind_dn = \"x\"\n")
                .contains("ldaps:// endpoints only")
        );
    }

    #[test]
    fn overlay_replaces_same_name_and_appends_new() {
        let base = ProfileDoc::parse(
            "[[endpoint]]\nname = \"a\"\nurl = \"tcp://a:1\"\n[[endpoint]]\nname = \"b\"\nurl = \"tcp://b:1\"\n",
            "base",
            Path::new("/base"),
        )
        .unwrap();
        let top = ProfileDoc::parse(
            "[client]\ncert = \"c.pem\"\nkey = \"k.pem\"\n[[endpoint]]\nname = \"b\"\nurl = \"tcp://b2:2\"\n[[endpoint]]\nname = \"c\"\nurl = \"tcp://c:3\"\n",
            "top",
            Path::new("/top"),
        )
        .unwrap();
        let profile = Profile::resolve(base.overlay(top)).unwrap();
        let urls: Vec<_> = profile
            .endpoints
            .iter()
            .map(|e| e.url.authority())
            .collect();
        assert_eq!(urls, ["a:1", "b2:2", "c:3"]);
        assert_eq!(profile.client.unwrap().cert, PathBuf::from("/top/c.pem"));
    }
}
