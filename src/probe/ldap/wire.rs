//! LDAPv3 messages (RFC 4511) that int-check sends and reads. Decoding never panics and bounds
//! what it keeps: values are cut to `MAX_VALUE_BYTES`, non-UTF-8 values shown as base64.

use std::collections::BTreeMap;

use super::ber::{self, BerError, ENUMERATED, INTEGER, OCTET_STRING, Reader, SEQUENCE, SET};
use crate::findings::DirectoryEntry;

/// A value longer than this is cut in reports (and said to be).
pub const MAX_VALUE_BYTES: usize = crate::text::MAX_VALUE_BYTES;
/// The Notice of Disconnection's name (RFC 4511 section 4.4.1).
pub const NOTICE_OF_DISCONNECTION: &str = "1.3.6.1.4.1.1466.20036";

/// The result part of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdapResult {
    pub code: u32,
    pub matched_dn: String,
    pub message: String,
    pub referrals: Vec<String>,
}

/// A response, by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    Bind(LdapResult),
    Entry(DirectoryEntry),
    Done(LdapResult),
    Reference(Vec<String>),
    Extended {
        result: LdapResult,
        name: Option<String>,
    },
    /// An operation int-check never asked for; its application tag.
    Other(u8),
}

/// The message ID of an LDAPMessage of which only the first bytes are at hand.
pub fn leading_id(head: &[u8]) -> Option<i64> {
    let (header, _) = ber::element_size(head).ok()??;
    Reader::new(head.get(header..)?)
        .integer(INTEGER, "a message ID")
        .ok()
}

/// Decodes one whole LDAPMessage into its message ID and response.
pub fn decode(message: &[u8]) -> Result<(i64, Response), BerError> {
    let mut outer = Reader::new(message);
    let envelope = outer.expect(SEQUENCE, "a message")?;
    let mut fields = Reader::new(envelope.value);
    let id = fields.integer(INTEGER, "a message ID")?;
    let op = fields.any()?;
    let mut body = Reader::new(op.value);
    let response = match op.tag {
        0x61 => Response::Bind(result(&mut body)?),
        0x64 => Response::Entry(entry(&mut body)?),
        0x65 => Response::Done(result(&mut body)?),
        0x73 => {
            let mut urls = Vec::new();
            while !body.is_empty() {
                urls.push(text(body.octets("a referral URL")?));
            }
            Response::Reference(urls)
        }
        0x78 => {
            let result = result(&mut body)?;
            let name = body.optional(0x8a)?.map(|t| text(t.value));
            Response::Extended { result, name }
        }
        other => Response::Other(other),
    };
    Ok((id, response))
}

fn result(body: &mut Reader<'_>) -> Result<LdapResult, BerError> {
    let code = body.integer(ENUMERATED, "a result code")?;
    let matched_dn = text(body.octets("a matched DN")?);
    let message = text(body.octets("a diagnostic message")?);
    let mut referrals = Vec::new();
    if let Some(list) = body.optional(0xa3)? {
        let mut urls = Reader::new(list.value);
        while !urls.is_empty() {
            referrals.push(text(urls.octets("a referral URL")?));
        }
    }
    Ok(LdapResult {
        code: u32::try_from(code).unwrap_or(u32::MAX),
        matched_dn,
        message,
        referrals,
    })
}

fn entry(body: &mut Reader<'_>) -> Result<DirectoryEntry, BerError> {
    let dn = text(body.octets("an entry's DN")?);
    let list = body.expect(SEQUENCE, "an entry's attributes")?;
    let mut attributes = Reader::new(list.value);
    let mut attrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    while !attributes.is_empty() {
        let pair = attributes.expect(SEQUENCE, "an attribute")?;
        let mut pair = Reader::new(pair.value);
        let name = text(pair.octets("an attribute name")?);
        let set = pair.expect(SET, "an attribute's values")?;
        let mut values = Reader::new(set.value);
        let kept = attrs.entry(name).or_default();
        while !values.is_empty() {
            kept.push(value(values.octets("a value")?));
        }
    }
    Ok(DirectoryEntry { dn, attrs })
}

/// Text as the server sent it (names, DNs, messages): invalid UTF-8 as `\\xNN`, controls
/// shown escaped, bounded (crate::text).
fn text(bytes: &[u8]) -> String {
    let end = bytes.len().min(MAX_VALUE_BYTES * 4);
    let shown = crate::text::from_bytes(&bytes[..end]);
    cut_saying(shown, bytes.len())
}

/// A value for reports: UTF-8 as is (controls shown escaped), anything else as
/// `base64:...`; bounded either way.
pub fn value(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(whole) => crate::text::untrusted(whole).into_owned(),
        Err(_) => {
            let end = bytes.len().min(MAX_VALUE_BYTES * 3 / 4);
            cut_saying(
                format!("base64:{}", crate::text::base64(&bytes[..end])),
                bytes.len(),
            )
        }
    }
}

/// `shown` within MAX_VALUE_BYTES, a cut saying how long the server's value was.
fn cut_saying(shown: String, original: usize) -> String {
    if shown.len() <= MAX_VALUE_BYTES && shown.len() >= original {
        return shown;
    }
    let suffix = format!("…({original} bytes)");
    let mut cut = (MAX_VALUE_BYTES - suffix.len()).min(shown.len());
    while !shown.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &shown[..cut])
}

fn message(id: i64, op: Vec<u8>) -> Vec<u8> {
    ber::element(SEQUENCE, &[ber::int(INTEGER, id), op])
}

