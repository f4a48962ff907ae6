//! LDAPS phase: bind to the directory over the address the DNS phase resolved (our rustls
//! configuration, our client identity) and run the endpoint's searches, bounded in size and time.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchOptions, StdStream};

use super::{ProbeContext, ProbeFailure, secs};
use crate::findings::{Check, CheckKind, DirectoryEntry};
use crate::profile::SearchDoc;
use crate::reasons::Reason;

/// Entries read from one search at most; a directory may hold far more (or be hostile).
pub const MAX_ENTRIES: usize = 1000;
/// Entries quoted in a report.
const SAMPLE_ENTRIES: usize = 20;

/// The profile identifiers that search filters may use.
#[derive(Clone, Debug, Default)]
pub struct Identifiers {
    pub party_key: Option<String>,
    pub asid: Option<String>,
    pub ods: Option<String>,
}

/// What a search found.
#[derive(Clone, Debug)]
pub struct Found {
    pub entries: Vec<DirectoryEntry>,
    /// Entries beyond the ones kept (server size limit or our cap reached).
    pub truncated: bool,
    pub filter: String,
}

/// An open, bound directory session.
pub struct Session {
    ldap: Ldap,
    timeout: Duration,
}

/// Connects over a fresh TCP connection to `address` and binds.
pub async fn open(ctx: &ProbeContext<'_>, address: SocketAddr) -> Result<Session, ProbeFailure> {
    let (endpoint, timeout) = (ctx.endpoint, ctx.timeout);
    let connecting = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await;
    let stream = match connecting {
        Err(_) => {
            return Err(ProbeFailure::new(
                Reason::LdapTimeout,
                format!("no TCP connection to {address} within {}", secs(timeout)),
            ));
        }
        Ok(Err(e)) => {
            return Err(ProbeFailure::new(
                Reason::LdapProtocolError,
                format!(
                    "cannot reconnect to {address}: {}",
                    crate::profile::io_reason(&e)
                ),
            ));
        }
        Ok(Ok(stream)) => stream,
    };
    // LDAP requests are small writes: without this, Nagle and delayed ACKs add 40 ms a round.
    let _ = stream.set_nodelay(true);
    let std_stream = stream.into_std().map_err(|e| {
        ProbeFailure::new(
            Reason::LdapProtocolError,
            format!("cannot hand the connection to the LDAP client: {e}"),
        )
    })?;
    let (config, recorder) = ctx.tls.client_config(ctx.trust);
    // ldap3 uses the URL host for SNI; the connection itself is ours, to the resolved address.
    let settings = LdapConnSettings::new()
        .set_config(Arc::new(config))
        .set_conn_timeout(timeout)
        .set_std_stream(StdStream::Tcp(std_stream));
    let url = format!("ldaps://{}", endpoint.url.authority());
    let connected =
        tokio::time::timeout(timeout, LdapConnAsync::with_settings(settings, &url)).await;
    let (conn, mut ldap) = match connected {
        Err(_) => {
            return Err(ProbeFailure::new(
                Reason::LdapTimeout,
                format!(
                    "the LDAPS handshake did not finish within {}",
                    secs(timeout)
                ),
            ));
        }
        Ok(Err(e)) => {
            // A certificate problem is named by our verifier, not by the LDAP client.
            if let Some(problem) = recorder.assessment().and_then(|a| a.problem) {
                return Err(problem);
            }
            return Err(ProbeFailure::new(
                Reason::LdapProtocolError,
                format!("LDAPS connection failed: {}", describe(&e)),
            )
            .raw(&e));
        }
        Ok(Ok(pair)) => pair,
    };
    tokio::spawn(async move {
        // The connection's errors surface through the operations that use it.
        let _ = conn.drive().await;
    });

    let (dn, password) = match &endpoint.bind_dn {
        None => (String::new(), String::new()),
        Some(dn) => {
            let password = match &endpoint.bind_password_env {
                None => String::new(),
                Some(var) => std::env::var(var).map_err(|_| {
                    ProbeFailure::new(
                        Reason::LdapBindFailed,
                        format!("bind_password_env names `{var}`, which is not set"),
                    )
                })?,
            };
            (dn.clone(), password)
        }
    };
    let who = if dn.is_empty() {
        "anonymous bind".to_string()
    } else {
        format!("bind as {dn}")
    };
    match ldap.with_timeout(timeout).simple_bind(&dn, &password).await {
        Ok(result) if result.rc == 0 => Ok(Session { ldap, timeout }),
        Ok(result) => Err(ProbeFailure::new(
            Reason::LdapBindFailed,
            format!(
                "{who} refused: result code {} ({}){}",
                result.rc,
                rc_name(result.rc),
                text_suffix(&result.text)
            ),
        )),
        Err(LdapError::Timeout { .. }) => Err(ProbeFailure::new(
            Reason::LdapTimeout,
            format!("{who}: no answer within {}", secs(timeout)),
        )),
        Err(e) => Err(ProbeFailure::new(
            Reason::LdapProtocolError,
            format!("{who} failed: {}", describe(&e)),
        )
        .raw(&e)),
    }
}

