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
