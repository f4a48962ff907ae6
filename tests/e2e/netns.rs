//! TCP failures that loopback cannot produce, inside a network namespace the test creates:
//! a black hole (the SYN leaves through a veth pair and is never answered) and no route at all.
//! Needs root and iproute2 (`ip netns`); .ci/run installs iproute2 when missing.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// A network namespace with a veth pair: 10.9.0.1 on one end, a static neighbour 10.9.0.2 that
/// never answers, and no route to anything else. Deleted when dropped.
struct Namespace(String);

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Namespace {
    fn create() -> Namespace {
        let name = format!(
            "ic-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let ip = |args: &[&str]| {
            let output = Command::new("ip").args(args).output().unwrap_or_else(|e| {
                panic!("`ip` is needed for the namespace tests ({e}): apt-get install -y iproute2 (.ci/run does this)")
            });
            assert!(
                output.status.success(),
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        };
        ip(&["netns", "add", &name]);
        let ns = Namespace(name.clone());
        for step in [
            vec!["link", "add", "v0", "type", "veth", "peer", "name", "v1"],
            vec!["addr", "add", "10.9.0.1/24", "dev", "v0"],
            vec!["link", "set", "v0", "up"],
            vec!["link", "set", "v1", "up"],
            vec!["link", "set", "lo", "up"],
            // A route that forbids: connect() fails with EACCES, an error of no other class.
            vec!["route", "add", "prohibit", "10.7.0.0/24"],
            vec![
                "neigh",
                "add",
                "10.9.0.2",
                "lladdr",
                "02:00:00:00:00:02",
                "dev",
                "v0",
            ],
        ] {
            let mut args = vec!["netns", "exec", &name, "ip"];
            args.extend(step);
            ip(&args);
        }
        ns
    }

    fn run(&self, args: &[&str]) -> (i32, Value, std::time::Duration) {
        let started = std::time::Instant::now();
        let output = Command::new("ip")
            .args(["netns", "exec", &self.0, env!("CARGO_BIN_EXE_int-check")])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("INT_CHECK_HOSTS_FILE", "/nonexistent")
            .output()
            .unwrap();
        let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output.status.code().unwrap_or(-1), json, started.elapsed())
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn check<'a>(json: &'a Value, endpoint: &str, kind: &str) -> &'a Value {
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["endpoint"] == endpoint && c["kind"] == kind)
        .unwrap()
}

#[test]
fn black_hole_is_a_tcp_timeout_and_no_route_is_unreachable() {
    int_check_lab::needs!(Namespaces);
    let ns = Namespace::create();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "[[endpoint]]\nname = \"hole\"\nurl = \"https://10.9.0.2:443/\"\n\
         [[endpoint]]\nname = \"nowhere\"\nurl = \"tcp://10.8.0.1:636\"\n\
         [[endpoint]]\nname = \"forbidden\"\nurl = \"tcp://10.7.0.1:636\"\n\
         [[endpoint]]\nname = \"dark\"\nurl = \"tcp://msg.int.spine2.ncrs.nhs.uk:443\"\n\
         [dns]\nservers = [\"10.8.0.53\", \"10.8.0.54\"]\n",
    )
    .unwrap();
    let (code, json, _) = ns.run(&[
        "--profile",
        profile.to_str().unwrap(),
        "--format",
        "json",
        "--timeout",
        "1s",
    ]);
    assert_eq!(code, 1);
    let tcp = check(&json, "hole", "tcp");
    assert_eq!(
        (
            tcp["status"].as_str().unwrap(),
            tcp["reason"].as_str().unwrap()
        ),
        ("fail", "tcp.timeout"),
        "{tcp:#}"
    );
    assert!(tcp["hint"].as_str().unwrap().contains("firewall"));
    assert_eq!(check(&json, "hole", "tls")["status"], "skip");
    let dns = check(&json, "hole", "dns");
    assert_eq!(dns["reason"], "dns.ip_literal");
    let tcp = check(&json, "nowhere", "tcp");
    assert_eq!(
        (
            tcp["status"].as_str().unwrap(),
            tcp["reason"].as_str().unwrap()
        ),
        ("fail", "tcp.unreachable"),
        "{tcp:#}"
    );
    let tcp = check(&json, "forbidden", "tcp");
    assert_eq!(
        (
            tcp["status"].as_str().unwrap(),
            tcp["reason"].as_str().unwrap()
        ),
        ("fail", "tcp.failed"),
        "{tcp:#}"
    );
    assert!(
        tcp["message"].as_str().unwrap().contains("10.7.0.1:636"),
        "{tcp:#}"
    );
    // Resolvers without a route: said at once, not after the timeout.
    let dns = check(&json, "dark", "dns");
    assert_eq!(dns["reason"], "dns.unreachable", "{dns:#}");
    assert!(
        dns["message"].as_str().unwrap().contains("no route"),
        "{dns:#}"
    );
    assert!(dns["duration_ms"].as_f64().unwrap() < 500.0, "{dns:#}");
    // The black hole costs one timeout (1 s) while the others are said at once: the run is one
    // timeout long, not one per endpoint.
    assert!(json["duration_ms"].as_u64().unwrap() < 2000, "{json:#}");
}

