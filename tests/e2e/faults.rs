//! The fault catalogue, end to end: one row per reason code, saying how the lab produces the
//! fault and what the report must say (status and kind). Every row runs through the real binary
//! against its own lab; a reason code without a row fails the build of trust in the catalogue.
//! The other test files go deeper into single faults (messages, details, hints).

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::pin::Pin;
use std::sync::Arc;

use int_check::reasons::Reason;
use int_check_lab::proxies::{BadProxy, bad_proxy, intercepting_proxy};
use int_check_lab::slapd::{Slapd, SlapdOptions};
use int_check_lab::*;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// What one fault needs besides the lab: endpoints, profile lines, a config file, flags.
#[derive(Default)]
struct Case {
    endpoints: Vec<EndpointSpec>,
    /// Profile lines before the lab's [dns] and [trust] tables (identifiers, slots).
    profile: String,
    /// A --config file, when the fault needs settings the profile writer does not take.
    config: Option<String>,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// A directory server that must live until the run ends.
    slapd: Option<Slapd>,
    /// A server process (openssl s_server) that must live until the run ends.
    process: Option<OpensslServer>,
}

impl Case {
    fn one(endpoint: EndpointSpec) -> Case {
        Case {
            endpoints: vec![endpoint],
            ..Case::default()
        }
    }

    fn args(mut self, args: &[&str]) -> Case {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }
}

type Setup = fn(Arc<Lab>) -> Pin<Box<dyn Future<Output = Case> + Send>>;

/// How a row is produced.
enum Produced {
    /// In its own loopback lab, by this set-up.
    Lab(Setup),
    /// Only in a network namespace (root, iproute2): the named test in netns.rs runs it.
    Namespace(&'static str),
    /// By a signal to a running process (a row cannot send one): the named test in outputs.rs.
    Signal(&'static str),
}

struct Fault {
    reason: &'static str,
    status: &'static str,
    kind: &'static str,
    produced: Produced,
}

macro_rules! fault {
    ($reason:literal, $status:literal, $kind:literal, |$lab:ident| $body:block) => {
        Fault {
            reason: $reason,
            status: $status,
            kind: $kind,
            produced: Produced::Lab(|$lab: Arc<Lab>| Box::pin(async move { $body })),
        }
    };
    ($reason:literal, $status:literal, $kind:literal, signal $test:literal) => {
        Fault {
            reason: $reason,
            status: $status,
            kind: $kind,
            produced: Produced::Signal($test),
        }
    };
    ($reason:literal, $status:literal, $kind:literal, namespace $test:literal) => {
        Fault {
            reason: $reason,
            status: $status,
            kind: $kind,
            produced: Produced::Namespace($test),
        }
    };
}

fn https(host: &str, addr: std::net::SocketAddr) -> String {
    format!("https://{host}:{}/", addr.port())
}

/// A TLS server for `host` under the lab PKI, shaped by `configure`, with DNS pointing at it.
/// An endpoint reached through the proxy at `proxy` (`HOST:PORT`); the proxy answers for it.
fn through(proxy: &str) -> Case {
    Case::one(
        EndpointSpec::new("svc", "https://spine.proxy.test:4443/")
            .with(&format!("proxy = \"http://{proxy}\"")),
    )
}

async fn served(lab: &Lab, host: &str, configure: impl FnOnce(&mut TlsServerSpec)) -> Case {
    let addr = lab.serve(host, lo(1), configure).await;
    Case::one(EndpointSpec::new("svc", https(host, addr)))
}

/// A TLS server whose leaf is shaped by `leaf`.
async fn with_leaf(lab: &Lab, leaf: impl FnOnce(&mut LeafSpec)) -> Case {
    let mut spec = LeafSpec::server("msg.int.test");
    leaf(&mut spec);
    let leaf = lab.pki.leaf(&spec);
    let addr = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &leaf)).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    Case::one(EndpointSpec::new("svc", https("msg.int.test", addr)))
}

/// A healthy endpoint, run with a client identity shaped by `leaf` (the identity checks run first).
async fn identity(lab: &Lab, leaf: impl FnOnce(&mut LeafSpec)) -> Case {
    let mut spec = LeafSpec::client("me.int.test");
    leaf(&mut spec);
    let (cert, key) = lab.identity_with(&lab.pki, &spec);
    identity_files(lab, &cert, &key).await
}

async fn identity_files(lab: &Lab, cert: &std::path::Path, key: &std::path::Path) -> Case {
    served(lab, "msg.int.test", |_| {}).await.args(&[
        "--client-cert",
        p(cert),
        "--client-key",
        p(key),
    ])
}

/// A directory (real slapd with the SDS schema) for ldaps:// faults.
async fn directory(lab: &Lab, party_key: &str, endpoint: &str) -> Case {
    let slapd = tokio::task::block_in_place(|| Slapd::start(lab, lo(1), SlapdOptions::default()));
    lab.dns.point("ldap.int.test", &[lo(1)]);
    let spec = EndpointSpec::new(
        "svc",
        format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
    )
    .with(endpoint);
    Case {
        endpoints: vec![spec],
        profile: format!("party_key = \"{party_key}\""),
        slapd: Some(slapd),
        ..Case::default()
    }
}

/// A directory holding the lab supplier's records (FQDN mhs.xyz.int.test), and a client whose
/// `[client]` lines are `client`, with a certificate issued for `cert_name`.
async fn registered(lab: &Lab, client: &str, cert_name: &str) -> Case {
    use int_check_lab::slapd::supplier_ldif;
    let options = SlapdOptions {
        extra_ldif: supplier_ldif(
            "mhs.xyz.int.test",
            "https://mhs.xyz.int.test/reliablemessaging",
        ),
        ..SlapdOptions::default()
    };
    let slapd = tokio::task::block_in_place(|| Slapd::start(lab, lo(1), options));
    lab.dns.point("ldap.int.test", &[lo(1)]);
    let (cert, key) = lab.client_identity(&lab.pki, cert_name);
    Case {
        endpoints: vec![EndpointSpec::new(
            "svc",
            format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
        )],
        config: Some(format!(
            "[client]\ncert = \"{}\"\nkey = \"{}\"\n{client}\n",
            p(&cert),
            p(&key)
        )),
        slapd: Some(slapd),
        ..Case::default()
    }
}

/// The lab supplier's records point at a TLS server for mhs.xyz.int.test shaped by
/// `configure`: your own endpoint, checked as Spine reaches it.
async fn own_endpoint(lab: &Lab, configure: impl FnOnce(&mut TlsServerSpec)) -> Case {
    use int_check_lab::slapd::supplier_ldif;
    let addr = lab.serve("mhs.xyz.int.test", lo(2), configure).await;
    let url = format!("https://mhs.xyz.int.test:{}/reliablemessaging", addr.port());
    let options = SlapdOptions {
        extra_ldif: supplier_ldif("mhs.xyz.int.test", &url),
        ..SlapdOptions::default()
    };
    let slapd = tokio::task::block_in_place(|| Slapd::start(lab, lo(1), options));
    lab.dns.point("ldap.int.test", &[lo(1)]);
    Case {
        endpoints: vec![EndpointSpec::new(
            "svc",
            format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
        )],
        config: Some("[client]\nparty_key = \"XYZ-0000101\"\n".into()),
        slapd: Some(slapd),
        ..Case::default()
    }
}

/// A MESH endpoint served by the lab's MESH-like server (mailbox LAB1, password "pw", key "sk"),
/// run as `mailbox` with `password` (None: the variables are not set) and the server's clock
/// `offset` seconds off.
async fn mesh(lab: &Lab, mailbox: &str, password: Option<&str>, offset: i64) -> Case {
    mesh_refusing(lab, mailbox, password, offset, None).await
}

