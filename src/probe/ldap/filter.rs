//! RFC 4515 search filters, from their text to their BER (RFC 4511 section 4.5.1).

use super::ber::{self, OCTET_STRING, SEQUENCE};

/// Deeper nesting than this is refused (a filter is written by people, not generated).
const MAX_DEPTH: usize = 32;

/// Encodes a filter string; the error says what is wrong and where.
pub fn encode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.trim().as_bytes();
    let mut parser = Parser { bytes, at: 0 };
    let encoded = parser.filter(0)?;
    if parser.at != bytes.len() {
        return Err(parser.fail("text after the end of the filter"));
    }
    Ok(encoded)
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn fail(&self, what: &str) -> String {
        format!("{what} at character {}", self.at + 1)
    }

    fn eat(&mut self, byte: u8) -> Result<(), String> {
        if self.bytes.get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.fail(&format!("`{}` expected", byte as char)))
        }
    }

    fn filter(&mut self, depth: usize) -> Result<Vec<u8>, String> {
        if depth > MAX_DEPTH {
            return Err(self.fail("filter nested too deeply"));
        }
        self.eat(b'(')?;
        let encoded = match self.bytes.get(self.at) {
            Some(b'&') => {
                self.at += 1;
                ber::element(0xa0, &self.list(depth)?)
            }
            Some(b'|') => {
                self.at += 1;
                ber::element(0xa1, &self.list(depth)?)
            }
            Some(b'!') => {
                self.at += 1;
                ber::element(0xa2, &[self.filter(depth + 1)?])
            }
            Some(_) => self.item()?,
            None => return Err(self.fail("the filter ends early")),
        };
        self.eat(b')')?;
        Ok(encoded)
    }

    fn list(&mut self, depth: usize) -> Result<Vec<Vec<u8>>, String> {
        let mut parts = Vec::new();
        while self.bytes.get(self.at) == Some(&b'(') {
            parts.push(self.filter(depth + 1)?);
        }
        if parts.is_empty() {
            return Err(self.fail("`(` expected"));
        }
        Ok(parts)
    }

    fn item(&mut self) -> Result<Vec<u8>, String> {
        let start = self.at;
        while let Some(&c) = self.bytes.get(self.at) {
            if matches!(c, b'=' | b'~' | b'>' | b'<' | b'(' | b')') {
                break;
            }
            self.at += 1;
        }
        let attribute = &self.bytes[start..self.at];
        let valid = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b';' | b':');
        if attribute.is_empty() || !attribute.iter().all(valid) {
            return Err(self.fail("an attribute name expected"));
        }
        if attribute.contains(&b':') {
            return Err(self.fail("extensible matching (`:=`) is not supported"));
        }
        let tag = match (self.bytes.get(self.at), self.bytes.get(self.at + 1)) {
            (Some(b'='), _) => {
                self.at += 1;
                0xa3
            }
            (Some(b'~'), Some(b'=')) => {
                self.at += 2;
                0xa8
            }
            (Some(b'>'), Some(b'=')) => {
                self.at += 2;
                0xa5
            }
            (Some(b'<'), Some(b'=')) => {
                self.at += 2;
                0xa6
            }
            _ => return Err(self.fail("`=`, `~=`, `>=` or `<=` expected")),
        };
        let raw_start = self.at;
        while let Some(&c) = self.bytes.get(self.at) {
            if c == b')' || c == b'(' {
                break;
            }
            self.at += 1;
        }
        let raw = &self.bytes[raw_start..self.at];
        if tag != 0xa3 || !raw.contains(&b'*') {
            let value = self.unescape(raw)?;
            return Ok(ber::element(
                tag,
                &[
                    ber::primitive(OCTET_STRING, attribute),
                    ber::primitive(OCTET_STRING, &value),
                ],
            ));
        }
        if raw == b"*" {
            return Ok(ber::primitive(0x87, attribute));
        }
        // Substrings: initial*any*...*final, each part optional but not all empty.
        let pieces: Vec<&[u8]> = raw.split(|c| *c == b'*').collect();
        let last = pieces.len() - 1;
        let mut parts = Vec::new();
        for (index, piece) in pieces.iter().enumerate() {
            if piece.is_empty() {
                continue;
            }
            let value = self.unescape(piece)?;
            let tag = match index {
                0 => 0x80,
                i if i == last => 0x82,
                _ => 0x81,
            };
            parts.push(ber::primitive(tag, &value));
        }
        Ok(ber::element(
            0xa4,
            &[
                ber::primitive(OCTET_STRING, attribute),
                ber::element(SEQUENCE, &parts),
            ],
        ))
    }

    /// `\XX` hex escapes to bytes.
    fn unescape(&self, raw: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'\\' {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| self.fail("a `\\` not followed by two hex digits"))?;
                out.push(hex);
                i += 3;
            } else {
                out.push(raw[i]);
                i += 1;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_encode_like_rfc_4511() {
        assert_eq!(
            encode("(cn=ab)").unwrap(),
            vec![0xa3, 0x08, 0x04, 0x02, b'c', b'n', 0x04, 0x02, b'a', b'b']
        );
        assert_eq!(
            encode("(objectClass=*)").unwrap(),
            [&[0x87u8, 11][..], b"objectClass"].concat()
        );
        let and = encode("(&(a=1)(!(b=2)))").unwrap();
        assert_eq!(and[0], 0xa0);
        let sub = encode("(cn=a*b*c)").unwrap();
        assert_eq!(sub[0], 0xa4);
        assert!(sub.windows(3).any(|w| w == [0x80, 1, b'a']));
        assert!(sub.windows(3).any(|w| w == [0x81, 1, b'b']));
        assert!(sub.windows(3).any(|w| w == [0x82, 1, b'c']));
        let escaped = encode("(a=1\\2a)").unwrap();
        assert!(escaped.ends_with(&[0x04, 2, b'1', b'*']));
    }

    #[test]
    fn bad_filters_say_where() {
        for bad in [
            "",
            "(objectClass=nhsMhs",
            "(&)",
            "(=x)",
            "(a=\\zz)",
            "(a=1))",
            "(a:dn:=x)",
            "(a?x)",
        ] {
            let error = encode(bad).unwrap_err();
            assert!(error.contains("at character"), "{bad}: {error}");
        }
        let deep = format!("{}(a=1){}", "(!".repeat(40), ")".repeat(40));
        assert!(encode(&deep).unwrap_err().contains("nested"));
    }
}
