//! What the kernel saw of one open TCP connection (its `tcp_info`), asked through the
//! sock_diag netlink interface as `ss -ti` does, in safe Rust: a stalled TLS handshake whose
//! reply never reached the TLS library may still have left segments in the kernel, out of order
//! behind a lost full-size one (a path-MTU black hole), or none at all (a silent server).
//! Linux only; anywhere else, or when the kernel does not answer, the view is unknown.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// What the kernel received on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Segments that carried data, in order or not.
    pub data_segments: u32,
    /// Bytes received in order (what the application could read).
    pub bytes_in_order: u64,
    /// Segments that arrived out of order (Linux 5.4 and later).
    pub out_of_order: Option<u32>,
}

impl Received {
    /// Data arrived that the application never got: a segment before it was lost.
    pub fn held_back(&self) -> bool {
        self.data_segments > 0 && self.bytes_in_order == 0
            || self.out_of_order.is_some_and(|n| n > 0)
    }
}

const AF_NETLINK: i32 = 16;
const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const INET_DIAG_INFO: u16 = 2;
const IPPROTO_TCP: u8 = 6;
/// `struct nlmsghdr`, `struct inet_diag_req_v2`, `struct inet_diag_msg`.
const NLMSG_HEADER: usize = 16;
const REQUEST_BODY: usize = 56;
const DIAG_MESSAGE: usize = 72;
/// Offsets in `struct tcp_info` (linux/tcp.h).
const BYTES_RECEIVED: usize = 128;
const DATA_SEGS_IN: usize = 152;
const RCV_OOOPACK: usize = 224;

/// The kernel's view of the TCP connection from `local` to `peer`, if it can be had.
pub fn received(local: SocketAddr, peer: SocketAddr) -> Option<Received> {
    if !cfg!(target_os = "linux") || local.is_ipv4() != peer.is_ipv4() {
        return None;
    }
    let socket = socket2::Socket::new(
        socket2::Domain::from(AF_NETLINK),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::from(NETLINK_SOCK_DIAG)),
    )
    .ok()?;
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .ok()?;
    // Unconnected, with no address: a netlink message goes to the kernel.
    socket.send(&request(local, peer)).ok()?;
    let mut reply = vec![0u8; 8192];
    let length = (&socket).read(&mut reply).ok()?;
    parse(&reply[..length])
}

/// One SOCK_DIAG_BY_FAMILY request for exactly this connection, asking for its tcp_info.
fn request(local: SocketAddr, peer: SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(NLMSG_HEADER + REQUEST_BODY);
    out.extend(((NLMSG_HEADER + REQUEST_BODY) as u32).to_ne_bytes());
    out.extend(SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    out.extend(NLM_F_REQUEST.to_ne_bytes());
    out.extend(1u32.to_ne_bytes()); // sequence
    out.extend(0u32.to_ne_bytes()); // port id: the kernel fills it
    let family: u8 = if local.is_ipv4() { 2 } else { 10 };
    out.extend([family, IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1), 0]);
    out.extend(u32::MAX.to_ne_bytes()); // every state
    out.extend(local.port().to_be_bytes());
    out.extend(peer.port().to_be_bytes());
    for ip in [local.ip(), peer.ip()] {
        let mut field = [0u8; 16];
        match ip {
            IpAddr::V4(v4) => field[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => field.copy_from_slice(&v6.octets()),
        }
        out.extend(field);
    }
    out.extend(0u32.to_ne_bytes()); // interface
    out.extend([0xff; 8]); // no cookie
    out
}

/// The tcp_info attribute of the kernel's answer.
fn parse(reply: &[u8]) -> Option<Received> {
    let u16_at =
        |b: &[u8], at: usize| Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?));
    let u32_at =
        |b: &[u8], at: usize| Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?));
    let u64_at =
        |b: &[u8], at: usize| Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?));
    let length = u32_at(reply, 0)? as usize;
    if u16_at(reply, 4)? == NLMSG_ERROR || length > reply.len() {
        return None;
    }
    let mut at = NLMSG_HEADER + DIAG_MESSAGE;
    while at + 4 <= length {
        let attribute_length = u16_at(reply, at)? as usize;
        let kind = u16_at(reply, at + 2)?;
        if attribute_length < 4 || at + attribute_length > length {
            return None;
        }
        if kind == INET_DIAG_INFO {
            let info = &reply[at + 4..at + attribute_length];
            return Some(Received {
                data_segments: u32_at(info, DATA_SEGS_IN)?,
                bytes_in_order: u64_at(info, BYTES_RECEIVED)?,
                out_of_order: u32_at(info, RCV_OOOPACK),
            });
        }
        at += attribute_length.div_ceil(4) * 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's own view of a loopback connection: the bytes a peer sent are counted.
    #[test]
    fn the_kernel_counts_what_arrived() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        std::io::Write::write_all(&mut server, b"hello").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let seen = received(client.local_addr().unwrap(), client.peer_addr().unwrap())
            .expect("Linux answers sock_diag for its own connections");
        assert_eq!(seen.bytes_in_order, 5);
        assert_eq!(seen.data_segments, 1);
        assert!(!seen.held_back());
        assert_eq!(
            request(client.local_addr().unwrap(), client.peer_addr().unwrap()).len(),
            72
        );
    }
}
