//! Peers that do not speak what the URL says, named by what they said; and a chain served by
//! OpenSSL's own s_server, judged the same way as `openssl s_client` judges it.

use int_check_lab::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw TCP peer: `greeting` on connect (a banner), then `reply` to whatever arrives.
async fn peer(greeting: &'static [u8], reply: &'static [u8]) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind((lo(1), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.write_all(greeting).await;
                let mut buf = [0u8; 1024];
                if matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {
                    let _ = stream.write_all(reply).await;
                }
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn peers_that_are_not_tls_are_named_by_what_they_said() {
    for (greeting, reply, expected) in [
        (
            &b""[..],
            &b"HTTP/1.1 400 Bad Request\r\n\r\n"[..],
            "plain HTTP, not TLS: 'HTTP/1.1 400 Bad Request'",
        ),
        (
            b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n",
            b"",
            "an SSH server answered on this port, not TLS: 'SSH-2.0-OpenSSH_9.2p1 Debian'",
        ),
        (
            b"220 mail.example ESMTP Postfix\r\n",
            b"",
            "banner answered on this port, not TLS: '220 mail.example ESMTP Postfix'",
        ),
        (
            b"",
            b"\x00\x01garbage\xff",
            "bytes that are not TLS: '\\x00\\x01garbage\\xff'",
        ),
    ] {
        let lab = Lab::start().await;
        let addr = peer(greeting, reply).await;
        lab.dns.point("msg.int.test", &[lo(1)]);
        let profile = lab.profile(
            "p.toml",
            &[EndpointSpec::new(
                "svc",
                format!("https://msg.int.test:{}/", addr.port()),
            )],
            "",
        );
        let run = run(&[
            "--profile",
            p(&profile),
            "--format",
            "json",
            "--timeout",
            "2s",
        ])
        .await;
        assert_eq!(run.code, 1);
        let tls = run.check("svc", "tls");
        assert_eq!(status(&tls), ("fail", "tls.not_tls"), "{tls:#}");
        let message = tls["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
        assert!(tls["hint"].as_str().unwrap().contains("port"));
        // Named from what the peer said, before the 2 s timeout.
        assert!(run.took("svc", "tls") < std::time::Duration::from_secs(2));
    }
}

/// `openssl s_server` serving a leaf whose issuer (the SubCA) it does not send, and then one
/// from a CA nobody pinned: int-check and `openssl s_client -verify_return_error` agree.
#[tokio::test(flavor = "multi_thread")]
async fn chains_served_by_openssl_are_judged_like_openssl_does() {
    int_check_lab::needs!(Openssl);
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec::server("msg.int.test"));
    let cert = lab.write("leaf.pem", &leaf.pem);
    let key = lab.write("leaf.key", &leaf.key_pem);
    let stranger = Pki::g2();
    let rogue = stranger.leaf(&LeafSpec::server("msg.int.test"));
    let rogue_chain = lab.write("rogue.pem", &format!("{}{}", rogue.pem, stranger.subca.pem));
    let rogue_key = lab.write("rogue.key", &rogue.key_pem);
    let bundle = lab.write(
        "anchors.pem",
        &format!("{}{}", lab.pki.root.pem, lab.pki.subca.pem),
    );
    let root_only = lab.write("root.pem", &lab.pki.root.pem);
    for (chain, key, ours, openssl_ok) in [
        // Leaf only: the profile knows the SubCA, so int-check completes the chain and warns;
        // OpenSSL with only the root cannot build it.
        (&cert, &key, ("warn", "tls.missing_intermediate"), false),
        (
            &rogue_chain,
            &rogue_key,
            ("fail", "tls.untrusted_issuer"),
            false,
        ),
    ] {
        let server = OpensslServer::start(chain, key, &[]).await;
        let port = server.port;
        lab.dns.point("msg.int.test", &[lo(1)]);
        let profile = lab.profile(
            "p.toml",
            &[EndpointSpec::new(
                "svc",
                format!("https://msg.int.test:{port}/"),
            )],
            "",
        );
        let run = run(&[
            "--profile",
            p(&profile),
            "--format",
            "json",
            "--only",
            "tls",
        ])
        .await;
        assert_eq!(status(&run.check("svc", "tls")), ours, "{}", run.stdout);
        let client = std::process::Command::new("openssl")
            .args(["s_client", "-connect"])
            .arg(format!("127.0.0.1:{port}"))
            .args([
                "-servername",
                "msg.int.test",
                "-verify_return_error",
                "-CAfile",
                p(&root_only),
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            client.status.success(),
            openssl_ok,
            "{}",
            String::from_utf8_lossy(&client.stdout)
        );
        // With the SubCA in OpenSSL's bundle too, OpenSSL accepts the leaf-only chain, as we do.
        if ours.0 == "warn" {
            let client = std::process::Command::new("openssl")
                .args(["s_client", "-connect"])
                .arg(format!("127.0.0.1:{port}"))
                .args([
                    "-servername",
                    "msg.int.test",
                    "-verify_return_error",
                    "-CAfile",
                    p(&bundle),
                ])
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            assert!(client.status.success());
        }
        drop(server);
    }
}

/// RFC 8446: the server's certificates may come in any order, with duplicates and the root:
/// the issuer is found wherever it is, even after ten unrelated certificates.
#[tokio::test(flavor = "multi_thread")]
async fn the_issuer_is_found_anywhere_in_what_the_server_sent() {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec::server("msg.int.test"));
    let strangers: Vec<_> = (0..10).map(|_| Pki::g2()).collect();
    let mut chain = vec![leaf.cert.clone()];
    for stranger in &strangers {
        chain.push(stranger.root.cert.clone());
    }
    chain.push(lab.pki.root.cert.clone());
    chain.push(lab.pki.subca.cert.clone());
    chain.push(lab.pki.subca.cert.clone());
    let mut spec = TlsServerSpec::new(&lab.pki, &leaf);
    spec.chain = chain;
    let addr = tls_server(lo(1), spec).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    // Only the root is pinned: the SubCA must come from what the server sent.
    let root = lab.write("root-only.pem", &lab.pki.root.pem);
    let profile = lab.profile(
        "p.toml",
        &[
            EndpointSpec::new("svc", format!("https://msg.int.test:{}/", addr.port()))
                .with(&format!("ca_files = [\"{}\"]", p(&root))),
        ],
        "",
    );
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    let tls = run.check("svc", "tls");
    assert_eq!(status(&tls), ("pass", ""), "{tls:#}");
    assert_eq!(tls["details"]["chain"].as_array().unwrap().len(), 14);
}

/// A chain too large for a TLS client (over 64 KiB in one handshake message) is named with its
/// size and the limit, not as a bare protocol error.
#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_certificate_chain_is_named_with_sizes() {
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec::server("msg.int.test"));
    let filler = Pki::g2();
    let mut chain = vec![leaf.cert.clone(), lab.pki.subca.cert.clone()];
    while chain.iter().map(|c| c.len()).sum::<usize>() < 80 * 1024 {
        chain.push(filler.root.cert.clone());
    }
    let mut spec = TlsServerSpec::new(&lab.pki, &leaf);
    spec.chain = chain;
    let addr = tls_server(lo(1), spec).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    let profile = lab.profile(
        "p.toml",
        &[EndpointSpec::new(
            "svc",
            format!("https://msg.int.test:{}/", addr.port()),
        )],
        "",
    );
    let run = run(&["--profile", p(&profile), "--format", "json"]).await;
    let tls = run.check("svc", "tls");
    assert_eq!(status(&tls), ("fail", "tls.handshake_failed"), "{tls:#}");
    let message = tls["message"].as_str().unwrap();
    assert!(
        message.contains("larger than the 64 KiB") && message.contains("bytes had arrived"),
        "{message}"
    );
}