impl Session {
    /// Runs one search (placeholders already substituted), bounded in entries and time.
    pub async fn search(
        &mut self,
        base: &str,
        filter: &str,
        attributes: &[String],
    ) -> Result<Found, ProbeFailure> {
        let timeout = self.timeout;
        let limit = i32::try_from(MAX_ENTRIES).unwrap_or(i32::MAX);
        let time_limit = i32::try_from(timeout.as_secs().max(1)).unwrap_or(i32::MAX);
        let ldap = &mut self.ldap;
        let work = async move {
            let mut stream = ldap
                .with_search_options(SearchOptions::new().sizelimit(limit).timelimit(time_limit))
                .streaming_search(base, Scope::Subtree, filter, attributes.to_vec())
                .await
                .map_err(|e| search_error(&e))?;
            let mut entries = Vec::new();
            let mut truncated = false;
            loop {
                match stream.next().await {
                    Ok(Some(raw)) => {
                        if entries.len() >= MAX_ENTRIES {
                            truncated = true;
                            break;
                        }
                        match parse_entry(raw) {
                            Some(entry) => entries.push(entry),
                            None => {
                                return Err(ProbeFailure::new(
                                    Reason::LdapProtocolError,
                                    "the directory sent an entry that is not valid LDAP",
                                ));
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Err(search_error(&e)),
                }
            }
            if truncated {
                // Stop the server sending more; the answer already has what we need.
                let id = stream.ldap_handle().last_id();
                let _ = stream.ldap_handle().abandon(id).await;
                return Ok((entries, true));
            }
            let result = stream.finish().await;
            match result.rc {
                0 => Ok((entries, false)),
                // sizeLimitExceeded: the server stopped at our limit; what arrived is the answer.
                4 => Ok((entries, true)),
                rc => Err(ProbeFailure::new(
                    Reason::LdapSearchFailed,
                    format!(
                        "the directory answered result code {rc} ({}){}",
                        rc_name(rc),
                        text_suffix(&result.text)
                    ),
                )),
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Err(_) => Err(ProbeFailure::new(
                Reason::LdapTimeout,
                format!("the search did not finish within {}", secs(timeout)),
            )),
            Ok(Err(f)) => Err(f),
            Ok(Ok((entries, truncated))) => Ok(Found {
                entries,
                truncated,
                filter: filter.to_string(),
            }),
        }
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_millis(200), self.ldap.unbind()).await;
    }
}

/// Runs the LDAPS phase for an endpoint: one check per search (or one for the bind alone).
pub async fn checks(ctx: &ProbeContext<'_>, address: SocketAddr) -> Vec<Check> {
    let (endpoint, ids) = (ctx.endpoint, ctx.ids);
    let started = Instant::now();
    let new_check = |name: Option<&str>| {
        let check = ctx.check(CheckKind::Ldap, address);
        match name {
            Some(name) => check.with_detail(|d| d.search = Some(name.to_string())),
            None => check,
        }
    };
    let mut session = match open(ctx, address).await {
        Ok(session) => session,
        Err(f) => {
            let mut out = vec![
                new_check(endpoint.searches.first().map(|s| s.name.as_str()))
                    .took(started.elapsed())
                    .failed(f),
            ];
            out.extend(
                endpoint
                    .searches
                    .iter()
                    .skip(1)
                    .map(|s| new_check(Some(&s.name)).skip("not run: the bind failed")),
            );
            return out;
        }
    };
    let bound_in = started.elapsed();
    tracing::debug!(endpoint = %endpoint.name, ?bound_in, "directory bound");
    if endpoint.searches.is_empty() {
        session.close().await;
        return vec![
            new_check(None)
                .took(bound_in)
                .pass("bound to the directory (no searches configured)"),
        ];
    }
    let mut out = Vec::new();
    for search in &endpoint.searches {
        let started = Instant::now();
        let check =
            new_check(Some(&search.name)).with_detail(|d| d.base = Some(search.base.clone()));
        let filter = match substitute(&search.filter, ids) {
            Ok(filter) => filter,
            Err(message) => {
                out.push(check.fail(Reason::LdapSearchFailed, message));
                continue;
            }
        };
        let check = check.with_detail(|d| d.filter = Some(filter.clone()));
        let result = session
            .search(&search.base, &filter, &search.attributes)
            .await;
        let check = check.took(started.elapsed());
        out.push(match result {
            Err(f) => check.failed(f),
            Ok(found) => judge(check, search, &found),
        });
    }
    tracing::debug!(endpoint = %endpoint.name, elapsed = ?started.elapsed(), "searches done");
    session.close().await;
    tracing::debug!(endpoint = %endpoint.name, elapsed = ?started.elapsed(), "directory closed");
    out
}

fn judge(check: Check, search: &SearchDoc, found: &Found) -> Check {
    let count = found.entries.len();
    let sample: Vec<DirectoryEntry> = found.entries.iter().take(SAMPLE_ENTRIES).cloned().collect();
    let check = check.with_detail(|d| {
        d.entries = Some(count as u64);
        d.truncated = Some(found.truncated);
        d.sample = Some(sample);
    });
    let more = if found.truncated {
        " (more not read)"
    } else {
        ""
    };
    if count < search.min_entries {
        return check.fail(
            Reason::LdapNoEntries,
            format!(
                "{count} entries for {}, at least {} expected",
                found.filter, search.min_entries
            ),
        );
    }
    check.pass(format!(
        "{count} entries{more}: {}",
        summarise(&found.entries)
    ))
}

/// A one-line summary of what the entries say: interactions and endpoints, or accredited systems.
pub fn summarise(entries: &[DirectoryEntry]) -> String {
    let mut interactions = std::collections::BTreeSet::new();
    let mut endpoints = std::collections::BTreeSet::new();
    let mut systems = Vec::new();
    for entry in entries {
        interactions.extend(entry.get("nhsMhsSvcIA").iter().cloned());
        interactions.extend(entry.get("nhsAsSvcIA").iter().cloned());
        endpoints.extend(entry.get("nhsMHSEndPoint").iter().cloned());
        if entry
            .get("objectClass")
            .iter()
            .any(|c| c.eq_ignore_ascii_case("nhsAs"))
            || !entry.get("nhsAsSvcIA").is_empty()
        {
            let asid = entry
                .get("uniqueIdentifier")
                .first()
                .cloned()
                .unwrap_or_default();
            let party = entry
                .get("nhsMhsPartyKey")
                .first()
                .cloned()
                .unwrap_or_default();
            systems.push(format!("ASID {asid} (party key {party})"));
        }
    }
    let mut parts = Vec::new();
    if !systems.is_empty() {
        parts.push(systems.join(", "));
    }
    if !interactions.is_empty() {
        parts.push(format!("{} interactions", interactions.len()));
    }
    if !endpoints.is_empty() {
        parts.push(format!(
            "endpoints {}",
            endpoints.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if parts.is_empty() {
        "found".to_string()
    } else {
        parts.join("; ")
    }
}

/// Replaces `{party_key}`, `{asid}`, `{ods}` with RFC 4515-escaped profile values.
pub fn substitute(filter: &str, ids: &Identifiers) -> Result<String, String> {
    let mut out = filter.to_string();
    for (key, value) in [
        ("party_key", &ids.party_key),
        ("asid", &ids.asid),
        ("ods", &ids.ods),
    ] {
        let placeholder = format!("{{{key}}}");
        if out.contains(&placeholder) {
            let Some(value) = value else {
                return Err(format!(
                    "the filter uses {placeholder} but the profile sets no {key}"
                ));
            };
            out = out.replace(&placeholder, &escape_filter_value(value));
        }
    }
    Ok(out)
}

/// RFC 4515 escaping of a value inside a filter.
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'*' | b'(' | b')' | b'\\' | 0 => out.push_str(&format!("\\{byte:02x}")),
            _ => out.push(byte as char),
        }
    }
    out
}

/// Parses a search result entry without panicking on malformed BER (ldap3's own parser panics).
fn parse_entry(raw: ldap3::ResultEntry) -> Option<DirectoryEntry> {
    let mut parts = raw.0.match_id(4)?.expect_constructed()?.into_iter();
    let dn = String::from_utf8(parts.next()?.expect_primitive()?).ok()?;
    let mut attrs = BTreeMap::new();
    for attribute in parts.next()?.expect_constructed()? {
        let mut pair = attribute.expect_constructed()?.into_iter();
        let name = String::from_utf8(pair.next()?.expect_primitive()?).ok()?;
        let mut values = Vec::new();
        for value in pair.next()?.expect_constructed()? {
            // Binary values (certificates) are not shown.
            if let Ok(text) = String::from_utf8(value.expect_primitive()?) {
                values.push(text);
            }
        }
        attrs.insert(name, values);
    }
    Some(DirectoryEntry { dn, attrs })
}

fn search_error(error: &LdapError) -> ProbeFailure {
    match error {
        LdapError::FilterParsing => ProbeFailure::new(
            Reason::LdapSearchFailed,
            "the search filter is not valid RFC 4515 syntax",
        ),
        LdapError::Timeout { .. } => ProbeFailure::new(
            Reason::LdapTimeout,
            "the directory did not answer the search in time",
        ),
        LdapError::LdapResult { result } => ProbeFailure::new(
            Reason::LdapSearchFailed,
            format!(
                "the directory answered result code {} ({}){}",
                result.rc,
                rc_name(result.rc),
                text_suffix(&result.text)
            ),
        ),
        other => ProbeFailure::new(
            Reason::LdapProtocolError,
            format!("the search failed: {}", describe(other)),
        )
        .raw(other),
    }
}

fn describe(error: &LdapError) -> String {
    match error {
        LdapError::EndOfStream => "the directory closed the connection".to_string(),
        LdapError::Io { source } => crate::profile::io_reason(source),
        other => other.to_string(),
    }
}

fn text_suffix(text: &str) -> String {
    if text.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", text.trim())
    }
}

/// Names of the LDAP result codes people meet (RFC 4511 appendix A).
pub fn rc_name(rc: u32) -> &'static str {
    match rc {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        11 => "adminLimitExceeded",
        13 => "confidentialityRequired",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        80 => "other",
        _ => "see RFC 4511",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_escaped() {
        let ids = Identifiers {
            party_key: Some("YES-0000806".into()),
            asid: Some("1*)(x".into()),
            ods: None,
        };
        assert_eq!(
            substitute("(k={party_key})", &ids).unwrap(),
            "(k=YES-0000806)"
        );
        assert_eq!(
            substitute("(a={asid})", &ids).unwrap(),
            "(a=1\\2a\\29\\28x)"
        );
        assert!(
            substitute("(o={ods})", &ids)
                .unwrap_err()
                .contains("no ods")
        );
    }
}
