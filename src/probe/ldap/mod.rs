//! LDAPS phase: the endpoint's directory searches over the TLS session the TLS phase verified
//! (our anchors, our client identity, the resolved address), bounded in entries, bytes and time.
//!
//! int-check speaks the small part of LDAPv3 it needs itself (`wire`, `ber`, `filter`): a library
//! that panics on a server's bytes cannot be allowed to lose a run, and no library reads over a
//! session that another phase verified. An anonymous session searches at once (LDAPv3 needs no
//! bind) and binds anonymously only when the server asks for it; a bind with credentials stays.

pub mod ber;
pub mod filter;
pub mod wire;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::client::TlsStream;

use super::tls::Session as TlsSession;
use super::wire_bytes::Recorded;
use super::{ProbeContext, ProbeFailure, secs};
use crate::findings::{Check, CheckKind, DirectoryEntry};
use crate::profile::SearchDoc;
use crate::reasons::Reason;
use wire::{LdapResult, Response};

/// Entries read from one search at most; a directory may hold far more (or be hostile).
pub const MAX_ENTRIES: usize = 1000;
/// One LDAP message larger than this is read past, not kept (and the report says so).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// The entries of one search kept in memory, at most.
pub const MAX_SEARCH_BYTES: usize = 4 * 1024 * 1024;
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
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub entries: Vec<DirectoryEntry>,
    /// Why not every entry was read: the server's size limit or one of ours.
    pub truncated_by: Option<String>,
    /// Referrals to other directories the server returned instead of entries.
    pub references: Vec<String>,
    pub filter: String,
}

/// One message off the wire.
enum Frame {
    Message(Vec<u8>),
    /// A message over MAX_MESSAGE_BYTES, read past; its size and, when readable, its ID.
    Oversized(usize, Option<i64>),
}

/// A directory session over a verified TLS connection.
pub struct Session {
    stream: TlsStream<Recorded>,
    buffer: Vec<u8>,
    next_id: i64,
    timeout: Duration,
    /// Whether the server asked for a client certificate, and whether one was sent.
    client_cert: (bool, bool),
    bound: bool,
    /// Whether the directory has sent anything yet on this session.
    heard: bool,
    /// Requests that waited for an answer (round trips), so far.
    pub round_trips: u32,
}

/// A session on the TLS connection the TLS phase verified, or a fresh one (the `sds` command,
/// or when that connection cannot be reused); binds when the endpoint has credentials.
pub async fn open(
    ctx: &ProbeContext<'_>,
    address: SocketAddr,
    verified: Option<TlsSession>,
) -> Result<Session, ProbeFailure> {
    let sent = ctx.tls.has_identity();
    let verified = match verified {
        Some(session) => session,
        None => super::tls::connect(ctx, address).await?,
    };
    let (stream, requested) = (verified.stream, verified.client_cert_requested);
    let mut session = Session {
        stream,
        buffer: Vec::new(),
        next_id: 1,
        timeout: ctx.timeout,
        client_cert: (requested, sent),
        bound: false,
        heard: false,
        round_trips: 0,
    };
    if let Some(dn) = &ctx.endpoint.bind_dn {
        let password = match &ctx.endpoint.bind_password_env {
            None => String::new(),
            Some(var) => std::env::var(var).map_err(|_| {
                ProbeFailure::new(
                    Reason::LdapBindFailed,
                    format!("bind_password_env names `{var}`, which is not set"),
                )
            })?,
        };
        session.bind(dn, &password).await?;
    }
    Ok(session)
}

impl Session {
    fn id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    async fn send(&mut self, bytes: &[u8], doing: &str) -> Result<(), ProbeFailure> {
        let written = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        written.await.map_err(|e| self.io_failure(&e, doing))
    }