/// A simple bind (an empty DN and password: anonymous).
pub fn bind(id: i64, dn: &str, password: &str) -> Vec<u8> {
    message(
        id,
        ber::element(
            0x60,
            &[
                ber::int(INTEGER, 3),
                ber::primitive(OCTET_STRING, dn.as_bytes()),
                ber::primitive(0x80, password.as_bytes()),
            ],
        ),
    )
}

/// What a search asks for.
pub struct Search<'a> {
    pub base: &'a str,
    /// 0 base object, 2 whole subtree.
    pub scope: i64,
    /// The filter, already BER (`filter::encode`).
    pub filter: &'a [u8],
    pub attributes: &'a [String],
    pub size_limit: i64,
    pub time_limit: i64,
}

pub fn search(id: i64, search: &Search<'_>) -> Vec<u8> {
    let attributes: Vec<Vec<u8>> = search
        .attributes
        .iter()
        .map(|a| ber::primitive(OCTET_STRING, a.as_bytes()))
        .collect();
    message(
        id,
        ber::element(
            0x63,
            &[
                ber::primitive(OCTET_STRING, search.base.as_bytes()),
                ber::int(ENUMERATED, search.scope),
                ber::int(ENUMERATED, 0),
                ber::int(INTEGER, search.size_limit),
                ber::int(INTEGER, search.time_limit),
                ber::primitive(ber::BOOLEAN, &[0]),
                search.filter.to_vec(),
                ber::element(SEQUENCE, &attributes),
            ],
        ),
    )
}

pub fn abandon(id: i64, target: i64) -> Vec<u8> {
    let mut op = ber::int(0x50, target);
    op[0] = 0x50;
    message(id, op)
}

pub fn unbind(id: i64) -> Vec<u8> {
    message(id, vec![0x42, 0x00])
}

/// Names of the result codes (RFC 4511 appendix A).
pub fn result_name(code: u32) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        5 => "compareFalse",
        6 => "compareTrue",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        14 => "saslBindInProgress",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        33 => "aliasProblem",
        34 => "invalidDNSyntax",
        36 => "aliasDereferencingProblem",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        71 => "affectsMultipleDSAs",
        80 => "other",
        _ => "a code RFC 4511 does not define",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_decode_and_garbage_is_an_error() {
        let bind_ok = [
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
        ];
        let (id, response) = decode(&bind_ok).unwrap();
        assert_eq!(id, 1);
        assert!(matches!(
            response,
            Response::Bind(LdapResult { code: 0, .. })
        ));
        for garbage in [
            &[0x30, 0x05, 0x02, 0x01, 0x01, 0x61, 0x00][..],
            &[0x30, 0x08, 0x02, 0x01, 0x01, 0x61, 0x03, 0x04, 0x01, 0x00],
            &[0x30, 0x07, 0x02, 0x01, 0x01, 0x61, 0x02, 0x02, 0x00],
            &[
                0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x30, 0x00,
            ],
            &[0x30, 0x03, 0x02, 0x01, 0x01],
            &[],
        ] {
            assert!(decode(garbage).is_err(), "{garbage:02x?}");
        }
        // A result code outside the enum is named, not a crash.
        let odd = [
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x05, 0x04, 0x00, 0x04, 0x00,
        ];
        assert!(matches!(
            decode(&odd).unwrap().1,
            Response::Bind(LdapResult { code: 5, .. })
        ));
        // A non-UTF-8 diagnostic message is replaced, not a panic.
        let latin = [
            0x30, 0x0d, 0x02, 0x01, 0x01, 0x61, 0x08, 0x0a, 0x01, 0x31, 0x04, 0x00, 0x04, 0x01,
            0xe9,
        ];
        let Response::Bind(result) = decode(&latin).unwrap().1 else {
            panic!()
        };
        assert_eq!(result.code, 49);
        assert_eq!(result.message, "\\xe9");
    }

    #[test]
    fn values_are_bounded_and_binary_is_base64() {
        assert_eq!(value(b"abc"), "abc");
        assert_eq!(value(&[0xff, 0x00, 0x10]), "base64:/wAQ");
        let long = value(&vec![b'a'; 50_000]);
        assert!(long.len() <= MAX_VALUE_BYTES, "{}", long.len());
        assert!(long.ends_with("(50000 bytes)"));
        let binary = value(&vec![0xffu8; 50_000]);
        assert!(binary.len() <= MAX_VALUE_BYTES);
        assert!(binary.starts_with("base64:") && binary.ends_with("(50000 bytes)"));
        assert_eq!(crate::text::base64(b"Ma"), "TWE=");
        assert_eq!(crate::text::base64(b"M"), "TQ==");
    }

    #[test]
    fn requests_round_trip_through_the_reader() {
        let bytes = bind(7, "cn=x", "pw");
        let mut reader = Reader::new(&bytes);
        let envelope = reader.expect(SEQUENCE, "m").unwrap();
        let mut fields = Reader::new(envelope.value);
        assert_eq!(fields.integer(INTEGER, "id").unwrap(), 7);
        assert_eq!(fields.any().unwrap().tag, 0x60);
        assert_eq!(
            abandon(3, 2),
            vec![0x30, 0x06, 0x02, 0x01, 0x03, 0x50, 0x01, 0x02]
        );
        assert_eq!(unbind(4), vec![0x30, 0x05, 0x02, 0x01, 0x04, 0x42, 0x00]);
    }
}
