//! The small part of BER (X.690) that LDAP needs: definite lengths only, every read bounds-checked,
//! never a panic on server bytes.

/// One element: its tag byte and its contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
}

/// Why bytes are not the BER expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BerError(pub String);

impl std::fmt::Display for BerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn error(what: impl Into<String>) -> BerError {
    BerError(what.into())
}

/// The length of a whole element (tag + length octets + contents) at the start of `bytes`:
/// `Ok(None)` when more bytes are needed to tell, `Ok(Some(header, contents))` when known.
pub fn element_size(bytes: &[u8]) -> Result<Option<(usize, usize)>, BerError> {
    if bytes.len() < 2 {
        return Ok(None);
    }
    if bytes[0] & 0x1f == 0x1f {
        return Err(error("a multi-byte tag (LDAP never sends one)"));
    }
    let first = bytes[1];
    if first < 0x80 {
        return Ok(Some((2, usize::from(first))));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 {
        return Err(error(
            "an indefinite length (LDAP requires definite lengths)",
        ));
    }
    if count > 4 {
        return Err(error(format!("a length of {count} octets")));
    }
    if bytes.len() < 2 + count {
        return Ok(None);
    }
    let mut length = 0usize;
    for byte in &bytes[2..2 + count] {
        length = (length << 8) | usize::from(*byte);
    }
    Ok(Some((2 + count, length)))
}

/// Reads elements one after another from a byte slice.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next element, whatever its tag.
    pub fn any(&mut self) -> Result<Tlv<'a>, BerError> {
        let (header, length) =
            element_size(self.bytes)?.ok_or_else(|| error("an element cut short"))?;
        let end = header
            .checked_add(length)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| error("an element longer than what contains it"))?;
        let tlv = Tlv {
            tag: self.bytes[0],
            value: &self.bytes[header..end],
        };
        self.bytes = &self.bytes[end..];
        Ok(tlv)
    }

    /// The next element, which must carry `tag`.
    pub fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>, BerError> {
        let tlv = self.any()?;
        if tlv.tag != tag {
            return Err(error(format!(
                "{what} with tag 0x{:02x} where 0x{tag:02x} belongs",
                tlv.tag
            )));
        }
        Ok(tlv)
    }

    /// The next element if it carries `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, BerError> {
        if self.bytes.first() == Some(&tag) {
            self.any().map(Some)
        } else {
            Ok(None)
        }
    }

    pub fn integer(&mut self, tag: u8, what: &str) -> Result<i64, BerError> {
        integer(self.expect(tag, what)?.value, what)
    }

    pub fn octets(&mut self, what: &str) -> Result<&'a [u8], BerError> {
        Ok(self.expect(OCTET_STRING, what)?.value)
    }
}

/// A two's-complement integer of at most 8 octets.
pub fn integer(value: &[u8], what: &str) -> Result<i64, BerError> {
    if value.is_empty() || value.len() > 8 {
        return Err(error(format!(
            "{what} of {} octets (an integer)",
            value.len()
        )));
    }
    let mut n: i64 = if value[0] & 0x80 != 0 { -1 } else { 0 };
    for byte in value {
        n = (n << 8) | i64::from(*byte);
    }
    Ok(n)
}

pub const BOOLEAN: u8 = 0x01;
pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const ENUMERATED: u8 = 0x0a;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;

/// Appends one element.
pub fn put(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    let length = value.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes = (length as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
}

/// An element built from its parts.
pub fn element(tag: u8, parts: &[Vec<u8>]) -> Vec<u8> {
    let value: Vec<u8> = parts.concat();
    let mut out = Vec::with_capacity(value.len() + 6);
    put(&mut out, tag, &value);
    out
}

pub fn primitive(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    put(&mut out, tag, value);
    out
}

/// A minimal two's-complement integer element.
pub fn int(tag: u8, n: i64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut start = 0;
    while start < 7
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    primitive(tag, &bytes[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_and_bad_ones_are_errors() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let encoded = primitive(OCTET_STRING, &vec![7; len]);
            let mut reader = Reader::new(&encoded);
            assert_eq!(reader.octets("x").unwrap().len(), len);
            assert!(reader.is_empty());
        }
        assert!(Reader::new(&[0x30, 0x80, 0x00, 0x00]).any().is_err());
        assert!(Reader::new(&[0x30, 0x85, 1, 1, 1, 1, 1]).any().is_err());
        assert!(Reader::new(&[0x30, 0x05, 0x02]).any().is_err());
        assert!(Reader::new(&[0x1f, 0x01, 0x00]).any().is_err());
        assert!(Reader::new(&[0x30]).any().is_err());
    }

    #[test]
    fn integers_are_minimal_and_signed() {
        for n in [
            0i64,
            1,
            127,
            128,
            255,
            256,
            -1,
            -128,
            -129,
            i64::from(i32::MAX),
        ] {
            let encoded = int(INTEGER, n);
            assert_eq!(Reader::new(&encoded).integer(INTEGER, "n").unwrap(), n);
        }
        assert_eq!(int(INTEGER, 128), vec![0x02, 0x02, 0x00, 0x80]);
        assert!(integer(&[], "n").is_err());
        assert!(integer(&[1; 9], "n").is_err());
    }
}