/// Split DNS: in a namespace whose system resolver answers nothing (resolv.conf points at a
/// port where nothing listens), an HSCN name is named as a missing conditional forwarder, an
/// internet name as a plain lookup failure, and the summary says neither network is reached.
#[test]
fn an_hscn_name_through_a_resolver_without_a_forwarder_is_named() {
    int_check_lab::needs!(Namespaces);
    let ns = Namespace::create();
    let etc = std::path::PathBuf::from(format!("/etc/netns/{}", ns.0));
    std::fs::create_dir_all(&etc).unwrap();
    // `ip netns exec` mounts this over /etc/resolv.conf inside the namespace.
    std::fs::write(
        etc.join("resolv.conf"),
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "name = \"split\"\n\
         [[endpoint]]\nname = \"spine\"\nurl = \"https://msg.int.spine2.ncrs.nhs.uk/healthcheck\"\n\
         [[endpoint]]\nname = \"api\"\nurl = \"https://int.api.service.nhs.uk/_ping\"\ntrust = \"public\"\n",
    )
    .unwrap();
    let (code, json, _) = ns.run(&["--profile", profile.to_str().unwrap(), "--format", "json"]);
    let _ = std::fs::remove_dir_all(&etc);
    assert_eq!(code, 1, "{json:#}");
    let spine = check(&json, "spine", "dns");
    assert_eq!(spine["reason"], "dns.no_forwarder", "{spine:#}");
    let message = spine["message"].as_str().unwrap();
    assert!(
        message.contains("msg.int.spine2.ncrs.nhs.uk is an HSCN name")
            && message.contains("no conditional forwarder for ncrs.nhs.uk"),
        "{message}"
    );
    assert!(
        spine["hint"]
            .as_str()
            .unwrap()
            .contains("server=/ncrs.nhs.uk/155.231.231.1")
    );
    assert!(
        spine["details"]["original_reason"]
            .as_str()
            .unwrap()
            .starts_with("dns.")
    );
    assert!(
        spine["details"]["asked"]
            .as_str()
            .unwrap()
            .starts_with("the system resolver")
    );
    // An internet name failing the same way is just a failed lookup.
    let api = check(&json, "api", "dns");
    assert!(
        api["reason"].as_str().unwrap().starts_with("dns."),
        "{api:#}"
    );
    assert_ne!(api["reason"], "dns.no_forwarder");
    let networks = json["summary"]["networks"].as_array().unwrap();
    assert_eq!(networks.len(), 2, "{networks:?}");
    assert!(
        networks
            .iter()
            .all(|n| n["connected"] == 0 && n["endpoints"] == 1)
    );
    let endpoints = json["endpoints"].as_array().unwrap();
    assert_eq!(endpoints[0]["network"], "hscn");
    assert_eq!(endpoints[1]["network"], "internet");
}

