//! The first bytes a peer sent, kept beside the TLS stream, so that a peer that does not speak
//! TLS (a plain HTTP server, an SSH or SMTP banner) can be named by what it said.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How many of the first bytes are kept.
pub const KEPT: usize = 96;

/// A stream (TCP by default) that remembers the first bytes it read.
pub struct Recorded<S = TcpStream> {
    inner: S,
    first: Arc<Mutex<Vec<u8>>>,
    total: Arc<std::sync::atomic::AtomicUsize>,
}

impl<S> Recorded<S> {
    pub fn new(inner: S) -> (Recorded<S>, FirstBytes) {
        let first = Arc::new(Mutex::new(Vec::new()));
        let total = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        (
            Recorded {
                inner,
                first: first.clone(),
                total: total.clone(),
            },
            FirstBytes(first, total),
        )
    }
}

/// A handle on the first bytes, readable after the stream has gone into the TLS client.
#[derive(Clone)]
pub struct FirstBytes(Arc<Mutex<Vec<u8>>>, Arc<std::sync::atomic::AtomicUsize>);

impl FirstBytes {
    pub fn get(&self) -> Vec<u8> {
        self.0.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// Bytes received in all.
    pub fn total(&self) -> usize {
        self.1.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.total.fetch_add(
                buf.filled().len() - before,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        if let Poll::Ready(Ok(())) = polled
            && let Ok(mut first) = self.first.lock()
            && first.len() < KEPT
        {
            let new = &buf.filled()[before..];
            let room = KEPT - first.len();
            first.extend_from_slice(&new[..new.len().min(room)]);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What a peer that is not TLS said first, named: `None` when the bytes look like TLS (a
/// record's first byte is 0x14-0x17) or there are none.
pub fn not_tls(first: &[u8]) -> Option<String> {
    let head = *first.first()?;
    if (0x14..=0x17).contains(&head) {
        return None;
    }
    let line = printable_line(first);
    Some(if first.starts_with(b"HTTP/") {
        format!("the port answered in plain HTTP, not TLS: '{line}'")
    } else if first.starts_with(b"SSH-") {
        format!("an SSH server answered on this port, not TLS: '{line}'")
    } else if first.starts_with(b"220") {
        format!("a mail or FTP server's banner answered on this port, not TLS: '{line}'")
    } else if first.starts_with(b"* OK") || first.starts_with(b"+OK") {
        format!("a mail server (IMAP or POP3) answered on this port, not TLS: '{line}'")
    } else {
        format!("the port answered with bytes that are not TLS: '{line}'")
    })
}

/// The first line of `bytes` as safe text: printable ASCII kept, anything else as `\xNN`.
pub fn printable_line(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &byte in bytes.iter().take(64) {
        match byte {
            b'\r' | b'\n' => break,
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_named_by_their_first_bytes() {
        assert!(
            not_tls(b"HTTP/1.1 400 Bad Request\r\n")
                .unwrap()
                .contains("plain HTTP, not TLS: 'HTTP/1.1 400 Bad Request'")
        );
        assert!(not_tls(b"SSH-2.0-OpenSSH_9.2\r\n").unwrap().contains("SSH"));
        assert!(not_tls(b"220 mail ESMTP\r\n").unwrap().contains("banner"));
        assert!(
            not_tls(&[0x00, 0xff, b'a'])
                .unwrap()
                .contains("'\\x00\\xffa'")
        );
        assert_eq!(not_tls(&[0x16, 0x03, 0x03]), None);
        assert_eq!(not_tls(&[0x15, 0x03, 0x03]), None);
        assert_eq!(not_tls(b""), None);
    }
}
