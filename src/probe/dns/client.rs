//! A small DNS client for the configured servers: one query per record type over UDP (TCP when
//! the answer is truncated), every reply checked against the question asked. What a resolver
//! library silently drops (a reply with the wrong transaction ID or for another question, an
//! undecodable reply) or gives up on without saying why (a CNAME loop, a truncated answer with
//! TCP refused) is named here, because each is a different fault on the path.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// CNAME steps followed at most.
const MAX_CNAME_STEPS: usize = 16;

/// What one server said about one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Addresses(Vec<IpAddr>),
    /// NXDOMAIN.
    NoSuchName,
    /// The name exists with no address of either type.
    NoAddress,
    /// SERVFAIL, REFUSED and the other error codes, by name.
    Error(String),
}

/// Why no usable reply came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trouble {
    /// Nothing at all within the timeout.
    Silent,
    /// Only replies that do not match the query: what was wrong with them.
    Mismatched(String),
    /// The UDP reply was truncated and TCP 53 could not be used.
    TruncatedNoTcp(String),
    /// The CNAME chain loops or is too long.
    CnameLoop(Vec<String>),
    /// The socket could not be used at all.
    Unusable(String),
    /// This machine has no route to the server: known at once, no timeout waited.
    NoRoute(String),
}

/// A socket error as trouble: no route is its own kind (off HSCN, it is the usual one).
fn socket_trouble(error: &std::io::Error) -> Trouble {
    match error.kind() {
        std::io::ErrorKind::NetworkUnreachable => Trouble::NoRoute("network unreachable".into()),
        std::io::ErrorKind::HostUnreachable => Trouble::NoRoute("host unreachable".into()),
        _ => Trouble::Unusable(crate::profile::io_reason(error)),
    }
}

/// Asks `server` for the addresses of `host` (A and AAAA at once).
pub async fn resolve(server: SocketAddr, host: &str, timeout: Duration) -> Result<Reply, Trouble> {
    let name = Name::from_ascii(format!("{}.", host.trim_end_matches('.')))
        .map_err(|_| Trouble::Unusable(format!("`{host}` is not a DNS name")))?;
    let (v4, v6) = tokio::join!(
        ask(server, &name, RecordType::A, timeout),
        ask(server, &name, RecordType::AAAA, timeout)
    );
    // Addresses from either type win; else an error code from either; else trouble with
    // either; "no address" only when both types answered cleanly with none.
    let mut addresses = Vec::new();
    let mut error = None;
    let mut trouble = None;
    for answer in [v4, v6] {
        match answer {
            Err(t) => {
                trouble.get_or_insert(t);
            }
            Ok(message) => match message.metadata.response_code {
                ResponseCode::NoError => addresses.extend(follow(&name, &message)?),
                ResponseCode::NXDomain => return Ok(Reply::NoSuchName),
                code => {
                    error.get_or_insert(code_name(code));
                }
            },
        }
    }
    if !addresses.is_empty() {
        let mut unique = Vec::new();
        for ip in addresses {
            if !unique.contains(&ip) {
                unique.push(ip);
            }
        }
        return Ok(Reply::Addresses(unique));
    }
    if let Some(code) = error {
        return Ok(Reply::Error(code));
    }
    match trouble {
        Some(t) => Err(t),
        None => Ok(Reply::NoAddress),
    }
}

/// The addresses for `name` in an answer, following CNAMEs within it.
fn follow(name: &Name, message: &Message) -> Result<Vec<IpAddr>, Trouble> {
    let mut current = name.to_lowercase();
    let mut seen: HashSet<Name> = HashSet::new();
    let mut chain = vec![current.to_string()];
    for _ in 0..=MAX_CNAME_STEPS {
        let mut addresses = Vec::new();
        let mut next = None;
        for record in message
            .answers
            .iter()
            .filter(|r| r.name.to_lowercase() == current)
        {
            match &record.data {
                RData::A(a) => addresses.push(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => addresses.push(IpAddr::V6(aaaa.0)),
                RData::CNAME(target) => next = Some(target.0.to_lowercase()),
                _ => {}
            }
        }
        if !addresses.is_empty() {
            return Ok(addresses);
        }
        let Some(target) = next else {
            return Ok(Vec::new());
        };
        chain.push(target.to_string());
        if !seen.insert(current.clone()) || seen.contains(&target) {
            return Err(Trouble::CnameLoop(chain));
        }
        current = target;
    }
    Err(Trouble::CnameLoop(chain))
}

/// One question over UDP, and over TCP when the UDP answer is truncated.
async fn ask(
    server: SocketAddr,
    name: &Name,
    kind: RecordType,
    timeout: Duration,
) -> Result<Message, Trouble> {
    let id = query_id();
    let mut query = Message::new(id, MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(name.clone(), kind));
    let bytes = query
        .to_vec()
        .map_err(|e| Trouble::Unusable(format!("cannot encode the query: {e}")))?;
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("address")
    } else {
        "[::]:0".parse().expect("address")
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| Trouble::Unusable(crate::profile::io_reason(&e)))?;
    socket
        .send_to(&bytes, server)
        .await
        .map_err(|e| socket_trouble(&e))?;
    let mut wrong: Option<String> = None;
    let mut buf = vec![0u8; 4096];
    let start = tokio::time::Instant::now();
    let deadline = start + timeout;
    // UDP loses packets (a busy server's full receive buffer): the same query goes out again
    // after each quarter of the timeout without an answer, as stub resolvers do.
    let interval = (timeout / 4).max(Duration::from_millis(100));
    let mut sends = 1u32;
    loop {
        let resend_at = (start + interval * sends).min(deadline);
        let received = tokio::time::timeout_at(resend_at, socket.recv_from(&mut buf)).await;
        if received.is_err() && resend_at < deadline && sends < 4 {
            sends += 1;
            let _ = socket.send_to(&bytes, server).await;
            continue;
        }
        let (n, from) = match received {
            Err(_) => return Err(wrong.map(Trouble::Mismatched).unwrap_or(Trouble::Silent)),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                // ICMP port unreachable: nothing listens on 53 there.
                return Err(Trouble::Unusable(
                    "nothing answers on its DNS port (ICMP port unreachable)".into(),
                ));
            }
            Ok(Err(e)) => return Err(socket_trouble(&e)),
            Ok(Ok(got)) => got,
        };
        if from != server {
            wrong.get_or_insert(format!("a reply came from {from}, not from {server}"));
            continue;
        }
        let reply = match read_reply(&buf[..n], id, name, kind) {
            Ok(reply) => reply,
            Err(why) => {
                wrong.get_or_insert(why);
                continue;
            }
        };
        if reply.metadata.truncation {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            return over_tcp(server, &bytes, (id, name, kind), left).await;
        }
        return Ok(reply);
    }
}