    /// The next whole message; one over MAX_MESSAGE_BYTES is read past and only its size kept.
    async fn frame(&mut self, doing: &str) -> Result<Frame, ProbeFailure> {
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let size = ber::element_size(&self.buffer).map_err(|e| garbage(&e, &self.buffer))?;
            if let Some((header, length)) = size {
                let total = header.saturating_add(length);
                if total > MAX_MESSAGE_BYTES {
                    let id = wire::leading_id(&self.buffer);
                    let mut left = total.saturating_sub(self.buffer.len());
                    self.buffer.clear();
                    while left > 0 {
                        let n = self.read_some(&mut chunk, doing).await?;
                        let used = n.min(left);
                        left -= used;
                        self.buffer.extend_from_slice(&chunk[used..n]);
                    }
                    return Ok(Frame::Oversized(total, id));
                }
                if self.buffer.len() >= total {
                    let rest = self.buffer.split_off(total);
                    let message = std::mem::replace(&mut self.buffer, rest);
                    return Ok(Frame::Message(message));
                }
            }
            let n = self.read_some(&mut chunk, doing).await?;
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    async fn read_some(&mut self, chunk: &mut [u8], doing: &str) -> Result<usize, ProbeFailure> {
        use std::io::ErrorKind as K;
        match self.stream.read(chunk).await {
            Ok(0) => Err(self.closed(doing, None)),
            Ok(n) => {
                self.heard = true;
                Ok(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
                ) =>
            {
                Err(self.closed(doing, Some(&e)))
            }
            Err(e) => Err(self.io_failure(&e, doing)),
        }
    }

    /// The directory closed the session. Before saying anything, after asking for a client
    /// certificate, that is its verdict on the certificate (TLS 1.3 servers may close without
    /// an alert); otherwise the connection just ended.
    fn closed(&self, doing: &str, error: Option<&std::io::Error>) -> ProbeFailure {
        let failure = match (self.heard, self.client_cert) {
            (false, (true, false)) => ProbeFailure::new(
                Reason::TlsClientCertRequired,
                "the directory asked for a client certificate and closed the connection when none was sent",
            ),
            (false, (true, true)) => ProbeFailure::new(
                Reason::TlsClientCertRejected,
                "the directory closed the connection after receiving our client certificate: it rejected it",
            ),
            _ => ProbeFailure::new(
                Reason::LdapProtocolError,
                format!("the directory closed the connection {doing}"),
            ),
        };
        match error {
            Some(e) => failure.raw(e),
            None => failure,
        }
    }

    /// Names an I/O error: a TLS alert after the server asked for our certificate is its
    /// verdict on it (TLS 1.3 servers send it on the first read); the rest is the connection.
    fn io_failure(&self, error: &std::io::Error, doing: &str) -> ProbeFailure {
        let alert = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
            .and_then(|e| match e {
                rustls::Error::AlertReceived(alert) => Some(*alert),
                _ => None,
            });
        match (alert, self.client_cert) {
            (Some(alert), (true, true)) => ProbeFailure::new(
                Reason::TlsClientCertRejected,
                format!("the directory rejected our client certificate (TLS alert {})", super::tls::alert_name(alert)),
            ),
            (Some(alert), (true, false)) => ProbeFailure::new(
                Reason::TlsClientCertRequired,
                format!(
                    "the directory requires a client certificate and none is configured (TLS alert {})",
                    super::tls::alert_name(alert)
                ),
            ),
            (Some(alert), _) => ProbeFailure::new(
                Reason::LdapProtocolError,
                format!(
                    "the directory ended the TLS session {doing} (TLS alert {})",
                    super::tls::alert_name(alert)
                ),
            ),
            (None, _) => ProbeFailure::new(
                Reason::LdapProtocolError,
                format!(
                    "the connection failed {doing}: {}",
                    crate::profile::io_reason(error)
                ),
            ),
        }
        .raw(error)
    }

    /// The next response on the session, with the ID it answers (None for a message too large
    /// to decode whose ID could not be read). A Notice of Disconnection ends the session.
    async fn next_response(
        &mut self,
        doing: &str,
    ) -> Result<(Option<i64>, Response), ProbeFailure> {
        let message = match self.frame(doing).await? {
            Frame::Message(message) => message,
            Frame::Oversized(size, id) => return Ok((id, Response::Other(oversized_marker(size)))),
        };
        let (got, response) = wire::decode(&message).map_err(|e| garbage(&e, &message))?;
        if let Response::Extended { result, name } = &response
            && (got == 0 || name.as_deref() == Some(wire::NOTICE_OF_DISCONNECTION))
        {
            return Err(ProbeFailure::new(
                Reason::LdapProtocolError,
                format!(
                    "the directory disconnected {doing} (Notice of Disconnection: result code {} ({}){})",
                    result.code,
                    wire::result_name(result.code),
                    text_suffix(&result.message)
                ),
            ));
        }
        Ok((Some(got), response))
    }

    /// The next response to request `id` (others, such as late answers to an abandoned
    /// search, are passed over).
    async fn response(&mut self, id: i64, doing: &str) -> Result<Response, ProbeFailure> {
        loop {
            if let (Some(got), response) = self.next_response(doing).await?
                && got == id
            {
                return Ok(response);
            }
        }
    }

    async fn bind(&mut self, dn: &str, password: &str) -> Result<(), ProbeFailure> {
        let who = if dn.is_empty() {
            "anonymous bind".to_string()
        } else {
            format!("bind as {dn}")
        };
        let id = self.id();
        let doing = format!("during the {who}");
        let timeout = self.timeout;
        let exchange = async {
            self.send(&wire::bind(id, dn, password), &doing).await?;
            self.round_trips += 1;
            self.response(id, &doing).await
        };
        let response = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| {
                ProbeFailure::new(
                    Reason::LdapTimeout,
                    format!("{who}: no answer within {}", secs(self.timeout)),
                )
            })??;
        match response {
            Response::Bind(result) if result.code == 0 => {
                self.bound = true;
                Ok(())
            }
            Response::Bind(result) => Err(ProbeFailure::new(
                Reason::LdapBindFailed,
                format!("{who} refused: {}", describe(&result)),
            )),
            other => Err(unexpected(&other, "a bind response")),
        }
    }

    /// Runs one search (placeholders already substituted), bounded in entries, bytes and time.
    /// A server that wants a bind first gets an anonymous one, and the search again.
    pub async fn search(
        &mut self,
        base: &str,
        filter: &str,
        attributes: &[String],
    ) -> Result<Found, ProbeFailure> {
        let request = SearchRequest {
            base,
            filter,
            attributes,
            scope: 2,
        };
        self.search_all(&[request]).await.remove(0)
    }

    /// Runs searches side by side: all requests in one write, answers collected as they come,
    /// so that any number of searches costs one round trip. A server that wants a bind first
    /// gets an anonymous one, and those searches again.
    pub async fn search_all(
        &mut self,
        requests: &[SearchRequest<'_>],
    ) -> Vec<Result<Found, ProbeFailure>> {
        let mut outcomes = self.search_once(requests).await;
        let wants_bind: Vec<usize> = (0..requests.len())
            .filter(|&i| matches!(outcomes[i], Err((_, Some(1)))))
            .collect();
        if !wants_bind.is_empty() && !self.bound {
            tracing::debug!("the directory wants a bind before searching");
            match self.bind("", "").await {
                Err(failure) => {
                    for &i in &wants_bind {
                        outcomes[i] = Err((failure.clone(), None));
                    }
                }
                Ok(()) => {
                    let again: Vec<SearchRequest> =
                        wants_bind.iter().map(|&i| requests[i]).collect();
                    let retried = self.search_once(&again).await;
                    for (&i, outcome) in wants_bind.iter().zip(retried) {
                        outcomes[i] = outcome;
                    }
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.map_err(|(f, _)| f))
            .collect()
    }

    /// The rootDSE: a search that any LDAPv3 server answers, for endpoints with no searches.
    pub async fn read_root(&mut self) -> Result<Found, ProbeFailure> {
        let request = SearchRequest {
            base: "",
            filter: "(objectClass=*)",
            attributes: &[],
            scope: 0,
        };
        let mut outcomes = self.search_once(&[request]).await;
        outcomes.remove(0).map_err(|(f, _)| f)
    }

    /// One pipelined round of searches; a failure carries the server's result code when there
    /// was one.
    async fn search_once(&mut self, requests: &[SearchRequest<'_>]) -> Vec<SearchOutcome> {
        let mut outcomes: Vec<Option<SearchOutcome>> = requests.iter().map(|_| None).collect();
        let mut pending = Vec::new();
        let mut batch = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            let encoded = match filter::encode(request.filter) {
                Ok(encoded) => encoded,
                Err(why) => {
                    let failure = ProbeFailure::new(
                        Reason::LdapSearchFailed,
                        format!("the search filter is not valid RFC 4515 syntax: {why}"),
                    );
                    outcomes[index] = Some(Err((failure, None)));
                    continue;
                }
            };
            let id = self.id();
            batch.extend(wire::search(
                id,
                &wire::Search {
                    base: request.base,
                    scope: request.scope,
                    filter: &encoded,
                    attributes: request.attributes,
                    size_limit: MAX_ENTRIES as i64,
                    time_limit: self.timeout.as_secs().max(1) as i64,
                },
            ));
            pending.push(Collector::new(id, index, request.filter));
        }
        if !pending.is_empty() {
            let timeout = self.timeout;
            let work = self.collect(&batch, &mut pending, &mut outcomes);
            let stopped = match tokio::time::timeout(timeout, work).await {
                Err(_) => Some(ProbeFailure::new(
                    Reason::LdapTimeout,
                    format!("the search did not finish within {}", secs(timeout)),
                )),
                Ok(result) => result.err(),
            };
            // Whatever stopped the session stops every search still waiting.
            for collector in pending {
                let failure = stopped.clone().unwrap_or_else(|| {
                    ProbeFailure::new(Reason::LdapProtocolError, "the search got no answer")
                });
                outcomes[collector.index] = Some(Err((failure, None)));
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.expect("every search has an outcome"))
            .collect()
    }

    /// Sends the batch and reads answers until every pending search is done (each leaves
    /// `pending` for `outcomes`), or the session fails.
    async fn collect(
        &mut self,
        batch: &[u8],
        pending: &mut Vec<Collector>,
        outcomes: &mut [Option<SearchOutcome>],
    ) -> Result<(), ProbeFailure> {
        self.send(batch, "while sending the search").await?;
        self.round_trips += 1;
        while !pending.is_empty() {
            let (id, response) = self.next_response("during the search").await?;
            // An answer with no readable ID belongs to the only search, or to none.
            let position = match id {
                Some(id) => pending.iter().position(|c| c.id == id),
                None if pending.len() == 1 => Some(0),
                None => None,
            };
            let Some(position) = position else {
                continue; // a late answer to an abandoned search
            };
            let done = match pending[position].take(response) {
                Step::More => continue,
                Step::Done(outcome) => outcome,
                Step::Enough(found) => {
                    // Stop the server sending more; what arrived is the answer.
                    let target = pending[position].id;
                    let abandon = wire::abandon(self.id(), target);
                    let _ = self.send(&abandon, "while abandoning the search").await;
                    Ok(found)
                }
            };
            let collector = pending.swap_remove(position);
            outcomes[collector.index] = Some(done);
        }
        Ok(())
    }

    pub async fn close(mut self) {
        let id = self.id();
        let bye = async {
            let _ = self.stream.write_all(&wire::unbind(id)).await;
            let _ = self.stream.shutdown().await;
        };
        let _ = tokio::time::timeout(Duration::from_millis(200), bye).await;
    }
}

/// `Response::Other` carries this tag for a message read past because of its size.
/// One search to run: placeholders already substituted.
#[derive(Clone, Copy)]
pub struct SearchRequest<'a> {
    pub base: &'a str,
    pub filter: &'a str,
    pub attributes: &'a [String],
    /// 0 base object, 2 whole subtree.
    pub scope: i64,
}

type SearchOutcome = Result<Found, (ProbeFailure, Option<u32>)>;

/// What one answer did to a search.
enum Step {
    More,
    /// A bound was reached: abandon the search; what arrived is the answer.
    Enough(Found),
    Done(SearchOutcome),
}

/// One search's answers so far, bounded in entries and bytes.
struct Collector {
    id: i64,
    index: usize,
    found: Found,
    kept_bytes: usize,
}

impl Collector {
    fn new(id: i64, index: usize, filter: &str) -> Collector {
        Collector {
            id,
            index,
            found: Found {
                filter: filter.to_string(),
                ..Found::default()
            },
            kept_bytes: 0,
        }
    }

    fn take(&mut self, response: Response) -> Step {
        let found = &mut self.found;
        match response {
            Response::Entry(entry) => {
                let size = entry_size(&entry);
                if found.entries.len() >= MAX_ENTRIES {
                    found.truncated_by =
                        Some(format!("int-check's limit of {MAX_ENTRIES} entries"));
                } else if self.kept_bytes + size > MAX_SEARCH_BYTES {
                    found.truncated_by = Some(format!(
                        "int-check's limit of {} MiB per search",
                        MAX_SEARCH_BYTES / (1024 * 1024)
                    ));
                } else {
                    self.kept_bytes += size;
                    found.entries.push(entry);
                    return Step::More;
                }
                Step::Enough(std::mem::take(found))
            }
            Response::Other(tag) if tag == oversized_marker(0) => {
                found.truncated_by = Some(format!(
                    "an entry over int-check's limit of {} KiB per entry",
                    MAX_MESSAGE_BYTES / 1024
                ));
                Step::More
            }
            Response::Reference(urls) => {
                found.references.extend(urls);
                Step::More
            }
            Response::Done(result) => Step::Done(match result.code {
                0 => Ok(std::mem::take(found)),
                // sizeLimitExceeded: the server stopped at a limit; what arrived is the answer.
                4 => {
                    found.truncated_by = Some("the server's size limit".to_string());
                    Ok(std::mem::take(found))
                }
                code => Err((
                    ProbeFailure::new(
                        Reason::LdapSearchFailed,
                        format!("the directory answered {}", describe(&result)),
                    ),
                    Some(code),
                )),
            }),
            other => Step::Done(Err((unexpected(&other, "a search answer"), None))),
        }
    }
}

fn oversized_marker(_size: usize) -> u8 {
    0xff
}

fn entry_size(entry: &DirectoryEntry) -> usize {
    entry.dn.len()
        + entry
            .attrs
            .iter()
            .map(|(k, v)| k.len() + v.iter().map(String::len).sum::<usize>())
            .sum::<usize>()
}

/// `result code 49 (invalidCredentials): message`, with referrals when there are some.
fn describe(result: &LdapResult) -> String {
    let mut text = format!(
        "result code {} ({}){}",
        result.code,
        wire::result_name(result.code),
        text_suffix(&result.message)
    );
    if !result.referrals.is_empty() {
        text.push_str(&format!("; referred to {}", result.referrals.join(", ")));
    }
    text
}

fn unexpected(response: &Response, wanted: &str) -> ProbeFailure {
    let got = match response {
        Response::Bind(_) => "a bind response".to_string(),
        Response::Entry(_) => "a search entry".to_string(),
        Response::Done(_) => "a search result".to_string(),
        Response::Reference(_) => "a referral".to_string(),
        Response::Extended { .. } => "an extended response".to_string(),
        Response::Other(tag) => format!("an operation with tag 0x{tag:02x}"),
    };
    ProbeFailure::new(
        Reason::LdapProtocolError,
        format!("the directory sent {got} where {wanted} belongs"),
    )
}

/// Bytes that are not LDAP: say so, and keep a short hex prefix for the support call.
fn garbage(error: &ber::BerError, bytes: &[u8]) -> ProbeFailure {
    let prefix: Vec<String> = bytes.iter().take(32).map(|b| format!("{b:02x}")).collect();
    ProbeFailure::new(
        Reason::LdapProtocolError,
        format!("the directory sent bytes that are not valid LDAP ({error})"),
    )
    .raw(format!("first bytes: {}", prefix.join(" ")))
}

/// Runs the LDAPS phase for an endpoint: one check per search (or one for the rootDSE).
pub async fn checks(
    ctx: &ProbeContext<'_>,
    address: SocketAddr,
    verified: Option<TlsSession>,
) -> Vec<Check> {
    let (endpoint, ids) = (ctx.endpoint, ctx.ids);
    let started = Instant::now();
    let new_check = |name: Option<&str>| {
        let check = ctx.check(CheckKind::Ldap, address);
        match name {
            Some(name) => check.with_detail(|d| d.ldap().search = Some(name.to_string())),
            None => check,
        }
    };
    let mut session = match open(ctx, address, verified).await {
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
    // A bind with credentials costs a round trip before any search.
    let bind_trips = session.round_trips;
    if endpoint.searches.is_empty() {
        let result = session.read_root().await;
        session.close().await;
        let check = new_check(None).took(started.elapsed());
        return vec![match result {
            Ok(_) => check.pass("the directory answered (no searches configured)"),
            Err(f) => check.failed(f),
        }];
    }
    // Substitute every filter first; those that can run go out together, one round trip.
    let started = Instant::now();
    let mut planned = Vec::new();
    let mut out: Vec<Option<Check>> = Vec::new();
    for search in &endpoint.searches {
        let check = new_check(Some(&search.name))
            .with_detail(|d| d.ldap().base = Some(search.base.clone()));
        match substitute(&search.filter, ids) {
            Ok(filter) => {
                planned.push((out.len(), filter.clone()));
                out.push(Some(check.with_detail(|d| d.ldap().filter = Some(filter))));
            }
            Err(message) => out.push(Some(check.fail(Reason::LdapSearchFailed, message))),
        }
    }
    let requests: Vec<SearchRequest> = planned
        .iter()
        .map(|(index, filter)| {
            let search = &endpoint.searches[*index];
            SearchRequest {
                base: &search.base,
                filter,
                attributes: &search.attributes,
                scope: 2,
            }
        })
        .collect();
    let before = session.round_trips;
    let results = session.search_all(&requests).await;
    // Each search waited for the round trips of the batch (and the bind, if one was needed).
    let trips = session.round_trips - before + bind_trips;
    for ((index, _), result) in planned.iter().zip(results) {
        let check = out[*index]
            .take()
            .expect("planned once")
            .took(started.elapsed())
            .with_detail(|d| d.round_trips = Some(trips));
        out[*index] = Some(match result {
            Err(f) => check.failed(f),
            Ok(found) => judge(check, &endpoint.searches[*index], &found),
        });
    }
    let out: Vec<Check> = out.into_iter().flatten().collect();
    session.close().await;
    tracing::debug!(endpoint = %endpoint.name, elapsed = ?started.elapsed(), "directory done");
    out
}

fn judge(check: Check, search: &SearchDoc, found: &Found) -> Check {
    let count = found.entries.len();
    let sample: Vec<DirectoryEntry> = found.entries.iter().take(SAMPLE_ENTRIES).cloned().collect();
    let check = check.with_detail(|d| {
        d.ldap().entries = Some(count as u64);
        d.ldap().truncated = Some(found.truncated_by.is_some());
        d.ldap().truncated_by = found.truncated_by.clone();
        d.ldap().sample = Some(sample);
        if !found.references.is_empty() {
            d.ldap().references = Some(found.references.clone());
        }
    });
    let more = if found.truncated_by.is_some() {
        " (more not read)"
    } else {
        ""
    };
    if count < search.min_entries {
        let mut referred = if found.references.is_empty() {
            String::new()
        } else {
            format!(
                "; the directory referred to {}",
                found.references.join(", ")
            )
        };
        if let Some(why) = &found.truncated_by {
            referred.push_str(&format!("; not every entry was read ({why})"));
        }
        return check.fail(
            Reason::LdapNoEntries,
            format!(
                "{count} entries for {}, at least {} expected{referred}",
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
            out = out.replace(&placeholder, &crate::spine_directory::escape(value));
        }
    }
    Ok(out)
}

fn text_suffix(text: &str) -> String {
    if text.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", text.trim())
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
        // Non-ASCII stays UTF-8 (it was turned into mojibake byte by byte).
        assert_eq!(crate::spine_directory::escape("Zoë*"), "Zoë\\2a");
    }
}