/// A namespace joined to this one by a veth pair: `10.9.7.1` inside, `10.9.7.254` here (where the
/// lab's DNS proxy and TLS servers listen), IPv6 `fd09::1/64` inside with a neighbour `fd09::2`
/// that never answers, and no IPv6 route anywhere else.
fn dual_stack(ns: &Namespace) -> String {
    let root_side = format!(
        "icr{}x{}",
        std::process::id() % 10_000,
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let ip = |args: &[&str]| {
        let output = Command::new("ip").args(args).output().expect("ip runs");
        assert!(
            output.status.success(),
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    ip(&[
        "link", "add", &root_side, "type", "veth", "peer", "name", "vn", "netns", &ns.0,
    ]);
    ip(&["addr", "add", "10.9.7.254/24", "dev", &root_side]);
    ip(&["link", "set", &root_side, "up"]);
    for step in [
        vec!["addr", "add", "10.9.7.1/24", "dev", "vn"],
        vec!["link", "set", "vn", "up"],
        vec!["-6", "addr", "add", "fd09::1/64", "dev", "v0", "nodad"],
        vec![
            "-6",
            "neigh",
            "add",
            "fd09::2",
            "lladdr",
            "02:00:00:00:00:03",
            "dev",
            "v0",
        ],
    ] {
        let mut args = vec!["netns", "exec", &ns.0, "ip"];
        args.extend(step);
        ip(&args);
    }
    root_side
}

/// Issue 24: both address families judged as a client would. On a machine with no IPv6 route,
/// a host that also publishes AAAA is reachable (IPv4 connects): the IPv6 address is a warning
/// that says so, not a failure; an IPv6 address that times out while IPv4 connects is a warning
/// too (clients fall back, late); a dead address of the same family as a working one, and an
/// IPv6-only host without a route, stay failures; `ip = "ipv4"` probes IPv4 only.
#[tokio::test(flavor = "multi_thread")]
async fn both_address_families_are_judged_as_a_client_would() {
    int_check_lab::needs!(Namespaces);
    use int_check_lab::latency::dns_proxy;
    use int_check_lab::{Lab, LeafSpec, TlsServerSpec, tls_server};
    use std::net::IpAddr;
    let ns = Namespace::create();
    let _root_side = dual_stack(&ns);
    let lab = Lab::start().await;
    let here: IpAddr = "10.9.7.254".parse().unwrap();
    let dns = dns_proxy(here, lab.dns.addr, std::time::Duration::ZERO).await;
    let leaf = lab.pki.leaf(&LeafSpec {
        sans: vec![
            "noroute.int.test".into(),
            "fallback.int.test".into(),
            "deadv4.int.test".into(),
            "v6only.int.test".into(),
            "pinned.int.test".into(),
        ],
        ..LeafSpec::server("noroute.int.test")
    });
    let server = tls_server(here, TlsServerSpec::new(&lab.pki, &leaf)).await;
    let ip = |text: &str| -> IpAddr { text.parse().unwrap() };
    // No IPv6 route in the namespace for fd00:dead::/64; fd09::2 is on-link and silent.
    lab.dns
        .point("noroute.int.test", &[here, ip("fd00:dead::1")]);
    lab.dns.point("fallback.int.test", &[here, ip("fd09::2")]);
    lab.dns.point("deadv4.int.test", &[here, ip("10.9.0.2")]);
    lab.dns.point("v6only.int.test", &[ip("fd00:dead::1")]);
    lab.dns.point("pinned.int.test", &[here, ip("fd09::2")]);
    let port = server.port();
    let endpoint = |name: &str, extra: &str| {
        format!(
            "[[endpoint]]\nname = \"{name}\"\nurl = \"https://{name}.int.test:{port}/\"\n{extra}\n"
        )
    };
    let profile = lab.write(
        "families.toml",
        &format!(
            "name = \"families\"\n[dns]\nservers = [\"{dns}\"]\n[trust]\nca_files = [\"{}\", \"{}\"]\n{}{}{}{}{}",
            lab.root_file.display(),
            lab.subca_file.display(),
            endpoint("noroute", ""),
            endpoint("fallback", ""),
            endpoint("deadv4", ""),
            endpoint("v6only", ""),
            endpoint("pinned", "ip = \"ipv4\""),
        ),
    );
    let (code, json, _) = ns.run(&[
        "--profile",
        profile.to_str().unwrap(),
        "--format",
        "json",
        "--timeout",
        "1s",
        "--only",
        "dns,tcp,tls",
    ]);
    assert_eq!(code, 1, "{json:#}");
    let tcp_at = |endpoint: &str, address: &str| -> Value {
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["endpoint"] == endpoint
                    && c["kind"] == "tcp"
                    && c["address"].as_str().is_some_and(|a| a.contains(address))
            })
            .unwrap_or_else(|| panic!("no tcp check of {endpoint} at {address}: {json:#}"))
            .clone()
    };
    let said = |c: &Value| {
        (
            c["status"].as_str().unwrap_or("").to_string(),
            c["reason"].as_str().unwrap_or("").to_string(),
        )
    };
    let pass = ("pass".to_string(), String::new());
    assert_eq!(said(&tcp_at("noroute", "10.9.7.254")), pass);
    let v6 = tcp_at("noroute", "fd00:dead::1");
    assert_eq!(
        said(&v6),
        ("warn".into(), "tcp.family_no_route".into()),
        "{v6:#}"
    );
    assert!(
        v6["message"].as_str().unwrap().contains("no IPv6 route"),
        "{v6:#}"
    );
    let late = tcp_at("fallback", "fd09::2");
    assert_eq!(
        said(&late),
        ("warn".into(), "tcp.family_fallback".into()),
        "{late:#}"
    );
    // A dead address of the working family stays a failure: clients pick any address.
    assert_eq!(
        said(&tcp_at("deadv4", "10.9.0.2")),
        ("fail".into(), "tcp.timeout".into())
    );
    // No family works: the failure stays.
    assert_eq!(
        said(&tcp_at("v6only", "fd00:dead::1")),
        ("fail".into(), "tcp.unreachable".into())
    );
    // ip = "ipv4": the AAAA record is not probed at all.
    let pinned: Vec<&Value> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["endpoint"] == "pinned" && c["kind"] == "tcp")
        .collect();
    assert_eq!(pinned.len(), 1, "{pinned:#?}");
    assert_eq!(said(pinned[0]), pass);
    // The TLS phase ran on the working address of every reachable endpoint.
    for endpoint in ["noroute", "fallback", "deadv4", "pinned"] {
        let held = json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["endpoint"] == endpoint && c["kind"] == "tls" && c["status"] == "pass");
        assert!(held, "{endpoint}: {json:#}");
    }
}