/// [`mesh`] whose server refuses every handshake with `refusal` (a 403 text of the sandbox's).
async fn mesh_refusing(
    lab: &Lab,
    mailbox: &str,
    password: Option<&str>,
    offset: i64,
    refusal: Option<&str>,
) -> Case {
    let mut server = MeshLab::new("LAB1", "pw", "sk", offset);
    server.refusal = refusal.map(str::to_string);
    let addr = lab
        .serve("mesh.int.test", lo(1), |spec| {
            spec.reply = HttpReply::Mesh(server)
        })
        .await;
    let mut env = Vec::new();
    if let Some(password) = password {
        env.push(("LAB_MESH_PASSWORD", password.to_string()));
        env.push(("LAB_MESH_KEY", "sk".to_string()));
    }
    Case {
        endpoints: vec![EndpointSpec::new(
            "svc",
            format!(
                "https://mesh.int.test:{}/messageexchange/_ping",
                addr.port()
            ),
        )],
        profile: format!(
            "[mesh]\nmailbox = \"{mailbox}\"\npassword_env = \"LAB_MESH_PASSWORD\"\nshared_key_env = \"LAB_MESH_KEY\""
        ),
        env,
        ..Case::default()
    }
}

/// An ldaps:// endpoint served by the lab TLS server with `reply` (no directory behind it).
async fn fake_directory(lab: &Lab, reply: HttpReply) -> Case {
    let addr = lab
        .serve("ldap.int.test", lo(1), |spec| spec.reply = reply)
        .await;
    Case {
        endpoints: vec![EndpointSpec::new(
            "svc",
            format!("ldaps://ldap.int.test:{}", addr.port()),
        )],
        // A search to run, so that the server's answer is read.
        profile: "party_key = \"YES-0000806\"".into(),
        ..Case::default()
    }
}

