//! What a server that refused our handshake would accept: a probing TLS 1.2 ClientHello offering
//! the cipher suites NHS's security guidance lists (NRL/SSP: TLS 1.2 only; ECDHE and DHE with
//! RSA, AES-GCM and CBC), read up to the ServerHello. rustls speaks only two of them (the
//! ECDHE-RSA-AES-GCM ones): a server that chooses another is reachable by OpenSSL-based clients,
//! and the report says so instead of "the handshake failed".

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The suites of the NRL/SSP security guidance, in its order (IANA code, OpenSSL name).
pub const NHS_SUITES: [(u16, &str); 8] = [
    (0xC030, "ECDHE-RSA-AES256-GCM-SHA384"),
    (0xC02F, "ECDHE-RSA-AES128-GCM-SHA256"),
    (0x009F, "DHE-RSA-AES256-GCM-SHA384"),
    (0x009E, "DHE-RSA-AES128-GCM-SHA256"),
    (0xC028, "ECDHE-RSA-AES256-SHA384"),
    (0x006B, "DHE-RSA-AES256-SHA256"),
    (0x0039, "DHE-RSA-AES256-SHA"),
    (0xC014, "ECDHE-RSA-AES256-SHA"),
];

/// The suites of that list rustls speaks.
const SPOKEN: [u16; 2] = [0xC030, 0xC02F];

/// What a server answered a probing ClientHello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A ServerHello: the version and suite it chose.
    Chose { version: u16, suite: u16 },
    /// An alert instead (its description code).
    Refused(u8),
    /// Nothing usable within the time.
    Nothing,
}

/// What the probes found: the NHS-listed suites the server accepts, and the version it spoke.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    pub suites: Vec<u16>,
    pub version: Option<u16>,
}

impl Accepted {
    /// Whether the server accepts a suite of the list only outside what rustls speaks.
    pub fn only_unspoken(&self) -> bool {
        !self.suites.is_empty() && !self.suites.iter().any(|s| SPOKEN.contains(s))
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.suites.iter().map(|s| suite_name(*s)).collect()
    }
}

pub fn suite_name(code: u16) -> &'static str {
    NHS_SUITES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| *n)
        .unwrap_or("another suite")
}

pub fn version_name(version: u16) -> &'static str {
    match version {
        0x0304 => "TLS 1.3",
        0x0303 => "TLS 1.2",
        0x0302 => "TLS 1.1",
        0x0301 => "TLS 1.0",
        0x0300 => "SSL 3.0",
        _ => "an unknown version",
    }
}

/// Every suite of the NHS list the server accepts, one probe per suite found (at most 8 round
/// trips, each on its own connection, within `timeout` each).
pub async fn accepted(address: SocketAddr, sni: Option<&str>, timeout: Duration) -> Accepted {
    let mut offered: Vec<u16> = NHS_SUITES.iter().map(|(c, _)| *c).collect();
    let mut found = Accepted::default();
    while !offered.is_empty() {
        match probe(address, sni, &offered, timeout).await {
            Answer::Chose { version, suite } if offered.contains(&suite) => {
                found.version.get_or_insert(version);
                found.suites.push(suite);
                offered.retain(|s| *s != suite);
            }
            Answer::Chose { version, .. } => {
                found.version.get_or_insert(version);
                break;
            }
            Answer::Refused(_) | Answer::Nothing => break,
        }
    }
    found
}

/// One probing ClientHello offering `suites` (TLS 1.2), read to the ServerHello or an alert.
pub async fn probe(
    address: SocketAddr,
    sni: Option<&str>,
    suites: &[u16],
    timeout: Duration,
) -> Answer {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await.ok()?;
        stream.write_all(&client_hello(sni, suites)).await.ok()?;
        let mut header = [0u8; 5];
        stream.read_exact(&mut header).await.ok()?;
        let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
        // A ServerHello is small; read at most one record of what the server sends.
        let mut record = vec![0u8; length.min(16 * 1024)];
        stream.read_exact(&mut record).await.ok()?;
        Some(read_answer(header[0], &record))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .ok()
        .flatten()
        .unwrap_or(Answer::Nothing)
}