/// Three namespaces made by the test: a client, a router and a server. The router's link toward
/// the client has an MTU of 1280; everything else 1500. Deleted when dropped.
struct MtuPath {
    names: [String; 3],
}

impl MtuPath {
    const SERVER: &'static str = "10.9.21.1";

    fn create() -> MtuPath {
        let id = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let names = ["c", "r", "s"].map(|role| format!("ic-mtu-{role}-{id}"));
        let path = MtuPath {
            names: names.clone(),
        };
        let [c, r, s] = &names;
        let script = format!(
            r#"
set -e
for n in {c} {r} {s}; do ip netns add $n; ip -n $n link set lo up; done
ip link add mc0 netns {c} type veth peer name mr0 netns {r}
ip link add ms0 netns {s} type veth peer name mr1 netns {r}
ip -n {c} addr add 10.9.20.1/24 dev mc0; ip -n {c} link set mc0 up
ip -n {r} addr add 10.9.20.254/24 dev mr0; ip -n {r} link set mr0 mtu 1280 up
ip -n {r} addr add 10.9.21.254/24 dev mr1; ip -n {r} link set mr1 up
ip -n {s} addr add {server}/24 dev ms0; ip -n {s} link set ms0 up
ip -n {c} route add default via 10.9.20.254
ip -n {s} route add default via 10.9.21.254
ip netns exec {r} sysctl -q -w net.ipv4.ip_forward=1
"#,
            server = Self::SERVER
        );
        let out = Command::new("bash").args(["-c", &script]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    }

    /// The router drops the ICMP "fragmentation needed" it would send back: a path-MTU black hole.
    fn drop_fragmentation_needed(&self, drop: bool) {
        let r = &self.names[1];
        let script = match drop {
            true => format!(
                "ip netns exec {r} nft add table inet blackhole && ip netns exec {r} nft 'add chain inet blackhole out {{ type filter hook output priority 0; }}' && ip netns exec {r} nft add rule inet blackhole out icmp type destination-unreachable icmp code frag-needed drop"
            ),
            false => format!("ip netns exec {r} nft delete table inet blackhole"),
        };
        let out = Command::new("bash").args(["-c", &script]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn exec(&self, role: usize) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.names[role]]);
        cmd
    }
}