/// A reply's bytes as the answer to our query (`id`, `name`, `kind`), or why they are not one.
pub fn read_reply(bytes: &[u8], id: u16, name: &Name, kind: RecordType) -> Result<Message, String> {
    let reply = Message::from_vec(bytes).map_err(|_| {
        format!(
            "a reply of {} bytes could not be decoded as DNS",
            bytes.len()
        )
    })?;
    match mismatch(&reply, id, name, kind) {
        Some(why) => Err(why),
        None => Ok(reply),
    }
}

/// The addresses a reply gives for `name`, following its CNAMEs (fuzzing and tests).
pub fn addresses_in(reply: &Message, name: &Name) -> Result<Vec<IpAddr>, String> {
    follow(name, reply).map_err(|trouble| match trouble {
        Trouble::CnameLoop(chain) => format!("a CNAME chain that loops: {}", chain.join(" -> ")),
        _ => "the reply cannot be followed".to_string(),
    })
}

/// Why a reply is not the answer to our query, if it is not.
fn mismatch(reply: &Message, id: u16, name: &Name, kind: RecordType) -> Option<String> {
    if reply.metadata.message_type != MessageType::Response {
        return Some("a message that is not a response came back".to_string());
    }
    if reply.metadata.id != id {
        return Some(format!(
            "a reply carried transaction ID {} instead of {id} (a broken or spoofing middlebox)",
            reply.metadata.id
        ));
    }
    match reply.queries.first() {
        Some(q) if q.name().to_lowercase() == name.to_lowercase() && q.query_type() == kind => None,
        Some(q) => Some(format!(
            "a reply answered another question ({} {}) than the one asked ({name} {kind})",
            q.name(),
            q.query_type()
        )),
        // Some servers omit the question in errors; the ID matched.
        None => None,
    }
}

/// The same query (its ID, name and type in `asked`) over TCP, within `timeout`.
async fn over_tcp(
    server: SocketAddr,
    query: &[u8],
    asked: (u16, &Name, RecordType),
    timeout: Duration,
) -> Result<Message, Trouble> {
    let (id, name, kind) = asked;
    let exchange = async {
        let mut stream = TcpStream::connect(server).await.map_err(|e| {
            Trouble::TruncatedNoTcp(format!(
                "the UDP answer was truncated and TCP 53 failed: {}",
                crate::profile::io_reason(&e)
            ))
        })?;
        let io = |e: std::io::Error| {
            Trouble::TruncatedNoTcp(format!(
                "the UDP answer was truncated and the TCP answer failed: {}",
                crate::profile::io_reason(&e)
            ))
        };
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        stream.write_all(&framed).await.map_err(io)?;
        let mut length = [0u8; 2];
        stream.read_exact(&mut length).await.map_err(io)?;
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(length))];
        stream.read_exact(&mut reply).await.map_err(io)?;
        let reply = Message::from_vec(&reply).map_err(|_| {
            Trouble::Mismatched("the TCP reply could not be decoded as DNS".to_string())
        })?;
        match mismatch(&reply, id, name, kind) {
            Some(why) => Err(Trouble::Mismatched(why)),
            None => Ok(reply),
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(Trouble::TruncatedNoTcp(
            "the UDP answer was truncated and the TCP answer did not come in time".to_string(),
        )))
}

fn query_id() -> u16 {
    use ring::rand::SecureRandom;
    let mut id = [0u8; 2];
    let _ = ring::rand::SystemRandom::new().fill(&mut id);
    u16::from_be_bytes(id)
}

/// SERVFAIL, REFUSED, ... as operators write them.
pub fn code_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::ServFail => "SERVFAIL".to_string(),
        ResponseCode::Refused => "REFUSED".to_string(),
        ResponseCode::FormErr => "FORMERR".to_string(),
        ResponseCode::NotImp => "NOTIMP".to_string(),
        ResponseCode::NXDomain => "NXDOMAIN".to_string(),
        other => other.to_string().to_ascii_uppercase(),
    }
}