fn read_answer(content_type: u8, record: &[u8]) -> Answer {
    match content_type {
        // alert: level, description
        0x15 if record.len() >= 2 => Answer::Refused(record[1]),
        // handshake: ServerHello (2) = version(2) random(32) session_id(1+n) suite(2)
        0x16 if record.first() == Some(&2) && record.len() > 4 + 2 + 32 => {
            let body = &record[4..];
            let version = u16::from_be_bytes([body[0], body[1]]);
            let session = usize::from(body[34]);
            match body.get(35 + session..37 + session) {
                Some(suite) => Answer::Chose {
                    version,
                    suite: u16::from_be_bytes([suite[0], suite[1]]),
                },
                None => Answer::Nothing,
            }
        }
        _ => Answer::Nothing,
    }
}

/// A TLS 1.2 ClientHello: the suites given (and the renegotiation SCSV), SNI when a name,
/// the groups and signature schemes NHS servers use.
pub fn client_hello(sni: Option<&str>, suites: &[u16]) -> Vec<u8> {
    fn u16s(values: &[u16]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }
    fn extension(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut out = kind.to_be_bytes().to_vec();
        out.extend((data.len() as u16).to_be_bytes());
        out.extend(data);
        out
    }
    fn with_u16_length(data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u16).to_be_bytes().to_vec();
        out.extend(data);
        out
    }
    let mut extensions = Vec::new();
    if let Some(name) = sni.filter(|n| n.parse::<std::net::IpAddr>().is_err()) {
        let mut entry = vec![0u8];
        entry.extend(with_u16_length(name.as_bytes()));
        extensions.extend(extension(0x0000, &with_u16_length(&entry)));
    }
    // supported_groups: x25519, P-256, P-384, ffdhe2048
    extensions.extend(extension(
        0x000a,
        &with_u16_length(&u16s(&[0x001d, 0x0017, 0x0018, 0x0100])),
    ));
    // ec_point_formats: uncompressed
    extensions.extend(extension(0x000b, &[1, 0]));
    // signature_algorithms: RSA PKCS#1 and PSS, ECDSA
    extensions.extend(extension(
        0x000d,
        &with_u16_length(&u16s(&[
            0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0201,
        ])),
    ));
    // extended_master_secret
    extensions.extend(extension(0x0017, &[]));

    let mut offered = suites.to_vec();
    offered.push(0x00ff); // TLS_EMPTY_RENEGOTIATION_INFO_SCSV
    let mut body = vec![0x03, 0x03];
    let mut random = [0u8; 32];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
    body.extend(random);
    body.push(0); // no session id
    body.extend(with_u16_length(&u16s(&offered)));
    body.extend([1, 0]); // compression: null
    body.extend(with_u16_length(&extensions));

    let mut handshake = vec![1u8];
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_hello_and_an_alert_are_read() {
        let mut hello = vec![2, 0, 0, 40, 0x03, 0x03];
        hello.extend([7u8; 32]);
        hello.extend([0, 0x00, 0x9f, 0]);
        assert_eq!(
            read_answer(0x16, &hello),
            Answer::Chose {
                version: 0x0303,
                suite: 0x009f
            }
        );
        assert_eq!(read_answer(0x15, &[2, 40]), Answer::Refused(40));
        assert_eq!(read_answer(0x17, &[]), Answer::Nothing);
        let found = Accepted {
            suites: vec![0x009f, 0x0039],
            version: Some(0x0303),
        };
        assert!(found.only_unspoken());
        assert_eq!(
            found.names(),
            ["DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-AES256-SHA"]
        );
    }

    #[test]
    fn the_client_hello_is_well_formed() {
        let hello = client_hello(Some("msg.int.test"), &[0xc02f]);
        assert_eq!(&hello[..3], &[0x16, 0x03, 0x01]);
        let record = u16::from_be_bytes([hello[3], hello[4]]) as usize;
        assert_eq!(record, hello.len() - 5);
        assert_eq!(hello[5], 1, "ClientHello");
        let body = u32::from_be_bytes([0, hello[6], hello[7], hello[8]]) as usize;
        assert_eq!(body, hello.len() - 9);
    }
}