impl Drop for MtuPath {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// Issue 25: a real path-MTU black hole. The server's certificate flight needs full-size
/// segments; the router's link toward the client carries at most 1280 bytes and nftables drops
/// the ICMP "fragmentation needed" that would tell the server. The small packets get through
/// (the TCP handshake, the ClientHello), the large ones vanish: int-check names the stall
/// `tls.path_mtu` because the same handshake with a small segment size completes. With the
/// ICMP let through, the same server passes.
#[tokio::test(flavor = "multi_thread")]
async fn a_real_path_mtu_black_hole_is_named() {
    int_check_lab::needs!(Namespaces, Openssl, Nftables);
    use int_check_lab::{Lab, LeafSpec};
    let lab = Lab::start().await;
    let path = MtuPath::create();
    path.drop_fragmentation_needed(true);
    // A flight of several full-size segments: leaf, SubCA and root, RSA keys.
    let leaf = lab.pki.leaf(&LeafSpec {
        rsa: true,
        ..LeafSpec::server("mtu.int.test")
    });
    let cert = lab.write("mtu-leaf.pem", &leaf.pem);
    let key = lab.write("mtu-leaf.key", &leaf.key_pem);
    let chain = lab.write(
        "mtu-chain.pem",
        &format!("{}{}", lab.pki.subca.pem, lab.pki.root.pem),
    );
    let mut server = path
        .exec(2)
        .args(["openssl", "s_server", "-quiet", "-www", "-accept"])
        .arg(format!("{}:443", MtuPath::SERVER))
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .arg("-cert_chain")
        .arg(&chain)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let profile = lab.write(
        "mtu.toml",
        &format!(
            "name = \"mtu\"\n[trust]\nca_files = [\"{}\", \"{}\"]\n[[endpoint]]\nname = \"svc\"\nurl = \"https://mtu.int.test/\"\naddress = \"{}\"\n",
            lab.root_file.display(),
            lab.subca_file.display(),
            MtuPath::SERVER
        ),
    );
    let probe = || {
        let out = path
            .exec(0)
            .arg(env!("CARGO_BIN_EXE_int-check"))
            .args(["--profile", profile.to_str().unwrap(), "--only", "tls"])
            .args(["--format", "json", "--timeout", "2s"])
            .env_clear()
            .env("INT_CHECK_HOSTS_FILE", "/nonexistent")
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
        check(&json, "svc", "tls").clone()
    };
    // Wait for the server inside its namespace.
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(10) {
        let ready = path
            .exec(2)
            .args([
                "bash",
                "-c",
                &format!("exec 3<>/dev/tcp/{}/443", MtuPath::SERVER),
            ])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let stalled = probe();
    assert_eq!(stalled["status"], "fail", "{stalled:#}");
    assert_eq!(stalled["reason"], "tls.path_mtu", "{stalled:#}");
    let said = stalled["message"].as_str().unwrap();
    assert!(said.contains("MSS 536"), "{said}");
    // What the kernel saw: the segments behind the lost full-size one.
    assert!(said.contains("arrived out of order"), "{said}");

    // openssl s_client on the same path does not finish the handshake either, and says nothing
    // about why.
    let s_client = path
        .exec(0)
        .args(["timeout", "3", "openssl", "s_client", "-connect"])
        .arg(format!("{}:443", MtuPath::SERVER))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&s_client.stdout).contains("Verification"));

    // The ICMP let through: the server learns the path's MTU and the handshake completes.
    path.drop_fragmentation_needed(false);
    let healthy = probe();
    assert_eq!(healthy["status"], "pass", "{healthy:#}");
    let _ = server.kill();
    let _ = server.wait();
}
