//! Untrusted text made displayable. Whatever a server, a file or a profile supplies (names,
//! certificate subjects, bodies, headers, directory values, messages that quote them) passes
//! through here before a report, a page or a log line holds it:
//!
//! - [`display`] shows control characters escaped (`\x1b`, `\u{202e}`) instead of emitting them:
//!   C0, DEL, C1 (the 8-bit CSI among them), bidi overrides and isolates, zero-width and other
//!   invisible format characters, line and paragraph separators. A terminal, a log viewer or a
//!   Markdown renderer then shows the bytes; it never obeys them.
//! - [`untrusted`] is that, and a cut to a documented length that says how long the value was
//!   (`…(60012 bytes)`), at [`MAX_VALUE_BYTES`]: what every stored value gets.
//!
//! Both are idempotent, so text that went through twice reads the same. Format-specific
//! escaping (HTML, Markdown, XML, Prometheus labels) is the renderer's, on top of this.

use std::borrow::Cow;

/// A value a server or a file supplies is kept to this many bytes (a certificate subject, a
/// header, a directory value): enough for any real one, bounded whatever a peer sends.
pub const MAX_VALUE_BYTES: usize = 1024;

/// Whether a character is never shown as itself: it moves the cursor, changes colours or
/// direction, hides or reorders what follows, or is invisible.
pub fn is_hidden(c: char) -> bool {
    // C0, DEL and C1 (U+0080..U+009F, where the 8-bit CSI lives).
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'                      // soft hyphen (invisible)
            | '\u{034F}'                    // combining grapheme joiner
            | '\u{061C}'                    // Arabic letter mark
            | '\u{115F}' | '\u{1160}'       // Hangul fillers
            | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'       // Mongolian selectors and vowel separator
            | '\u{200B}'..='\u{200F}'       // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202E}'       // line/paragraph separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, bidi isolates
            | '\u{3164}' | '\u{FFA0}'       // Hangul fillers
            | '\u{FEFF}'                    // zero-width no-break space (BOM)
            | '\u{FFF0}'..='\u{FFFB}'       // interlinear annotation
            | '\u{E0000}'..='\u{E007F}' // tag characters
        )
}

/// Text with every hidden character shown escaped: `\x1b` below U+0080, `\u{202e}` above.
/// Borrowed when there is nothing to escape (the common case costs a scan).
pub fn display(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !is_hidden(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// Bytes shown as text: valid UTF-8 as itself, anything else as `\xNN`, then [`display`]ed.
pub fn from_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(&display(chunk.valid()));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// What a stored value from outside gets: shown escaped, then bounded to [`MAX_VALUE_BYTES`].
/// The byte count a cut reports is the original's.
pub fn untrusted(text: &str) -> Cow<'_, str> {
    untrusted_within(text, MAX_VALUE_BYTES)
}

/// [`untrusted`] with another bound (a message that quotes a peer: 4 KiB).
pub fn untrusted_within(text: &str, max: usize) -> Cow<'_, str> {
    let max = max.max(32);
    if text.len() <= max && !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    // Escaping at most quadruples a byte: looking at 4x the bound is enough to fill it.
    let mut end = text.len().min(max.saturating_mul(4));
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let shown = display(&text[..end]);
    if shown.len() <= max && end == text.len() {
        return Cow::Owned(shown.into_owned());
    }
    let suffix = format!("…({} bytes)", text.len());
    let mut cut = (max - suffix.len()).min(shown.len());
    while !shown.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}{suffix}", &shown[..cut]))
}

/// Replaces a stored value with its [`untrusted`] form, allocating only when it changes.
pub fn seal(value: &mut String) {
    seal_within(value, MAX_VALUE_BYTES);
}

/// [`seal`] with another bound.
pub fn seal_within(value: &mut String, max: usize) {
    if let Cow::Owned(sealed) = untrusted_within(value, max) {
        *value = sealed;
    }
}

/// Text for a Markdown paragraph or table cell (GitHub's flavour): the characters that open raw
/// HTML, autolinks, links, images, emphasis, strike-through, code spans, entities and table
/// cells are backslash-escaped (CommonMark allows it for any ASCII punctuation), so they render as
/// the characters they are. Without `[` and `<`, no link or image can start. Controls are shown
/// escaped ([`display`]): a cell stays one line.
pub fn markdown(text: &str) -> String {
    let shown = display(text);
    let mut out = String::with_capacity(shown.len() + 8);
    for c in shown.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// `http://user:secret@proxy:3128` -> `http://proxy:3128`: never print credentials.
pub fn redact_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Standard base64 with padding (RFC 4648 section 4).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_shown_not_obeyed() {
        let hostile = "\x1b[2K\x1b[1;32mPASS\x1b[0m\rPASS\u{9b}31m\u{202e}txt\0\x7f\x08";
        let shown = display(hostile);
        assert!(!shown.chars().any(is_hidden), "{shown}");
        assert_eq!(
            shown,
            "\\x1b[2K\\x1b[1;32mPASS\\x1b[0m\\x0dPASS\\u{9b}31m\\u{202e}txt\\x00\\x7f\\x08"
        );
        assert_eq!(display(&shown), shown, "idempotent");
        assert!(matches!(display("plain Zoë"), Cow::Borrowed(_)));
    }

    #[test]
    fn long_values_are_cut_and_say_how_long_they_were() {
        let long = "é".repeat(30_000);
        let cut = untrusted(&long);
        assert!(cut.len() <= MAX_VALUE_BYTES);
        assert!(cut.ends_with("…(60000 bytes)"), "{cut}");
        assert_eq!(untrusted(&cut), cut, "idempotent");
        let escaped = "\x1b".repeat(5000);
        let cut = untrusted(&escaped);
        assert!(cut.len() <= MAX_VALUE_BYTES && cut.ends_with("…(5000 bytes)"));
        assert!(!cut.contains('\x1b'));
        assert_eq!(untrusted_within("short", 10), "short");
    }

    #[test]
    fn invalid_utf8_is_shown_as_bytes() {
        assert_eq!(from_bytes(b"ok\xff\x1b"), "ok\\xff\\x1b");
    }

    #[test]
    fn markdown_syntax_renders_as_text() {
        let md = markdown("<img src=x onerror=alert(1)> [a](javascript:x) ![i](y) |`c`|\n");
        assert!(!md.contains('\n'));
        // Every character Markdown reads as syntax comes after a backslash.
        let bytes = md.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if b"<>[]|`*_&".contains(b) {
                assert_eq!(bytes[i - 1], b'\\', "{md}");
            }
        }
        assert_eq!(markdown("a<b"), "a\\<b");
    }
}
