//! Proxies for the proxy tests: a real Debian squid (an open port and one that asks for Basic
//! authentication, an ACL that refuses port 636 and one host), and proxies made here that go
//! wrong on purpose (silent, closing, not HTTP, closing the tunnel, intercepting TLS).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{LeafSpec, Pki, provider, unused_port};

/// A squid started for one test; stopped when dropped.
pub struct Squid {
    /// The port that tunnels without authentication.
    pub open: SocketAddr,
    /// The port that asks for Basic authentication (user `lab`, password [`Squid::PASSWORD`]).
    pub auth: SocketAddr,
    child: Child,
    pub dir: PathBuf,
}

impl Drop for Squid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The host squid's ACL refuses to tunnel to (whatever the port).
pub const BLOCKED_HOST: &str = "blocked.proxy.test";

impl Squid {
    pub const USER: &'static str = "lab";
    pub const PASSWORD: &'static str = "s3cret-Proxy-pw";

    /// Starts squid on two loopback ports. `hosts` is squid's own view of names (its hosts
    /// file): the tests' resolver does not know these names, so only squid can resolve them.
    pub async fn start(dir: &Path, hosts: &[(&str, IpAddr)]) -> Squid {
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let dir = dir.join("squid");
        std::fs::create_dir_all(&dir).unwrap();
        // squid's helpers and logs run as the `proxy` user.
        set_mode(&dir, 0o777);
        if let Some(parent) = dir.parent() {
            set_mode(parent, 0o755);
        }
        let hash = openssl_apr1(Self::PASSWORD);
        let htpasswd = dir.join("htpasswd");
        std::fs::write(&htpasswd, format!("{}:{hash}\n", Self::USER)).unwrap();
        set_mode(&htpasswd, 0o644);
        let mut hosts_text = String::new();
        for (name, ip) in hosts {
            hosts_text.push_str(&format!("{ip} {name}\n"));
        }
        hosts_text.push_str(&format!("127.0.0.1 {BLOCKED_HOST}\n"));
        let hosts_file = dir.join("hosts");
        std::fs::write(&hosts_file, hosts_text).unwrap();
        set_mode(&hosts_file, 0o644);
        let open = SocketAddr::new(super::lo(1), unused_port(super::lo(1)).await);
        let auth = SocketAddr::new(super::lo(1), unused_port(super::lo(1)).await);
        let conf = format!(
            "http_port {open} name=open\n\
             http_port {auth} name=auth\n\
             pid_filename none\n\
             cache_log {log}\n\
             access_log none\n\
             cache deny all\n\
             cache_mem 8 MB\n\
             pinger_enable off\n\
             coredump_dir none\n\
             hosts_file {hosts}\n\
             dns_nameservers 127.0.0.1\n\
             shutdown_lifetime 0 seconds\n\
             auth_param basic program /usr/lib/squid/basic_ncsa_auth {htpasswd}\n\
             auth_param basic realm int-check lab\n\
             acl authport myportname auth\n\
             acl authed proxy_auth REQUIRED\n\
             acl ldaps port 636\n\
             acl blocked dstdomain {BLOCKED_HOST}\n\
             http_access deny ldaps\n\
             http_access deny blocked\n\
             http_access deny authport !authed\n\
             http_access allow all\n",
            log = dir.join("cache.log").display(),
            hosts = hosts_file.display(),
            htpasswd = htpasswd.display(),
        );
        let conf_file = dir.join("squid.conf");
        std::fs::write(&conf_file, conf).unwrap();
        set_mode(&conf_file, 0o644);
        // Each squid its own service name: squid keeps shared memory under that name.
        let service = format!(
            "intcheck{}x{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::SeqCst)
        );
        let child = Command::new(squid_binary())
            .args(["-N", "-n", &service, "-f"])
            .arg(&conf_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("squid starts");
        let squid = Squid {
            open,
            auth,
            child,
            dir,
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if TcpStream::connect(open).await.is_ok() && TcpStream::connect(auth).await.is_ok() {
                return squid;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "squid did not listen within 20 s: {}",
            std::fs::read_to_string(squid.dir.join("cache.log")).unwrap_or_default()
        );
    }
}

fn squid_binary() -> PathBuf {
    ["/usr/sbin/squid", "/usr/local/sbin/squid", "/usr/bin/squid"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("squid"))
}

/// Whether squid is installed (the need check).
pub fn squid_installed() -> bool {
    ["/usr/sbin/squid", "/usr/local/sbin/squid", "/usr/bin/squid"]
        .iter()
        .any(|p| Path::new(p).exists())
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

/// An Apache MD5 password hash (squid's basic_ncsa_auth reads it), made by the openssl CLI.
fn openssl_apr1(password: &str) -> String {
    let out = Command::new("openssl")
        .args(["passwd", "-apr1", password])
        .output()
        .expect("openssl runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// How a proxy made here goes wrong.
#[derive(Clone, Copy, Debug)]
pub enum BadProxy {
    /// Reads CONNECT and never answers.
    Silent,
    /// Reads CONNECT and closes.
    Closes,
    /// Answers CONNECT with something that is not HTTP.
    NotHttp,
    /// Answers 200 and closes the tunnel at once.
    ClosesTunnel,
    /// Answers CONNECT with these bytes (a status line and headers) and closes.
    Answers(&'static str),
}

/// A proxy on loopback that misbehaves as `how` says.
pub async fn bad_proxy(how: BadProxy) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                if read_connect(&mut client).await.is_none() {
                    return;
                }
                match how {
                    BadProxy::Silent => tokio::time::sleep(Duration::from_secs(30)).await,
                    BadProxy::Closes => {}
                    BadProxy::Answers(head) => {
                        let _ = client.write_all(head.as_bytes()).await;
                    }
                    BadProxy::NotHttp => {
                        let _ = client.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await;
                    }
                    BadProxy::ClosesTunnel => {
                        let _ = client
                            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                            .await;
                        // Wait for the ClientHello, then close: the tunnel dies mid-handshake.
                        let mut buf = [0u8; 512];
                        let _ = client.read(&mut buf).await;
                    }
                }
            });
        }
    });
    addr
}

/// A TLS-inspecting proxy: it answers CONNECT with 200 and then speaks TLS itself, with a
/// certificate for the requested host issued by `inspector` (its own CA), sent with that CA's
/// SubCA. It never reaches the host. Returns its address.
pub async fn intercepting_proxy(inspector: Arc<Pki>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let inspector = inspector.clone();
            tokio::spawn(async move {
                let Some(target) = read_connect(&mut client).await else {
                    return;
                };
                let host = target.rsplit_once(':').map_or(target.as_str(), |(h, _)| h);
                let leaf = inspector.leaf(&LeafSpec::server(host));
                let config = rustls::ServerConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_no_client_auth()
                    .with_single_cert(
                        vec![leaf.cert.clone(), inspector.subca.cert.clone()],
                        leaf.key(),
                    )
                    .unwrap();
                if client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
                let _ = acceptor.accept(client).await;
            });
        }
    });
    addr
}

/// Reads a CONNECT request's head; its target (`host:port`).
async fn read_connect(client: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        match client.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    head.strip_prefix("CONNECT ")
        .and_then(|r| r.split_whitespace().next())
        .map(str::to_string)
}