/// A raw TCP peer that answers every connection with `bytes` and closes.
async fn raw_peer(bytes: &'static [u8]) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind((lo(1), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = stream.write_all(bytes).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

/// A port whose accept queue is full for `full_for`, then drained: the first SYN is dropped
/// (a timeout), a later attempt connects.
async fn congested_port(full_for: std::time::Duration) -> std::net::SocketAddr {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((lo(1), 0).into()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    // Fill the queue (backlog 1 holds two on Linux) without accepting.
    let mut fillers = Vec::new();
    for _ in 0..2 {
        fillers.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    tokio::spawn(async move {
        tokio::time::sleep(full_for).await;
        drop(fillers);
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    addr
}

fn catalogue() -> Vec<Fault> {
    vec![
        // DNS
        fault!("dns.no_forwarder", "fail", "dns", namespace "netns::an_hscn_name_through_a_resolver_without_a_forwarder_is_named"),
        fault!("dns.nxdomain", "fail", "dns", |lab| {
            let _ = &lab;
            Case::one(EndpointSpec::new("svc", "https://gone.int.test/"))
        }),
        fault!("dns.servfail", "fail", "dns", |lab| {
            lab.dns.set("broken.int.test", DnsAnswer::ServFail);
            Case::one(EndpointSpec::new("svc", "https://broken.int.test/"))
        }),
        fault!("dns.timeout", "fail", "dns", |lab| {
            lab.dns.set("slow.int.test", DnsAnswer::Silent);
            Case::one(EndpointSpec::new("svc", "https://slow.int.test/")).args(&["--timeout", "1s"])
        }),
        fault!("dns.no_address", "fail", "dns", |lab| {
            lab.dns
                .set("empty.int.test", DnsAnswer::Addresses(Vec::new()));
            Case::one(EndpointSpec::new("svc", "https://empty.int.test/"))
        }),
        fault!("dns.bad_reply", "fail", "dns", |lab| {
            let _ = &lab;
            // A server (or a middlebox in front of it) replying with the wrong transaction ID.
            let server = crate::dns_hostile::hostile_dns(crate::dns_hostile::Misbehaviour::WrongId)
                .await
                .to_string();
            Case::one(EndpointSpec::new("svc", "https://msg.int.test/")).args(&[
                "--timeout",
                "1s",
                "--resolver",
                &server,
            ])
        }),
        fault!("dns.sinkhole", "fail", "dns", |lab| {
            // A filter's answer: 0.0.0.0 (and loopback, when the profile does not allow it).
            lab.dns.point("msg.int.test", &["0.0.0.0".parse().unwrap()]);
            Case::one(EndpointSpec::new("svc", "https://msg.int.test/"))
        }),
        fault!("dns.hosts_override", "warn", "dns", |lab| {
            let mut case = served(&lab, "msg.int.test", |_| {}).await;
            let hosts = lab.write("hosts", "127.0.0.1 msg.int.test\n");
            case.env
                .push(("INT_CHECK_HOSTS_FILE", p(&hosts).to_string()));
            case
        }),
        fault!("dns.ip_literal", "warn", "dns", |lab| {
            let addr = lab.serve("msg.int.test", lo(1), |_| {}).await;
            Case::one(EndpointSpec::new("svc", format!("https://{addr}/")))
        }),
        fault!("dns.retried", "warn", "dns", |lab| {
            let addr = lab.serve("msg.int.test", lo(1), |_| {}).await;
            lab.dns
                .set("msg.int.test", DnsAnswer::FlakyThen(vec![lo(1)]));
            Case::one(EndpointSpec::new("svc", https("msg.int.test", addr)))
                .args(&["--retries", "1"])
        }),
        // TCP
        fault!("tcp.refused", "fail", "tcp", |lab| {
            let port = closed_port(lo(1)).await;
            lab.dns.point("msg.int.test", &[lo(1)]);
            Case::one(EndpointSpec::new(
                "svc",
                format!("tcp://msg.int.test:{port}"),
            ))
        }),
        fault!("tcp.family_no_route", "warn", "tcp", namespace "netns::both_address_families_are_judged_as_a_client_would"),
        fault!("tcp.family_fallback", "warn", "tcp", namespace "netns::both_address_families_are_judged_as_a_client_would"),
        fault!("tcp.retried", "warn", "tcp", |lab| {
            let addr = congested_port(std::time::Duration::from_millis(1200)).await;
            lab.dns.point("msg.int.test", &[lo(1)]);
            Case::one(EndpointSpec::new(
                "svc",
                format!("tcp://msg.int.test:{}", addr.port()),
            ))
            .args(&["--retries", "3", "--timeout", "1s"])
        }),
        fault!("tcp.timeout", "fail", "tcp", namespace "netns::black_hole_is_a_tcp_timeout_and_no_route_is_unreachable"),
        fault!("dns.unreachable", "fail", "dns", namespace "netns::black_hole_is_a_tcp_timeout_and_no_route_is_unreachable"),
        fault!("tcp.unreachable", "fail", "tcp", namespace "netns::black_hole_is_a_tcp_timeout_and_no_route_is_unreachable"),
        fault!("tcp.failed", "fail", "tcp", namespace "netns::black_hole_is_a_tcp_timeout_and_no_route_is_unreachable"),
        // TLS
        // Through an HTTP proxy (the real squid's answers: proxy::squid_*)
        fault!("proxy.unreachable", "fail", "tcp", |_lab| {
            let port = closed_port(lo(1)).await;
            through(&format!("127.0.0.1:{port}"))
        }),
        fault!("proxy.timeout", "fail", "proxy", |_lab| {
            through(&bad_proxy(BadProxy::Silent).await.to_string()).args(&["--timeout", "1s"])
        }),
        fault!("proxy.closed", "fail", "proxy", |_lab| {
            through(&bad_proxy(BadProxy::Closes).await.to_string())
        }),
        fault!("proxy.protocol_error", "fail", "proxy", |_lab| {
            through(&bad_proxy(BadProxy::NotHttp).await.to_string())
        }),
        fault!("proxy.auth_required", "fail", "proxy", |_lab| {
            let head = "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\nProxy-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n";
            through(&bad_proxy(BadProxy::Answers(head)).await.to_string())
        }),
        fault!("proxy.refused", "fail", "proxy", |_lab| {
            let head = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
            through(&bad_proxy(BadProxy::Answers(head)).await.to_string())
        }),
        fault!("proxy.upstream_failed", "fail", "proxy", |_lab| {
            let head = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n\r\nupstream name not known\n";
            through(&bad_proxy(BadProxy::Answers(head)).await.to_string())
        }),
        fault!("tls.intercepted", "fail", "tls", |_lab| {
            let inspector = Arc::new(Pki::named("Corp Inspection Root", "Corp Inspection CA"));
            through(&intercepting_proxy(inspector).await.to_string())
        }),
        fault!("tls.handshake_timeout", "fail", "tls", |lab| {
            let addr = silent_server(lo(1)).await;
            lab.dns.point("msg.int.test", &[lo(1)]);
            Case::one(EndpointSpec::new("svc", https("msg.int.test", addr)))
                .args(&["--timeout", "1s"])
        }),
        fault!("tls.expired", "fail", "tls", |lab| {
            with_leaf(&lab, |l| l.valid_to_days = -1).await
        }),
        fault!("tls.not_yet_valid", "fail", "tls", |lab| {
            with_leaf(&lab, |l| l.valid_from_days = 2).await
        }),
        fault!("tls.hostname_mismatch", "fail", "tls", |lab| {
            with_leaf(&lab, |l| {
                l.cn = "other.int.test".into();
                l.sans = vec!["other.int.test".into()];
            })
            .await
        }),
        fault!("tls.untrusted_issuer", "fail", "tls", |lab| {
            // A leaf from a CA the profile does not pin (it sends no intermediate).
            let stranger = Pki::g2();
            let leaf = stranger.leaf(&LeafSpec::server("msg.int.test"));
            let mut spec = TlsServerSpec::new(&stranger, &leaf);
            spec.chain.truncate(1);
            let addr = tls_server(lo(1), spec).await;
            lab.dns.point("msg.int.test", &[lo(1)]);
            Case::one(EndpointSpec::new("svc", https("msg.int.test", addr)))
        }),
        fault!("tls.legacy_g1", "fail", "tls", |lab| {
            // A server certificate under a G1-named hierarchy (NHS INT Level 1C), sent with it.
            let g1 = Pki::g1_shaped();
            let leaf = g1.leaf(&LeafSpec::server("msg.int.test"));
            let addr = tls_server(lo(1), TlsServerSpec::new(&g1, &leaf)).await;
            lab.dns.point("msg.int.test", &[lo(1)]);
            Case::one(EndpointSpec::new("svc", https("msg.int.test", addr)))
        }),
        fault!("tls.wrong_intermediate", "fail", "tls", |lab| {
            // An intermediate named exactly like the pinned SubCA, but another one.
            let stranger = Pki::g2();
            let leaf = stranger.leaf(&LeafSpec::server("msg.int.test"));
            let addr = tls_server(lo(1), TlsServerSpec::new(&stranger, &leaf)).await;
            lab.dns.point("msg.int.test", &[lo(1)]);
            Case::one(EndpointSpec::new("svc", https("msg.int.test", addr)))
        }),
        fault!("tls.protocol_version", "fail", "tls", |lab| {
            let mut case = served(&lab, "msg.int.test", |s| s.tls12_only = true).await;
            case.config = Some("[trust]\nmin_tls = \"1.3\"\n".into());
            case
        }),
        fault!("tls.client_cert_required", "fail", "tls", |lab| {
            let root = lab.pki.root.cert.clone();
            served(&lab, "msg.int.test", |s| {
                s.client_auth = ClientAuth::Required(root)
            })
            .await
        }),
        fault!("tls.client_cert_rejected", "fail", "tls", |lab| {
            let stranger = Pki::g2();
            let (cert, key) = lab.client_identity(&lab.pki, "me.int.test");
            let root = stranger.root.cert.clone();
            // TLS 1.2: the verdict is part of the handshake. (Under TLS 1.3 it arrives after it,
            // and under load may first be read by the HTTP phase: issue 11.)
            served(&lab, "msg.int.test", |s| {
                s.client_auth = ClientAuth::Required(root);
                s.tls12_only = true;
            })
            .await
            .args(&["--client-cert", p(&cert), "--client-key", p(&key)])
        }),
        fault!("tls.not_tls", "fail", "tls", |lab| {
            // Not TLS at all: an HTTP server answers the ClientHello in plain text.
            let addr = raw_peer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
            lab.dns.point("msg.int.test", &[lo(1)]);
            Case::one(EndpointSpec::new("svc", https("msg.int.test", addr)))
        }),
        fault!("tls.handshake_failed", "fail", "tls", |lab| {
            // A TLS server that refuses the handshake outright (alert handshake_failure).
            let addr = raw_peer(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]).await;
            lab.dns.point("msg.int.test", &[lo(1)]);
            Case::one(EndpointSpec::new("svc", https("msg.int.test", addr)))
        }),
        fault!("tls.self_signed", "fail", "tls", |lab| {
            let (cert, key) = openssl_cert(&lab, "self", ("ec", "sha256"), None, SERVER_EXT);
            serve_files(&lab, &[&cert], &key).await
        }),
        fault!("tls.leaf_usage", "fail", "tls", |lab| {
            // A client certificate (extended key usage clientAuth only) on a server.
            with_leaf(&lab, |l| l.client = true).await
        }),
        fault!("tls.chain_structure", "fail", "tls", |lab| {
            // A leaf issued by another leaf (not a CA) that the SubCA issued.
            let (middle, middle_key) = openssl_cert(
                &lab,
                "middle",
                ("ec", "sha256"),
                Some(Issuer::SubCa),
                SERVER_EXT,
            );
            let (leaf, key) = openssl_cert(
                &lab,
                "leaf",
                ("ec", "sha256"),
                Some(Issuer::File(&middle, &middle_key)),
                SERVER_EXT,
            );
            let subca = lab.write("subca-only.pem", &lab.pki.subca.pem);
            serve_files(&lab, &[&leaf, &middle, &subca], &key).await
        }),
        fault!("tls.weak_signature", "fail", "tls", |lab| {
            let (leaf, key) = openssl_cert(
                &lab,
                "sha1",
                ("ec", "sha1"),
                Some(Issuer::SubCa),
                SERVER_EXT,
            );
            let subca = lab.write("subca-only.pem", &lab.pki.subca.pem);
            serve_files(&lab, &[&leaf, &subca], &key).await
        }),
        fault!("tls.weak_key", "fail", "tls", |lab| {
            // rustls will not even load an RSA-1024 key: OpenSSL serves it (security level 0).
            let (leaf, key) = openssl_cert(
                &lab,
                "rsa1024",
                ("rsa:1024", "sha256"),
                Some(Issuer::SubCa),
                SERVER_EXT,
            );
            let chain = lab.write(
                "rsa1024-chain.pem",
                &format!(
                    "{}{}",
                    std::fs::read_to_string(&leaf).unwrap(),
                    lab.pki.subca.pem
                ),
            );
            let server =
                OpensslServer::start(&chain, &key, &["-cipher", "DEFAULT@SECLEVEL=0"]).await;
            lab.dns.point("msg.int.test", &[lo(1)]);
            let mut case = Case::one(EndpointSpec::new(
                "svc",
                format!("https://msg.int.test:{}/", server.port),
            ));
            case.process = Some(server);
            case
        }),
        fault!("tls.unsupported_algorithm", "fail", "tls", |lab| {
            // An Ed448 intermediate under the pinned root: valid, but ring cannot verify Ed448.
            let (middle, middle_key) = openssl_cert(
                &lab,
                "ed448",
                ("ed448", "sha256"),
                Some(Issuer::Root),
                CA_EXT,
            );
            let (leaf, key) = openssl_cert(
                &lab,
                "leaf448",
                ("ec", "sha256"),
                Some(Issuer::File(&middle, &middle_key)),
                SERVER_EXT,
            );
            serve_files(&lab, &[&leaf, &middle], &key).await
        }),
        fault!("tls.no_common_suite", "fail", "tls", |lab| {
            // openssl s_server offering only a DHE suite of NHS's list (RSA key).
            let mut spec = LeafSpec::server("msg.int.test");
            spec.rsa = true;
            let (cert, key) = lab.identity_with(&lab.pki, &spec);
            let subca = lab.subca_file.clone();
            let server = OpensslServer::start(
                &cert,
                &key,
                &[
                    "-cert_chain",
                    p(&subca),
                    "-no_tls1_3",
                    "-cipher",
                    "DHE-RSA-AES128-GCM-SHA256",
                ],
            )
            .await;
            lab.dns.point("msg.int.test", &[lo(1)]);
            let mut case = Case::one(EndpointSpec::new(
                "svc",
                format!("https://msg.int.test:{}/", server.port),
            ));
            case.process = Some(server);
            case
        }),
        fault!("tls.path_mtu", "fail", "tls", |lab| {
            // Large packets lost on the path: answered only with a small MSS.
            let upstream = lab.serve("msg.int.test", lo(1), |_| {}).await;
            let hole = mtu_black_hole(lo(1), upstream).await;
            Case::one(EndpointSpec::new("svc", https("msg.int.test", hole)))
        }),
        fault!("tls.handshake_stalled", "fail", "tls", |lab| {
            let addr = partial_handshake_server(lo(1)).await;
            lab.dns.point("msg.int.test", &[lo(1)]);
            Case::one(EndpointSpec::new("svc", https("msg.int.test", addr)))
        }),
        fault!("tls.missing_intermediate", "warn", "tls", |lab| {
            served(&lab, "msg.int.test", |s| s.chain.truncate(1)).await
        }),
        fault!("tls.cn_only", "warn", "tls", |lab| {
            with_leaf(&lab, |l| l.cn_only = true).await
        }),
        fault!("tls.nonconformant", "warn", "tls", |lab| {
            // Made with the openssl CLI: an underscore in a DNS name of the subjectAltName.
            let ext = SERVER_EXT.replace(
                "subjectAltName = DNS:msg.int.test",
                "subjectAltName = DNS:msg.int.test, DNS:under_score.int.test",
            );
            let (leaf, key) = openssl_cert(
                &lab,
                "underscore",
                ("ec", "sha256"),
                Some(Issuer::SubCa),
                &ext,
            );
            let subca = lab.subca_file.clone();
            serve_files(&lab, &[&leaf, &subca], &key).await
        }),
        fault!("tls.expiring_soon", "warn", "tls", |lab| {
            with_leaf(&lab, |l| l.valid_to_days = 10).await
        }),
        // HTTP
        fault!("http.unexpected_status", "fail", "http", |lab| {
            let addr = lab
                .serve("msg.int.test", lo(1), |s| {
                    s.reply = HttpReply::status("503 Service Unavailable")
                })
                .await;
            Case::one(
                EndpointSpec::new("svc", https("msg.int.test", addr)).with("expect_status = [200]"),
            )
        }),
        fault!("http.unexpected_body", "fail", "http", |lab| {
            let page = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 27\r\nConnection: close\r\n\r\n<html>Please log in</html>\n";
            let addr = lab
                .serve("api.int.test", lo(1), |s| {
                    s.reply = HttpReply::Raw(page.as_bytes().to_vec())
                })
                .await;
            Case::one(
                EndpointSpec::new("svc", https("api.int.test", addr)).with("expect_json = {}"),
            )
        }),
        fault!("http.redirect", "warn", "http", |lab| {
            served(&lab, "msg.int.test", |s| {
                s.reply = HttpReply::Echo {
                    status: "302 Found".into(),
                    headers: "Location: https://login.example/\r\n".into(),
                }
            })
            .await
        }),
        fault!("http.timeout", "fail", "http", |lab| {
            served(&lab, "msg.int.test", |s| s.reply = HttpReply::Silent)
                .await
                .args(&["--timeout", "1s"])
        }),
        fault!("http.client_cert_rejected", "fail", "http", |lab| {
            let root = lab.pki.root.cert.clone();
            served(&lab, "msg.int.test", |s| {
                s.client_auth = ClientAuth::Optional(root);
                s.reply = HttpReply::NginxClientCert;
            })
            .await
        }),
        fault!("http.protocol_error", "fail", "http", |lab| {
            // LDAP bytes where an HTTP answer belongs.
            served(&lab, "msg.int.test", |s| {
                s.reply = HttpReply::LdapCloseMidSearch
            })
            .await
        }),
        fault!("clock.skew", "warn", "http", |lab| {
            served(&lab, "msg.int.test", |s| {
                s.reply = HttpReply::Echo {
                    status: "200 OK".into(),
                    headers: "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n".into(),
                }
            })
            .await
        }),
        // LDAP
        fault!("ldap.bind_failed", "fail", "ldap", |lab| {
            let mut case = directory(
                &lab,
                "YES-0000806",
                "bind_dn = \"cn=admin,o=nhs\"\nbind_password_env = \"LAB_LDAP_PASSWORD\"",
            )
            .await;
            case.env.push(("LAB_LDAP_PASSWORD", "wrong".into()));
            case
        }),
        fault!("ldap.no_entries", "fail", "ldap", |lab| {
            directory(&lab, "NOT-0000000", "").await
        }),
        fault!("ldap.search_failed", "fail", "ldap", |lab| {
            directory(
                &lab,
                "YES-0000806",
                "[[endpoint.search]]\nname = \"broken\"\nbase = \"ou=services,o=nhs\"\nfilter = \"(objectClass=nhsMhs\"",
            )
            .await
        }),
        fault!("ldap.timeout", "fail", "ldap", |lab| {
            fake_directory(&lab, HttpReply::Silent)
                .await
                .args(&["--timeout", "1s"])
        }),
        fault!("ldap.protocol_error", "fail", "ldap", |lab| {
            fake_directory(&lab, HttpReply::LdapCloseMidSearch).await
        }),
        // The client identity (checked before any probe)
        fault!("cert.key_mismatch", "fail", "identity", |lab| {
            let (cert, _) = lab.client_identity(&lab.pki, "me.int.test");
            let (_, other_key) = lab.client_identity(&lab.pki, "other.int.test");
            identity_files(&lab, &cert, &other_key).await
        }),
        fault!("cert.untrusted_issuer", "fail", "identity", |lab| {
            let stranger = Pki::g2();
            let (cert, key) = lab.client_identity(&stranger, "me.int.test");
            identity_files(&lab, &cert, &key).await
        }),
        fault!("cert.legacy_g1", "fail", "identity", |lab| {
            let g1 = Pki::g1_shaped();
            let (cert, key) = lab.client_identity(&g1, "me.int.test");
            identity_files(&lab, &cert, &key).await
        }),
        fault!("cert.expired", "fail", "identity", |lab| {
            identity(&lab, |l| l.valid_to_days = -1).await
        }),
        fault!("cert.not_yet_valid", "fail", "identity", |lab| {
            identity(&lab, |l| l.valid_from_days = 2).await
        }),
        fault!("cert.expiring_soon", "warn", "identity", |lab| {
            identity(&lab, |l| l.valid_to_days = 10).await
        }),
        fault!("cert.no_client_auth", "fail", "identity", |lab| {
            identity(&lab, |l| l.client = false).await
        }),
        fault!("cert.weak_key", "fail", "identity", |lab| {
            let (cert, key) = weak_identity(&lab);
            identity_files(&lab, &cert, &key).await
        }),
        fault!("cert.revoked", "fail", "identity", |lab| {
            let (cert, key) = lab.client_identity(&lab.pki, "revoked.int.test");
            let crl = revocation_lists(&lab, "revoked.int.test.pem", "current");
            identity_files(&lab, &cert, &key)
                .await
                .args(&["--crl-file", p(&crl)])
        }),
        fault!("crl.status_unknown", "warn", "identity", |lab| {
            // An expired list that does not list this certificate: the status is unknown.
            let (cert, key) = lab.client_identity(&lab.pki, "me.int.test");
            lab.client_identity(&lab.pki, "other.int.test");
            let crl = revocation_lists(&lab, "other.int.test.pem", "expired");
            identity_files(&lab, &cert, &key)
                .await
                .args(&["--crl-file", p(&crl)])
        }),
        fault!("tls.revoked", "fail", "tls", |lab| {
            let leaf = lab.pki.leaf(&LeafSpec::server("msg.int.test"));
            lab.write("server.pem", &leaf.pem);
            let crl = revocation_lists(&lab, "server.pem", "current");
            let addr = tls_server(lo(1), TlsServerSpec::new(&lab.pki, &leaf)).await;
            lab.dns.point("msg.int.test", &[lo(1)]);
            let mut case = Case::one(EndpointSpec::new("svc", https("msg.int.test", addr)));
            case.config = Some(format!(
                "[trust]\nrevocation = \"fail\"\ncrl_files = [\"{}\"]\n",
                p(&crl)
            ));
            case
        }),
        fault!("cert.wrong_service", "warn", "identity", |lab| {
            // A MESH API certificate where a Spine endpoint wants mutual TLS.
            let name = "SERVER001.X26.api.mesh-client.nhs.uk";
            let (cert, key) = lab.client_identity(&lab.pki, name);
            let mut case = identity_files(&lab, &cert, &key).await;
            for endpoint in &mut case.endpoints {
                endpoint.mtls = true;
            }
            case
        }),
        fault!("cert.fqdn_mismatch", "fail", "identity", |lab| {
            let (cert, key) = lab.client_identity(&lab.pki, "me.int.test");
            let mut case = served(&lab, "msg.int.test", |_| {}).await;
            case.config = Some(format!(
                "[client]\ncert = \"{}\"\nkey = \"{}\"\nfqdn = \"you.int.test\"\n",
                p(&cert),
                p(&key)
            ));
            case
        }),
        fault!("cert.file_misnamed", "warn", "identity", |lab| {
            let (cert, key) = lab.client_identity(&lab.pki, "me.int.test");
            let misnamed = lab.write("me.der", &std::fs::read_to_string(&cert).unwrap());
            identity_files(&lab, &misnamed, &key).await
        }),
        fault!("cert.key_permissions", "warn", "identity", |lab| {
            let (cert, key) = lab.client_identity(&lab.pki, "me.int.test");
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
            identity_files(&lab, &cert, &key).await
        }),
        // Your registration in the directory
        fault!(
            "registration.asid_not_found",
            "fail",
            "registration",
            |lab| { registered(&lab, "asid = \"209999999999\"", "mhs.xyz.int.test").await }
        ),
        fault!("registration.as_mismatch", "fail", "registration", |lab| {
            registered(
                &lab,
                "asid = \"200000000101\"\nods = \"ABC\"",
                "mhs.xyz.int.test",
            )
            .await
        }),
        fault!(
            "registration.interaction_missing",
            "fail",
            "registration",
            |lab| {
                registered(&lab, "asid = \"200000000101\"\ninteractions = [\"urn:nhs:names:services:psis:NOT_REGISTERED\"]", "mhs.xyz.int.test").await
            }
        ),
        fault!(
            "registration.mhs_not_found",
            "fail",
            "registration",
            |lab| { registered(&lab, "party_key = \"ABC-0000001\"", "mhs.xyz.int.test").await }
        ),
        fault!(
            "registration.fqdn_mismatch",
            "fail",
            "registration",
            |lab| { registered(&lab, "party_key = \"XYZ-0000101\"", "old.xyz.int.test").await }
        ),
        // Your own endpoint, as Spine reaches it
        fault!("inbound.no_client_cert_request", "fail", "inbound", |lab| {
            own_endpoint(&lab, |_| {}).await
        }),
        fault!("inbound.wrong_ca_names", "fail", "inbound", |lab| {
            let other = Pki::g1_shaped();
            own_endpoint(&lab, |spec| {
                spec.client_auth = ClientAuth::Optional(other.root.cert.clone())
            })
            .await
        }),
        // The MESH mailbox handshake
        fault!("mesh.auth_rejected", "fail", "mesh", |lab| {
            mesh(&lab, "LAB1", Some("wrong"), 0).await
        }),
        fault!("mesh.unknown_mailbox", "fail", "mesh", |lab| {
            mesh(&lab, "LAB2", Some("pw"), 0).await
        }),
        fault!("mesh.clock_skew", "fail", "mesh", |lab| {
            mesh(&lab, "LAB1", Some("pw"), -3 * 3600).await
        }),
        fault!("mesh.inactive_mailbox", "fail", "mesh", |lab| {
            let text = "Request Received from Inactive Mailbox";
            mesh_refusing(&lab, "LAB1", Some("pw"), 0, Some(text)).await
        }),
        fault!("mesh.token_mismatch", "fail", "mesh", |lab| {
            let text = "Mailbox id does not match token";
            mesh_refusing(&lab, "LAB1", Some("pw"), 0, Some(text)).await
        }),
        fault!("mesh.token_reused", "fail", "mesh", |lab| {
            let text = "Error Duplicated Authentication Token";
            mesh_refusing(&lab, "LAB1", Some("pw"), 0, Some(text)).await
        }),
        fault!("mesh.credentials_missing", "fail", "mesh", |lab| {
            mesh(&lab, "LAB1", None, 0).await
        }),
        fault!("mesh.handshake_failed", "fail", "mesh", |lab| {
            // Not MESH at all: a server that answers every request 500.
            let addr = lab
                .serve("mesh.int.test", lo(1), |spec| {
                    spec.reply = HttpReply::status("500 Internal Server Error")
                })
                .await;
            let mut case = mesh(&lab, "LAB1", Some("pw"), 0).await;
            case.endpoints = vec![EndpointSpec::new(
                "svc",
                format!(
                    "https://mesh.int.test:{}/messageexchange/_ping",
                    addr.port()
                ),
            )];
            case
        }),
        // The run
        fault!("maintenance.window", "warn", "dns", |lab| {
            let _ = &lab;
            Case {
                endpoints: vec![EndpointSpec::new("svc", "https://gone.int.test/").with("service = \"spine-core\"")],
                profile: "[[maintenance]]\nservice = \"spine-core\"\nweekly = [\"Mon 20:00-Tue 06:00\"]\n".into(),
                // Monday 15 June 2026 20:30 BST: inside the slot.
                args: vec!["--at".into(), "2026-06-15T19:30:00Z".into()],
                ..Case::default()
            }
        }),
        fault!("run.interrupted", "fail", "tls", signal "outputs::an_interrupted_run_still_reports"),
        fault!("run.deadline", "fail", "tls", |lab| {
            // The deadline falls while the TLS phase waits on a silent server: long enough that
            // DNS and TCP on loopback finish first even on a loaded machine (500 ms was not, in
            // a CI run beside another test suite), far shorter than the phase's own timeout.
            let addr = silent_server(lo(1)).await;
            lab.dns.point("msg.int.test", &[lo(1)]);
            Case::one(EndpointSpec::new("svc", https("msg.int.test", addr))).args(&[
                "--timeout",
                "30s",
                "--deadline",
                "3s",
            ])
        }),
        fault!("run.internal_error", "fail", "tls", |lab| {
            // A failpoint compiled into test builds only makes the TLS phase panic.
            let mut case = served(&lab, "msg.int.test", |_| {}).await;
            case.env.push(("INT_CHECK_LAB_PANIC", "tls".into()));
            case
        }),
        fault!("skip.dependency_failed", "skip", "tcp", |lab| {
            let _ = &lab;
            Case::one(EndpointSpec::new("svc", "https://gone.int.test/"))
        }),
    ]
}

const SERVER_EXT: &str = "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:msg.int.test\n";
const CA_EXT: &str =
    "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n";

/// Who signs a certificate made with the openssl CLI.
enum Issuer<'a> {
    Root,
    SubCa,
    File(&'a std::path::Path, &'a std::path::Path),
}

fn run_openssl(args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl CLI");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A certificate for msg.int.test made and signed with the openssl CLI (self-signed without
/// an issuer): key type (`ec`, `rsa:BITS` or `ed448`) and digest, extensions as an extfile.
fn openssl_cert(
    lab: &Lab,
    name: &str,
    (key_type, digest): (&str, &str),
    issuer: Option<Issuer<'_>>,
    extensions: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let key = lab.path(&format!("{name}.key"));
    let csr = lab.path(&format!("{name}.csr"));
    let cert = lab.path(&format!("{name}.pem"));
    let ext = lab.write(&format!("{name}.ext"), extensions);
    let mut newkey = vec!["-newkey", key_type];
    if key_type == "ec" {
        newkey.extend(["-pkeyopt", "ec_paramgen_curve:P-256"]);
    }
    let digest_flag = format!("-{digest}");
    // CAs get a name of their own: a CA named like its issuer would be self-issued.
    let subject = if extensions.contains("CA:TRUE") {
        format!("/CN=Lab {name} CA")
    } else {
        "/CN=msg.int.test".to_string()
    };
    let mut req = vec![
        "req",
        "-new",
        "-nodes",
        "-keyout",
        p(&key),
        "-subj",
        &subject,
        "-out",
        p(&csr),
    ];
    req.extend(&newkey);
    run_openssl(&req);
    let (ca_cert, ca_key) = match issuer {
        None => (None, None),
        Some(Issuer::Root) => (
            Some(lab.write("root-ca.pem", &lab.pki.root.pem)),
            Some(lab.write("root-ca.key", &lab.pki.root.key.serialize_pem())),
        ),
        Some(Issuer::SubCa) => (
            Some(lab.write("subca-ca.pem", &lab.pki.subca.pem)),
            Some(lab.write("subca-ca.key", &lab.pki.subca.key.serialize_pem())),
        ),
        Some(Issuer::File(c, k)) => (Some(c.to_path_buf()), Some(k.to_path_buf())),
    };
    let mut x509 = vec![
        "x509",
        "-req",
        "-in",
        p(&csr),
        "-days",
        "365",
        "-extfile",
        p(&ext),
        "-out",
        p(&cert),
    ];
    if key_type != "ed448" || ca_cert.is_none() {
        x509.push(&digest_flag);
    }
    match (&ca_cert, &ca_key) {
        (Some(c), Some(k)) => x509.extend(["-CA", p(c), "-CAkey", p(k), "-set_serial", "7"]),
        _ => x509.extend(["-key", p(&key)]),
    }
    run_openssl(&x509);
    (cert, key)
}

/// A lab TLS server for msg.int.test presenting these PEM certificates with this key.
async fn serve_files(lab: &Lab, chain: &[&std::path::Path], key: &std::path::Path) -> Case {
    use rustls::pki_types::pem::PemObject;
    let chain: Vec<rustls::pki_types::CertificateDer<'static>> = chain
        .iter()
        .map(|path| rustls::pki_types::CertificateDer::from_pem_file(path).unwrap())
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
    let leaf = lab.pki.leaf(&LeafSpec::server("msg.int.test"));
    let mut spec = TlsServerSpec::new(&lab.pki, &leaf);
    spec.chain = chain;
    spec.key = key;
    let addr = tls_server(lo(1), spec).await;
    lab.dns.point("msg.int.test", &[lo(1)]);
    Case::one(EndpointSpec::new("svc", https("msg.int.test", addr)))
}

/// A client certificate with an RSA-1024 key, made and signed by the lab SubCA with the
/// openssl CLI (ring cannot make such keys, and this way the certificate is not ours).
fn weak_identity(lab: &Lab) -> (std::path::PathBuf, std::path::PathBuf) {
    let ca_key = lab.write("subca.key", &lab.pki.subca.key.serialize_pem());
    let ca_cert = lab.write("subca-only.pem", &lab.pki.subca.pem);
    let key = lab.path("weak.key");
    let csr = lab.path("weak.csr");
    let cert = lab.path("weak-leaf.pem");
    let ext = lab.write(
        "weak.ext",
        "extendedKeyUsage = clientAuth\nsubjectAltName = DNS:weak.int.test\n",
    );
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl CLI");
        assert!(
            out.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:1024",
        "-nodes",
        "-keyout",
        p(&key),
        "-subj",
        "/CN=weak.int.test",
        "-out",
        p(&csr),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        p(&csr),
        "-CA",
        p(&ca_cert),
        "-CAkey",
        p(&ca_key),
        "-CAcreateserial",
        "-days",
        "365",
        "-extfile",
        p(&ext),
        "-out",
        p(&cert),
    ]);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let chain = lab.write(
        "weak.pem",
        &format!(
            "{}{}",
            std::fs::read_to_string(&cert).unwrap(),
            lab.pki.subca.pem
        ),
    );
    (chain, key)
}

/// Runs one row in its own lab; returns what went wrong, if anything.
async fn run_fault(fault: &Fault, setup: Setup) -> Result<(), String> {
    let lab = Arc::new(Lab::start().await);
    let case = setup(lab.clone()).await;
    let profile = lab.profile("p.toml", &case.endpoints, &case.profile);
    let mut args: Vec<String> = ["--profile", p(&profile), "--format", "json"]
        .map(String::from)
        .to_vec();
    if let Some(config) = &case.config {
        args.extend([
            "--config".to_string(),
            p(&lab.write("c.toml", config)).to_string(),
        ]);
    }
    args.extend(case.args.iter().cloned());
    let mut cmd = binary();
    for (name, value) in &case.env {
        cmd.env(name, value);
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_with(cmd, &argv).await;
    drop(case.slapd);
    drop(case.process);
    let json: Value = serde_json::from_str(&run.stdout)
        .map_err(|e| format!("stdout is not JSON ({e}): {}{}", run.stdout, run.stderr))?;
    validate_document(&json);
    let checks = json["checks"].as_array().cloned().unwrap_or_default();
    let seen: Vec<String> = checks
        .iter()
        .map(|c| {
            format!(
                "{} {} {}: {}",
                c["kind"], c["status"], c["reason"], c["message"]
            )
        })
        .collect();
    let found = checks
        .iter()
        .find(|c| c["reason"] == fault.reason && c["kind"] == fault.kind)
        .ok_or_else(|| format!("no {} check with this reason; saw {seen:?}", fault.kind))?;
    if found["status"] != fault.status {
        return Err(format!(
            "status {} instead of {}",
            found["status"], fault.status
        ));
    }
    let hint = found["hint"].as_str().unwrap_or_default();
    if hint.is_empty() || found["message"].as_str().unwrap_or_default().is_empty() {
        return Err(format!("no message or hint: {found:#}"));
    }
    let failed = checks.iter().any(|c| c["status"] == "fail");
    let expected = if failed { 1 } else { 0 };
    if run.code != expected {
        return Err(format!("exit {} with failed={failed}", run.code));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_in_the_catalogue_is_named_by_its_reason() {
    int_check_lab::needs!(Slapd, Openssl);
    // A few rows at a time: the timeout rows must not time out because the machine is busy.
    let limit = Arc::new(tokio::sync::Semaphore::new(4));
    let mut rows = tokio::task::JoinSet::new();
    for fault in catalogue() {
        if let Produced::Lab(setup) = fault.produced {
            let limit = limit.clone();
            rows.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let result = run_fault(&fault, setup).await;
                (fault.reason, result)
            });
        }
    }
    let mut failures = Vec::new();
    while let Some(joined) = rows.join_next().await {
        let (reason, result) = joined.expect("a row panicked");
        if let Err(why) = result {
            failures.push(format!("{reason}: {why}"));
        }
    }
    failures.sort();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_reason_code_has_a_row_and_every_row_a_code() {
    let rows = catalogue();
    for reason in Reason::ALL {
        let count = rows.iter().filter(|r| r.reason == reason.code()).count();
        assert_eq!(
            count,
            1,
            "{} has {count} rows in the fault table",
            reason.code()
        );
    }
    for row in &rows {
        assert!(
            Reason::ALL.iter().any(|r| r.code() == row.reason),
            "{} is not in the catalogue",
            row.reason
        );
        let (test, source) = match row.produced {
            Produced::Namespace(test) => (Some(test), include_str!("netns.rs")),
            Produced::Signal(test) => (Some(test), include_str!("outputs.rs")),
            Produced::Lab(_) => (None, ""),
        };
        if let Some(test) = test {
            let name = test.rsplit("::").next().unwrap();
            assert!(
                source.contains(&format!("fn {name}()")),
                "{test} does not exist"
            );
            assert!(
                source.contains(&format!("\"{}\"", row.reason)),
                "{test} does not assert {}",
                row.reason
            );
        }
    }
}

/// The same chains judged by `openssl verify -purpose sslserver` (OpenSSL 3, default security
/// level) and by int-check, side by side. Where the two differ, int-check is deliberately
/// stricter (or says it cannot judge), and the guide (docs/src/certificates.md) lists each case.
#[tokio::test(flavor = "multi_thread")]
async fn certificate_verdicts_compared_with_openssl_verify() {
    int_check_lab::needs!(Openssl);
    let lab = Arc::new(Lab::start().await);
    let root = lab.write("cmp-root.pem", &lab.pki.root.pem);
    let subca = lab.write("cmp-subca.pem", &lab.pki.subca.pem);
    let (self_signed, _) = openssl_cert(&lab, "cmp-self", ("ec", "sha256"), None, SERVER_EXT);
    let client_ext = SERVER_EXT.replace("serverAuth", "clientAuth");
    let (client_eku, _) = openssl_cert(
        &lab,
        "cmp-client",
        ("ec", "sha256"),
        Some(Issuer::SubCa),
        &client_ext,
    );
    let (sha1, _) = openssl_cert(
        &lab,
        "cmp-sha1",
        ("ec", "sha1"),
        Some(Issuer::SubCa),
        SERVER_EXT,
    );
    let (rsa1024, _) = openssl_cert(
        &lab,
        "cmp-rsa1024",
        ("rsa:1024", "sha256"),
        Some(Issuer::SubCa),
        SERVER_EXT,
    );
    let (middle, middle_key) = openssl_cert(
        &lab,
        "cmp-middle",
        ("ec", "sha256"),
        Some(Issuer::SubCa),
        SERVER_EXT,
    );
    let (under_leaf, _) = openssl_cert(
        &lab,
        "cmp-under",
        ("ec", "sha256"),
        Some(Issuer::File(&middle, &middle_key)),
        SERVER_EXT,
    );
    let (good, _) = openssl_cert(
        &lab,
        "cmp-good",
        ("ec", "sha256"),
        Some(Issuer::SubCa),
        SERVER_EXT,
    );
    // The SubCA allows one CA below it (pathlen 1): two break the rule.
    let (ca1, ca1_key) = openssl_cert(
        &lab,
        "cmp-ca1",
        ("ec", "sha256"),
        Some(Issuer::SubCa),
        CA_EXT,
    );
    let (ca2, ca2_key) = openssl_cert(
        &lab,
        "cmp-ca2",
        ("ec", "sha256"),
        Some(Issuer::File(&ca1, &ca1_key)),
        CA_EXT,
    );
    let (too_deep, _) = openssl_cert(
        &lab,
        "cmp-deep",
        ("ec", "sha256"),
        Some(Issuer::File(&ca2, &ca2_key)),
        SERVER_EXT,
    );
    let critical = format!("{SERVER_EXT}1.2.3.4 = critical,ASN1:NULL\n");
    let (odd_critical, _) = openssl_cert(
        &lab,
        "cmp-critical",
        ("ec", "sha256"),
        Some(Issuer::SubCa),
        &critical,
    );
    // A CA allowed to issue only for .other.test issuing for msg.int.test.
    let constrained_ext =
        format!("{CA_EXT}nameConstraints = critical, permitted;DNS:.other.test\n");
    let (fenced, fenced_key) = openssl_cert(
        &lab,
        "cmp-fenced",
        ("ec", "sha256"),
        Some(Issuer::SubCa),
        &constrained_ext,
    );
    let (outside, _) = openssl_cert(
        &lab,
        "cmp-outside",
        ("ec", "sha256"),
        Some(Issuer::File(&fenced, &fenced_key)),
        SERVER_EXT,
    );
    // The host name only in the CN (no subjectAltName): under the fenced CA, whose name
    // constraints forbid it (OpenSSL applies them to such a CN, and refuses), and under the SubCA.
    let cn_only_ext = "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n";
    let (cn_outside, _) = openssl_cert(
        &lab,
        "cmp-cn-outside",
        ("ec", "sha256"),
        Some(Issuer::File(&fenced, &fenced_key)),
        cn_only_ext,
    );
    let (cn_only, _) = openssl_cert(
        &lab,
        "cmp-cn-only",
        ("ec", "sha256"),
        Some(Issuer::SubCa),
        cn_only_ext,
    );
    // A CA certificate used as the server's own (CA:TRUE, serverAuth, the right name).
    let ca_leaf_ext = "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, digitalSignature\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:msg.int.test\n";
    let (ca_leaf, _) = openssl_cert(
        &lab,
        "cmp-caleaf",
        ("ec", "sha256"),
        Some(Issuer::SubCa),
        ca_leaf_ext,
    );
    // (certificate, extra untrusted intermediates, OpenSSL accepts?, int-check's reason)
    let cases: Vec<(&std::path::Path, Vec<&std::path::Path>, bool, &str)> = vec![
        (&good, vec![], true, ""),
        (&self_signed, vec![], false, "tls.self_signed"),
        (&client_eku, vec![], false, "tls.leaf_usage"),
        (&under_leaf, vec![&middle], false, "tls.chain_structure"),
        (&too_deep, vec![&ca2, &ca1], false, "tls.chain_structure"),
        (&odd_critical, vec![], false, "tls.chain_structure"),
        (&outside, vec![&fenced], false, "tls.chain_structure"),
        // Was a tls.cn_only warning (exit 0): the CN fallback ignored the name constraints.
        (&cn_outside, vec![&fenced], false, "tls.chain_structure"),
        // Stricter than OpenSSL, which accepts a CN-only name: a warning, not a pass.
        (&cn_only, vec![], true, "tls.cn_only"),
        // Stricter than `openssl verify` at its default level: SHA-1 and RSA-1024 are refused
        // (as OpenSSL's own TLS stack refuses them at Debian's default SECLEVEL=2).
        (&sha1, vec![], true, "tls.weak_signature"),
        (&rsa1024, vec![], true, "tls.weak_key"),
        // Stricter too: OpenSSL lets a CA certificate serve as a TLS server's leaf.
        (&ca_leaf, vec![], true, "tls.leaf_usage"),
    ];
    for (cert, extra, openssl_accepts, reason) in cases {
        let mut untrusted = std::fs::read_to_string(&subca).unwrap();
        for e in &extra {
            untrusted.push_str(&std::fs::read_to_string(e).unwrap());
        }
        let untrusted_file = lab.write("cmp-untrusted.pem", &untrusted);
        let out = std::process::Command::new("openssl")
            .args([
                "verify",
                "-purpose",
                "sslserver",
                "-CAfile",
                p(&root),
                "-untrusted",
                p(&untrusted_file),
            ])
            .arg(cert)
            .output()
            .unwrap();
        assert_eq!(
            out.status.success(),
            openssl_accepts,
            "{}: {}{}",
            cert.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // int-check judges the same chain (certificate + intermediates) offline, as a server's.
        let verdict = offline_verdict(&lab, cert, &extra);
        assert_eq!(verdict, reason, "{}", cert.display());
    }
}

/// int-check's TLS verdict on a chain (certificate, intermediates, SubCA), judged without a
/// connection by the same code the TLS phase runs (the rows above go through real handshakes).
fn offline_verdict(lab: &Lab, cert: &std::path::Path, extra: &[&std::path::Path]) -> String {
    use rustls::pki_types::pem::PemObject;
    let mut chain = vec![rustls::pki_types::CertificateDer::from_pem_file(cert).unwrap()];
    for e in extra {
        chain.push(rustls::pki_types::CertificateDer::from_pem_file(e).unwrap());
    }
    chain.push(lab.pki.subca.cert.clone());
    let trust =
        int_check::pki::TrustStore::from_files(&[lab.root_file.clone(), lab.subca_file.clone()]);
    let verdict =
        int_check::probe::tls::judge_chain(Arc::new(trust.unwrap()), &chain, "msg.int.test");
    verdict.map(|r| r.code().to_string()).unwrap_or_default()
}

/// Issue 22: servers made with `openssl s_server` that offer only some of the suites NHS's
/// security guidance lists. Only DHE, or only CBC: `tls.no_common_suite`, naming what the server
/// accepts (found by probing, not guessed). Only TLS 1.2, or only TLS 1.3: they pass. Only TLS
/// 1.0: `tls.protocol_version`, naming it.
#[tokio::test(flavor = "multi_thread")]
async fn servers_that_speak_only_some_nhs_suites_are_named() {
    int_check_lab::needs!(Openssl);
    let lab = Lab::start().await;
    let mut spec = LeafSpec::server("msg.int.test");
    spec.rsa = true;
    let (cert, key) = lab.identity_with(&lab.pki, &spec);
    lab.dns.point("msg.int.test", &[lo(1)]);
    let subca = lab.subca_file.clone();
    let chain = ["-cert_chain", p(&subca)];
    // (s_server flags, int-check's status and reason, words the message must hold)
    let cases: Vec<(Vec<&str>, (&str, &str), &str)> = vec![
        (
            vec![
                "-no_tls1_3",
                "-cipher",
                "DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256",
            ],
            ("fail", "tls.no_common_suite"),
            "accepts DHE-RSA-AES256-GCM-SHA384, DHE-RSA-AES128-GCM-SHA256 (TLS 1.2)",
        ),
        (
            vec![
                "-no_tls1_3",
                "-cipher",
                "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES256-SHA",
            ],
            ("fail", "tls.no_common_suite"),
            "ECDHE-RSA-AES256-SHA384, ECDHE-RSA-AES256-SHA",
        ),
        (vec!["-tls1_2"], ("pass", ""), "TLS 1.2"),
        (vec!["-tls1_3"], ("pass", ""), "TLS 1.3"),
        (
            vec!["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"],
            ("fail", "tls.protocol_version"),
            "speaks only TLS 1.0",
        ),
    ];
    for (flags, verdict, words) in cases {
        let mut extra = chain.to_vec();
        extra.extend(&flags);
        let server = OpensslServer::start(&cert, &key, &extra).await;
        let profile = lab.profile(
            &format!("suites-{}.toml", server.port),
            &[EndpointSpec::new(
                "svc",
                format!("https://msg.int.test:{}/", server.port),
            )],
            "",
        );
        let run = run(&[
            "--profile",
            p(&profile),
            "--only",
            "dns,tcp,tls",
            "--format",
            "json",
        ])
        .await;
        let tls = run.check("svc", "tls");
        assert_eq!(status(&tls), verdict, "{flags:?}: {tls:#}");
        let message = tls["message"].as_str().unwrap();
        assert!(message.contains(words), "{flags:?}: {message}");
        drop(server);
    }
}

/// Issue 25: a handshake that stalls because large packets are lost on the path (a path-MTU black
/// hole: a peer that answers only connections whose MSS keeps its segments small) is
/// `tls.path_mtu`, not the dead server's `tls.handshake_timeout`; a dead server stays a
/// timeout whose words say small packets did not help.
#[tokio::test(flavor = "multi_thread")]
async fn a_path_mtu_black_hole_is_told_from_a_dead_server() {
    let lab = Lab::start().await;
    let upstream = lab.serve("msg.int.test", lo(1), |_| {}).await;
    let hole = mtu_black_hole(lo(1), upstream).await;
    let dead = silent_server(lo(1)).await;
    let profile = lab.profile(
        "mtu.toml",
        &[
            EndpointSpec::new("holed", https("msg.int.test", hole)),
            EndpointSpec::new("dead", https("msg.int.test", dead)),
        ],
        "",
    );
    let run = run(&[
        "--profile",
        p(&profile),
        "--only",
        "dns,tcp,tls",
        "--timeout",
        "1s",
        "--format",
        "json",
    ])
    .await;
    let holed = run.check("holed", "tls");
    assert_eq!(status(&holed), ("fail", "tls.path_mtu"), "{holed:#}");
    assert!(
        holed["message"].as_str().unwrap().contains("MSS 536"),
        "{holed:#}"
    );
    let dead = run.check("dead", "tls");
    assert_eq!(status(&dead), ("fail", "tls.handshake_timeout"), "{dead:#}");
    assert!(
        dead["message"]
            .as_str()
            .unwrap()
            .contains("small packets did not help"),
        "{dead:#}"
    );
}

/// A revocation list made with `openssl ca` by the lab SubCA, revoking the certificate in
/// `revoked` (a file in the lab folder): `current` (valid for 30 days) or `expired` (January 2025).
pub fn revocation_lists(lab: &Lab, revoked: &str, which: &str) -> std::path::PathBuf {
    let dir = lab.path("");
    std::fs::write(dir.join("subca.key"), lab.pki.subca.key.serialize_pem()).unwrap();
    let dates = if which == "expired" {
        "-crl_lastupdate 20250101000000Z -crl_nextupdate 20250201000000Z"
    } else {
        ""
    };
    let script = format!(
        r#"
set -e
printf '[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\ncrl_extensions = e\n[ e ]\nauthorityKeyIdentifier = keyid:always\n' > ca.cnf
: > index.txt; echo 1000 > crlnumber
openssl x509 -in {revoked} -out revoked-first.pem
openssl ca -config ca.cnf -keyfile subca.key -cert subca.pem -revoke revoked-first.pem -crl_reason superseded 2>/dev/null
openssl ca -config ca.cnf -keyfile subca.key -cert subca.pem -gencrl {dates} -out {which}.crl 2>/dev/null
"#
    );
    let made = std::process::Command::new("bash")
        .args(["-c", &script])
        .current_dir(&dir)
        .output()
        .expect("bash and the openssl CLI make the list");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    dir.join(format!("{which}.crl"))
}
