//! Benchmark harness: a local lab of N endpoints on loopback (DNS, HTTPS servers with the
//! G2-shaped test PKI, one LDAPS directory) and the release binary run against it, repeated.
//! Prints medians and peak RSS. Rerun with `cargo bench --bench lab` (or `-- NAME` for one
//! scenario: critical, scale, timeouts, manual, startup, wan, serve, nginx). See BENCHMARKS.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use int_check_lab::latency::{dns_proxy, tcp_proxy};
use int_check_lab::slapd::{Slapd, SlapdOptions};
use int_check_lab::*;

const BINARY: &str = env!("CARGO_BIN_EXE_int-check");

/// One timed run of the binary: wall time, peak RSS (KiB, from GNU time) and exit code.
struct Sample {
    wall: Duration,
    rss_kib: Option<u64>,
    code: i32,
}

/// `gnu_time`: wrap in /usr/bin/time for peak RSS (which adds its own start-up to the wall time).
fn run_binary_with(args: &[&str], gnu_time: bool) -> Sample {
    let mut command = if gnu_time {
        let mut c = clean(Command::new("/usr/bin/time"));
        c.args(["-f", "%M", BINARY]);
        c
    } else {
        clean(Command::new(BINARY))
    };
    command
        .args(args)
        .env("INT_CHECK_HOSTS_FILE", "/nonexistent")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let output = command.output().expect("the release binary runs");
    let wall = started.elapsed();
    if !output.status.success() {
        // Keep what a failed run said, for whoever reads the panic below.
        let path = std::env::temp_dir().join("int-check-bench-failure.txt");
        let _ = std::fs::write(&path, &output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let rss_kib = if gnu_time {
        stderr.lines().last().and_then(|l| l.trim().parse().ok())
    } else {
        None
    };
    Sample {
        wall,
        rss_kib,
        code: output.status.code().unwrap_or(-1),
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Runs `repeat` times off the async runtime; returns median wall, max RSS, and the exit codes.
async fn measure(args: Vec<String>, repeat: usize) -> (Duration, Option<u64>, Vec<i32>) {
    measure_with(args, repeat, Path::new("/usr/bin/time").exists()).await
}

async fn measure_with(
    args: Vec<String>,
    repeat: usize,
    gnu_time: bool,
) -> (Duration, Option<u64>, Vec<i32>) {
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let samples: Vec<Sample> = (0..repeat)
            .map(|_| run_binary_with(&refs, gnu_time))
            .collect();
        let rss = samples.iter().filter_map(|s| s.rss_kib).max();
        let codes = samples.iter().map(|s| s.code).collect();
        (median(samples.iter().map(|s| s.wall).collect()), rss, codes)
    })
    .await
    .unwrap()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The lab: HTTPS servers (a wildcard *.int.test certificate) spread over loopback addresses,
/// DNS names svcN.int.test, and optionally a slapd directory.
struct Bench {
    lab: Lab,
    servers: Vec<SocketAddr>,
    directory: Option<Slapd>,
}

impl Bench {
    async fn start(servers: usize, delays: &[Duration], directory: bool) -> Bench {
        let lab = Lab::start().await;
        let leaf = lab.pki.leaf(&LeafSpec::server("*.int.test"));
        let mut addrs = Vec::new();
        for i in 0..servers {
            let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::new(
                127,
                0,
                1 + (i / 250) as u8,
                1 + (i % 250) as u8,
            ));
            let mut spec = TlsServerSpec::new(&lab.pki, &leaf);
            spec.reply = match delays.get(i) {
                Some(d) if !d.is_zero() => HttpReply::Delayed(*d),
                _ => HttpReply::status("405 Method Not Allowed"),
            };
            addrs.push(tls_server(ip, spec).await);
        }
        let directory = if directory {
            let slapd = tokio::task::block_in_place(|| {
                Slapd::start(&lab, lo(200), SlapdOptions::default())
            });
            lab.dns.point("ldap.int.test", &[lo(200)]);
            Some(slapd)
        } else {
            None
        };
        Bench {
            lab,
            servers: addrs,
            directory,
        }
    }

    /// A profile of `count` HTTPS endpoints over the servers (plus the directory if any).
    fn profile(&self, name: &str, count: usize) -> PathBuf {
        let mut endpoints = Vec::new();
        for i in 0..count {
            let server = self.servers[i % self.servers.len()];
            let host = format!("svc{i}.int.test");
            self.lab.dns.point(&host, &[server.ip()]);
            endpoints.push(EndpointSpec::new(
                &format!("svc-{i:04}"),
                format!("https://{host}:{}/x", server.port()),
            ));
        }
        if let Some(slapd) = &self.directory {
            endpoints.push(EndpointSpec::new(
                "sds",
                format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
            ));
        }
        let ids = if self.directory.is_some() {
            "party_key = \"YES-0000806\""
        } else {
            ""
        };
        self.lab.profile(name, &endpoints, ids)
    }
}

fn args(profile: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["--profile", profile.to_str().unwrap(), "--format", "json"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

async fn critical_path() {
    println!("\n## 1. Critical path: 20 endpoints against the slowest one alone");
    // 19 HTTPS services answering after 0..180 ms, plus the directory.
    let delays: Vec<Duration> = (0..19).map(|i| Duration::from_millis(i * 10)).collect();
    let bench = Bench::start(19, &delays, true).await;
    let profile = bench.profile("critical.toml", 19);
    let mut slowest = (Duration::ZERO, String::new());
    for i in 0..19 {
        let name = format!("svc-{i:04}");
        let (wall, _, _) = measure(args(&profile, &["--endpoint", &name]), 3).await;
        if wall > slowest.0 {
            slowest = (wall, name);
        }
    }
    let (directory_alone, _, _) = measure(args(&profile, &["--endpoint", "sds"]), 3).await;
    if directory_alone > slowest.0 {
        slowest = (directory_alone, "sds".into());
    }
    let (all, rss, codes) = measure(args(&profile, &[]), 5).await;
    let ratio = all.as_secs_f64() / slowest.0.as_secs_f64();
    println!(
        "slowest single endpoint ({}) alone: {}",
        slowest.1,
        ms(slowest.0)
    );
    println!(
        "all 20 endpoints:                    {} (exit {:?}, peak RSS {} KiB)",
        ms(all),
        codes[0],
        rss.unwrap_or(0)
    );
    println!("ratio: {ratio:.2}x (target <= 1.2x)");
}

async fn scale() {
    println!("\n## 2. Scale: every phase (DNS, TCP, TLS, HTTP; plus one LDAPS directory)");
    println!("| endpoints | median wall | peak RSS | per endpoint |");
    println!("|---:|---:|---:|---:|");
    let bench = Bench::start(64, &[], true).await;
    // BENCH_ARGS: extra int-check flags, to see where the time goes (e.g. "--skip http").
    let extra_owned = std::env::var("BENCH_ARGS").unwrap_or_default();
    let extra: Vec<&str> = extra_owned.split_whitespace().collect();
    let counts: Vec<usize> = std::env::var("BENCH_COUNTS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 10, 100, 1000, 10_000]);
    for count in counts {
        let profile = bench.profile(&format!("scale-{count}.toml"), count);
        if std::env::var_os("BENCH_KEEP").is_some() {
            println!("lab up: {BINARY} --profile {}", profile.display());
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        let repeat = match count {
            10_000.. => 3,
            1000.. => 5,
            _ => 7,
        };
        if count == 1 && std::env::var_os("BENCH_SHOW").is_some() {
            let output = clean(Command::new(BINARY))
                .args(args(&profile, &extra))
                .env("INT_CHECK_HOSTS_FILE", "/nonexistent")
                .output()
                .unwrap();
            let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            for c in json["checks"].as_array().unwrap() {
                println!(
                    "  {} {} {} ms {}",
                    c["endpoint"], c["kind"], c["duration_ms"], c["message"]
                );
            }
            println!("  total {} ms", json["duration_ms"]);
            if std::env::var_os("BENCH_LOG").is_some() {
                println!("{}", String::from_utf8_lossy(&output.stderr));
            }
        }
        let (wall, rss, codes) = measure(args(&profile, &extra), repeat).await;
        if codes.iter().any(|c| *c != 0) {
            // Say what failed before giving up: the failures by reason, with one message each.
            let output = clean(Command::new(BINARY))
                .args(args(&profile, &extra))
                .env("INT_CHECK_HOSTS_FILE", "/nonexistent")
                .output()
                .unwrap();
            let json: serde_json::Value =
                serde_json::from_slice(&output.stdout).unwrap_or_default();
            let mut reasons: std::collections::BTreeMap<String, (usize, String)> =
                Default::default();
            for c in json["checks"].as_array().into_iter().flatten() {
                if c["status"] == "fail" {
                    let entry = reasons
                        .entry(c["reason"].as_str().unwrap_or("?").to_string())
                        .or_insert((0, c["message"].as_str().unwrap_or("").to_string()));
                    entry.0 += 1;
                }
            }
            println!("failures in a rerun: {reasons:?}");
        }
        assert!(
            codes.iter().all(|c| *c == 0),
            "scale run with {count} endpoints failed: exit codes {codes:?}; the last failed run's report is in {}",
            std::env::temp_dir()
                .join("int-check-bench-failure.txt")
                .display()
        );
        let total = count + 1;
        println!(
            "| {total} | {} | {:.1} MiB | {:.2} ms |",
            ms(wall),
            rss.unwrap_or(0) as f64 / 1024.0,
            wall.as_secs_f64() * 1000.0 / total as f64
        );
    }
    println!("targets: 1000 endpoints <= 0.8 s and 40 MiB peak RSS; 10,000 <= 8 s and 64 MiB");
}

async fn timeouts() {
    println!("\n## 3. Timeouts: 20 endpoints, 5 of them silent, --timeout 2s");
    let bench = Bench::start(15, &[], false).await;
    let mut endpoints = Vec::new();
    for i in 0..15 {
        let server = bench.servers[i];
        let host = format!("svc{i}.int.test");
        bench.lab.dns.point(&host, &[server.ip()]);
        endpoints.push(EndpointSpec::new(
            &format!("svc-{i:04}"),
            format!("https://{host}:{}/x", server.port()),
        ));
    }
    for i in 0..5 {
        let hole = silent_server(lo(100 + i)).await;
        let host = format!("hole{i}.int.test");
        bench.lab.dns.point(&host, &[hole.ip()]);
        endpoints.push(EndpointSpec::new(
            &format!("hole-{i}"),
            format!("https://{host}:{}/x", hole.port()),
        ));
    }
    let profile = bench.lab.profile("timeouts.toml", &endpoints, "");
    let (wall, _, codes) = measure(args(&profile, &["--timeout", "2s"]), 5).await;
    println!(
        "median wall: {} (exit {:?}; target <= 2300 ms)",
        ms(wall),
        codes[0]
    );
}

async fn manual() {
    println!(
        "\n## 4. Against doing it by hand: dig, openssl s_client, curl, ldapsearch one after another"
    );
    let delays = vec![Duration::ZERO; 19];
    let bench = Bench::start(19, &delays, true).await;
    let profile = bench.profile("manual.toml", 19);
    let list = bench.lab.path("endpoints.txt");
    let mut lines = String::new();
    for i in 0..19 {
        let server = bench.servers[i];
        lines.push_str(&format!(
            "https svc{i}.int.test {} {} /x no\n",
            server.ip(),
            server.port()
        ));
    }
    let slapd = bench.directory.as_ref().unwrap();
    lines.push_str(&format!(
        "ldaps ldap.int.test {} {} / no\n",
        slapd.addr.ip(),
        slapd.addr.port()
    ));
    std::fs::write(&list, lines).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/by-hand.sh");
    let dns = bench.lab.dns.addr;
    let root = bench.lab.root_file.clone();
    let by_hand = tokio::task::spawn_blocking(move || {
        let mut walls = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let status = Command::new("bash")
                .arg(script)
                .arg(&list)
                .arg(dns.ip().to_string())
                .arg(dns.port().to_string())
                .arg(&root)
                .stdout(Stdio::null())
                .status()
                .expect("bash runs");
            assert!(status.success(), "benches/by-hand.sh failed: it needs dig (bind9-dnsutils), openssl, curl and ldapsearch (ldap-utils)");
            walls.push(started.elapsed());
        }
        median(walls)
    })
    .await
    .unwrap();
    let (tool, _, codes) = measure(args(&profile, &[]), 5).await;
    println!("by hand (20 endpoints, 4 tools): {}", ms(by_hand));
    println!(
        "int-check (same 20 endpoints):   {} (exit {:?})",
        ms(tool),
        codes[0]
    );
    println!(
        "ratio: {:.1}x faster (target >= 10x)",
        by_hand.as_secs_f64() / tool.as_secs_f64()
    );
}

async fn startup() {
    println!("\n## 5. Start-up (median of 51 runs)");
    let bench = Bench::start(1, &[], false).await;
    let profile = bench.profile("startup.toml", 20);
    // Spawned directly: a /usr/bin/time wrapper would add its own start-up.
    let version = measure_with(vec!["--version".into()], 51, false).await;
    let dry = measure_with(args(&profile, &["--dry-run"]), 51, false).await;
    println!(
        "int-check --version:         {} (target <= 5 ms)",
        ms(version.0)
    );
    println!(
        "int-check check --dry-run:   {} (target <= 20 ms; 20-endpoint profile)",
        ms(dry.0)
    );
    let size = std::fs::metadata(BINARY).map(|m| m.len()).unwrap_or(0);
    println!(
        "binary size: {:.1} MiB ({BINARY})",
        size as f64 / (1024.0 * 1024.0)
    );
}

// ---------------------------------------------------------------------------------------------
// 6. WAN: the built-in profile's shape behind a latency proxy, at several round-trip times.

/// The built-in INT profile's shape: each host, whether it demands a client certificate, and
/// the paths of its endpoints (plus one LDAPS directory).
const INT_SHAPE: &[(&str, bool, &[&str])] = &[
    (
        "msg.int.test",
        true,
        &[
            "/reliablemessaging/reliablerequest",
            "/reliablemessaging/intermediary",
            "/sync-service",
            "/reliablemessaging/queryrequest",
            "/messageexchange/_ping",
        ],
    ),
    ("simple-sync.int.test", true, &["/smsp/pds"]),
    ("proxy.int.test", true, &["/"]),
    ("mesh.int.test", true, &["/messageexchange/_ping"]),
    (
        "gas.int.test",
        false,
        &[
            "/login/authactivate",
            "/login/authvalidate",
            "/login/authlogout",
            "/saml/RoleAssertion",
        ],
    ),
    ("ers.int.test", true, &["/ers-api/"]),
];

/// Round trips each endpoint's checks need: DNS 1, TCP 1, TLS 1.3 1, the request 1.
const ROUND_TRIPS_PER_ENDPOINT: u32 = 4;

/// One emulated network: its round-trip time, and the profile and endpoint list through it.
struct Wan {
    rtt_ms: u64,
    profile: PathBuf,
    list: PathBuf,
    resolver: SocketAddr,
    endpoints: Vec<String>,
    _dns: DnsServer,
}

/// Timings of one tool at one round-trip time.
#[derive(Default, Clone)]
struct Spread(Vec<Duration>);

impl Spread {
    fn median(&self) -> Duration {
        median(self.0.clone())
    }
    fn cell(&self) -> String {
        let min = self.0.iter().min().copied().unwrap_or_default();
        let max = self.0.iter().max().copied().unwrap_or_default();
        format!(
            "{:.0} ({:.0}-{:.0})",
            self.median().as_secs_f64() * 1000.0,
            min.as_secs_f64() * 1000.0,
            max.as_secs_f64() * 1000.0
        )
    }
}

fn timed(mut command: Command, what: &str) -> Duration {
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let started = Instant::now();
    let output = command.output().expect("the command starts");
    let wall = started.elapsed();
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    wall
}

async fn wan() {
    println!("\n## 6. WAN: the built-in profile's shape through a latency proxy");
    let lab = Lab::start().await;
    let mut servers = Vec::new();
    for (i, (host, mtls, _)) in INT_SHAPE.iter().enumerate() {
        let leaf = lab.pki.leaf(&LeafSpec::server(host));
        let mut spec = TlsServerSpec::new(&lab.pki, &leaf);
        if *mtls {
            spec.client_auth = ClientAuth::Required(lab.pki.root.cert.clone());
        }
        servers.push(tls_server(lo(1 + i as u8), spec).await);
    }
    let slapd =
        tokio::task::block_in_place(|| Slapd::start(&lab, lo(100), SlapdOptions::default()));
    let (cert, key) = lab.client_identity(&lab.pki, "supplier.int.test");
    let rtts: Vec<u64> = std::env::var("BENCH_RTTS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![0, 20, 60]);
    let mut nets = Vec::new();
    for (r, &rtt_ms) in rtts.iter().enumerate() {
        let rtt = Duration::from_millis(rtt_ms);
        let dns = DnsServer::start().await;
        let ip = |h: u8| std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 10 + r as u8, 1 + h));
        let (mut endpoints, mut lines) = (Vec::new(), String::new());
        for (h, (host, mtls, paths)) in INT_SHAPE.iter().enumerate() {
            let far = tcp_proxy(ip(h as u8), servers[h], rtt).await;
            dns.point(host, &[far.ip()]);
            for (k, path) in paths.iter().enumerate() {
                let name = format!("{}-{k}", host.split('.').next().unwrap());
                let mut endpoint =
                    EndpointSpec::new(&name, format!("https://{host}:{}{path}", far.port()));
                endpoint.mtls = *mtls;
                endpoints.push(endpoint);
                let mtls = if *mtls { "yes" } else { "no" };
                lines.push_str(&format!(
                    "https {host} {} {} {path} {mtls}\n",
                    far.ip(),
                    far.port()
                ));
            }
        }
        let far = tcp_proxy(ip(50), slapd.addr, rtt).await;
        dns.point("ldap.int.test", &[far.ip()]);
        endpoints.push(EndpointSpec::new(
            "sds",
            format!("ldaps://ldap.int.test:{}", far.port()),
        ));
        lines.push_str(&format!(
            "ldaps ldap.int.test {} {} / no\n",
            far.ip(),
            far.port()
        ));
        let resolver = dns_proxy(ip(60), dns.addr, rtt).await;
        let profile = lab.profile_resolving_with(
            resolver,
            &format!("wan-{rtt_ms}.toml"),
            &endpoints,
            "party_key = \"YES-0000806\"",
        );
        nets.push(Wan {
            rtt_ms,
            profile,
            list: lab.write(&format!("wan-{rtt_ms}.txt"), &lines),
            resolver,
            endpoints: endpoints.iter().map(|e| e.name.clone()).collect(),
            _dns: dns,
        });
    }
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let root = lab.root_file.clone();
    let report =
        tokio::task::spawn_blocking(move || wan_rounds(&nets, rounds, &root, [&cert, &key]))
            .await
            .unwrap();
    println!("{report}");
}

/// Runs the tools, interleaved, `rounds` times at every round-trip time; returns the tables.
fn wan_rounds(nets: &[Wan], rounds: usize, root: &Path, identity: [&Path; 2]) -> String {
    let [cert, key] = identity.map(|p| p.to_str().unwrap().to_string());
    if std::env::var_os("BENCH_KEEP").is_some() {
        // Leave the lab up for experiments by hand: print how to run int-check against it.
        for net in nets {
            println!(
                "RTT {} ms: {BINARY} --profile {} --client-cert {cert} --client-key {key}",
                net.rtt_ms,
                net.profile.display()
            );
        }
        std::thread::sleep(Duration::from_secs(3600));
    }
    let int_check = |net: &Wan, extra: &[&str]| {
        let mut command = clean(Command::new(BINARY));
        command
            .args(args(
                &net.profile,
                &["--client-cert", &cert, "--client-key", &key],
            ))
            .args(extra)
            .env("INT_CHECK_HOSTS_FILE", "/nonexistent");
        command
    };
    let script = |name: &str, net: &Wan| {
        let mut command = Command::new("bash");
        if std::env::var_os("BENCH_TRACE").is_some() {
            command.arg("-x");
        }
        command
            .arg(format!("{}/benches/{name}", env!("CARGO_MANIFEST_DIR")))
            .arg(&net.list)
            .arg(net.resolver.ip().to_string())
            .arg(net.resolver.port().to_string())
            .arg(root)
            .arg(&cert)
            .arg(&key);
        command
    };
    // The floor: each endpoint alone at the first round-trip time (0 unless BENCH_RTTS says).
    let base = &nets[0];
    let mut alone = Vec::new();
    for endpoint in &base.endpoints {
        let walls: Vec<Duration> = (0..rounds)
            .map(|_| {
                timed(
                    int_check(base, &["--endpoint", endpoint]),
                    "int-check alone",
                )
            })
            .collect();
        alone.push((median(walls), endpoint.clone()));
    }
    let slowest = alone.iter().max().unwrap().clone();
    // What the report itself says the network cost: round trips per endpoint.
    let mut trips_seen = Vec::new();
    for net in nets {
        let output = int_check(net, &[]).output().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut per_endpoint: std::collections::BTreeMap<String, u64> = Default::default();
        for check in json["checks"].as_array().unwrap() {
            if !net
                .endpoints
                .iter()
                .any(|e| check["endpoint"] == e.as_str())
            {
                continue; // the client identity's offline checks
            }
            *per_endpoint
                .entry(check["endpoint"].as_str().unwrap().to_string())
                .or_default() += check["details"]["round_trips"].as_u64().unwrap_or(0);
        }
        if std::env::var_os("BENCH_SHOW").is_some() {
            for check in json["checks"].as_array().unwrap() {
                println!(
                    "  rtt {} {} {} {} ms, {} round trips: {}",
                    net.rtt_ms,
                    check["endpoint"],
                    check["kind"],
                    check["duration_ms"],
                    check["details"]["round_trips"],
                    check["message"]
                );
            }
            println!("  total {} ms", json["duration_ms"]);
        }
        trips_seen.push((
            per_endpoint.values().min().copied().unwrap_or(0),
            per_endpoint.values().max().copied().unwrap_or(0),
        ));
    }
    let tools = ["int-check", "parallel curl", "by hand"];
    let mut spreads = vec![vec![Spread::default(); nets.len()]; tools.len()];
    for _ in 0..rounds {
        for (n, net) in nets.iter().enumerate() {
            spreads[0][n]
                .0
                .push(timed(int_check(net, &[]), "int-check"));
            spreads[1][n]
                .0
                .push(timed(script("parallel-curl.sh", net), "parallel-curl.sh"));
            spreads[2][n]
                .0
                .push(timed(script("by-hand.sh", net), "by-hand.sh"));
        }
    }
    let floor = |net: &Wan| {
        slowest.0 + Duration::from_millis(net.rtt_ms * u64::from(ROUND_TRIPS_PER_ENDPOINT))
    };
    let mut out = format!(
        "{} endpoints ({} HTTPS, most with client certificates, and one LDAPS directory), {rounds} interleaved rounds; ms, median (min-max)\n\n",
        base.endpoints.len(),
        base.endpoints.len() - 1
    );
    out.push_str("| tool |");
    for net in nets {
        out.push_str(&format!(" RTT {} ms |", net.rtt_ms));
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(nets.len()));
    out.push_str(&format!(
        "\n| floor: {ROUND_TRIPS_PER_ENDPOINT} round trips + slowest endpoint alone at RTT {} ({}) |",
        base.rtt_ms, slowest.1
    ));
    for net in nets {
        out.push_str(&format!(" {:.0} |", floor(net).as_secs_f64() * 1000.0));
    }
    let names = [
        "int-check",
        "one curl per endpoint in parallel, after dig (+ one ldapsearch)",
        "by hand: dig, openssl s_client, curl / ldapsearch, one after another",
    ];
    for (t, name) in names.iter().enumerate() {
        out.push_str(&format!("\n| {name} |"));
        for spread in &spreads[t] {
            out.push_str(&format!(" {} |", spread.cell()));
        }
    }
    out.push_str("\n\n| RTT | int-check / floor | int-check / parallel curl | round trips per endpoint in the report |\n|---:|---:|---:|---:|\n");
    for (n, net) in nets.iter().enumerate() {
        let ours = spreads[0][n].median().as_secs_f64();
        out.push_str(&format!(
            "| {} ms | {:.2}x | {:.2}x | {}-{} |\n",
            net.rtt_ms,
            ours / floor(net).as_secs_f64(),
            ours / spreads[1][n].median().as_secs_f64(),
            trips_seen[n].0,
            trips_seen[n].1
        ));
    }
    out.push_str("targets: RTT 60 within 1.1x of the floor and faster than parallel curl; RTT 0 within 1.2x of the slowest endpoint alone\n");
    out
}

/// A plain HTTP/1.0 GET: status and body (the answer comes whole).
async fn http_get(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return (0, String::new());
    };
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    )
}

/// `int-check serve` on an ephemeral port: the child and its port.
fn start_serve(profile: &Path, extra: &[&str]) -> (std::process::Child, u16) {
    use std::io::BufRead;
    let mut child = clean(Command::new(BINARY))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--profile",
            profile.to_str().unwrap(),
        ])
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("INT_CHECK_HOSTS_FILE", "/nonexistent/hosts")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let port = loop {
        let line = lines.next().expect("serve says where it listens").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest
                .split('/')
                .next()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

/// VmRSS and VmHWM of a process, in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn wait_ready(port: u16) {
    let started = Instant::now();
    while http_get(port, "/-/ready").await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "serve never ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The exporter's targets: /probe overhead over the probe itself, idle RSS, RSS under 50
/// concurrent probes, RSS growth from 1,000 to 10,000 probes, /metrics of 1,000 endpoints.
async fn serve() {
    println!("\n## 7. int-check serve (the exporter)");
    let bench = Bench::start(8, &[], false).await;
    let one = bench.profile("serve-1.toml", 1);
    let (mut child, port) = start_serve(&one, &["--interval", "3600s", "--max-probes", "64"]);
    wait_ready(port).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (idle, _) = rss_kib(child.id());
    // /probe: wall time at the client minus the probe's own duration (probe_duration_seconds).
    let mut overheads = Vec::new();
    let mut walls = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let (status, body) = http_get(port, "/probe?endpoint=svc-0000").await;
        let wall = started.elapsed();
        assert_eq!(status, 200);
        let probe: f64 = body
            .lines()
            .find_map(|l| l.strip_prefix("probe_duration_seconds "))
            .and_then(|v| v.parse().ok())
            .unwrap();
        walls.push(wall);
        overheads.push(wall.saturating_sub(Duration::from_secs_f64(probe)));
    }
    let overhead = median(overheads);
    let wall = median(walls);
    // 50 at once.
    let burst: Vec<_> = (0..50)
        .map(|_| tokio::spawn(async move { http_get(port, "/probe?endpoint=svc-0000").await.0 }))
        .collect();
    for probe in burst {
        assert_eq!(probe.await.unwrap(), 200);
    }
    let (_, peak_50) = rss_kib(child.id());
    // Growth: 1,000 then 10,000 probes, 8 at a time.
    let mut after = Vec::new();
    let mut done = 0;
    for target in [1000usize, 10_000] {
        while done < target {
            let batch: Vec<_> = (0..8)
                .map(|_| {
                    tokio::spawn(async move { http_get(port, "/probe?endpoint=svc-0000").await.0 })
                })
                .collect();
            for probe in batch {
                assert_eq!(probe.await.unwrap(), 200);
            }
            done += 8;
        }
        after.push(rss_kib(child.id()).0);
    }
    let _ = child.kill();
    let _ = child.wait();
    // /metrics of a 1,000-endpoint profile's last run.
    let thousand = bench.profile("serve-1000.toml", 1000);
    let (mut child, port) = start_serve(&thousand, &["--interval", "3600s"]);
    wait_ready(port).await;
    let mut scrapes = Vec::new();
    let mut bytes = 0;
    for _ in 0..21 {
        let started = Instant::now();
        let (status, body) = http_get(port, "/metrics").await;
        scrapes.push(started.elapsed());
        assert_eq!(status, 200);
        bytes = body.len();
    }
    let _ = child.kill();
    let _ = child.wait();
    let far = serve_over_rtt(&bench).await;
    let mib = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
    println!("| target | measured | limit |");
    println!("|---|---:|---:|");
    println!(
        "| /probe overhead over the probe itself (median of 200; wall {}) | {} | 5 ms |",
        ms(wall),
        ms(overhead)
    );
    println!("| idle RSS after the first run | {} | 24 MiB |", mib(idle));
    println!(
        "| peak RSS with 50 concurrent /probe | {} | 64 MiB |",
        mib(peak_50)
    );
    println!(
        "| RSS after 1,000 / 10,000 probes | {} / {} ({:+.1}%) | within 10% |",
        mib(after[0]),
        mib(after[1]),
        (after[1] as f64 / after[0] as f64 - 1.0) * 100.0
    );
    println!(
        "| /metrics, 1,000 endpoints ({} KiB; median of 21) | {} | 20 ms |",
        bytes / 1024,
        ms(median(scrapes))
    );
    println!(
        "\nThrough the latency proxy (one HTTPS endpoint, TCP and DNS delayed; /probe and the CLI interleaved, medians):\n"
    );
    println!(
        "| RTT | /probe wall | its overhead over the probe | CLI (`--endpoint`) wall | /probe / CLI |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for row in far {
        println!(
            "| {} ms | {} | {} | {} | {:.2} |",
            row.rtt_ms,
            ms(row.probe),
            ms(row.overhead),
            ms(row.cli),
            row.probe.as_secs_f64() / row.cli.as_secs_f64()
        );
    }
}

/// Medians at one round-trip time.
struct FarRow {
    rtt_ms: u64,
    probe: Duration,
    overhead: Duration,
    cli: Duration,
}

/// `/probe` of one endpoint behind the latency proxy (TCP and DNS delayed), against the CLI
/// checking the same endpoint, interleaved: the overhead should not grow with the round trip.
async fn serve_over_rtt(bench: &Bench) -> Vec<FarRow> {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let mut rows = Vec::new();
    for (r, rtt_ms) in [20u64, 60].into_iter().enumerate() {
        let rtt = Duration::from_millis(rtt_ms);
        let ip = |h: u8| std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 30 + r as u8, h));
        let far = tcp_proxy(ip(1), bench.servers[0], rtt).await;
        let dns = DnsServer::start().await;
        dns.point("far.int.test", &[far.ip()]);
        let resolver = dns_proxy(ip(2), dns.addr, rtt).await;
        let profile = bench.lab.profile_resolving_with(
            resolver,
            &format!("serve-rtt-{rtt_ms}.toml"),
            &[EndpointSpec::new(
                "far",
                format!("https://far.int.test:{}/x", far.port()),
            )],
            "",
        );
        let (mut child, port) = start_serve(&profile, &["--interval", "3600s"]);
        wait_ready(port).await;
        let (mut probes, mut overheads, mut clis) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let started = Instant::now();
            let (status, body) = http_get(port, "/probe?endpoint=far").await;
            let wall = started.elapsed();
            assert_eq!(status, 200);
            assert!(body.contains("probe_success 1"), "{body}");
            let probe: f64 = body
                .lines()
                .find_map(|l| l.strip_prefix("probe_duration_seconds "))
                .and_then(|v| v.parse().ok())
                .unwrap();
            probes.push(wall);
            overheads.push(wall.saturating_sub(Duration::from_secs_f64(probe)));
            let mut cli = clean(Command::new(BINARY));
            cli.env_clear().args(args(&profile, &["--endpoint", "far"]));
            clis.push(tokio::task::block_in_place(|| timed(cli, "the CLI")));
        }
        let _ = child.kill();
        let _ = child.wait();
        rows.push(FarRow {
            rtt_ms,
            probe: median(probes),
            overhead: median(overheads),
            cli: median(clis),
        });
    }
    rows
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "# int-check benchmark ({} cores, {})",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            BINARY
        );
        if run("critical") {
            critical_path().await;
        }
        if run("scale") {
            scale().await;
        }
        if run("timeouts") {
            timeouts().await;
        }
        if run("manual") {
            manual().await;
        }
        if run("startup") {
            startup().await;
        }
        if run("wan") {
            wan().await;
        }
        if run("serve") {
            serve().await;
        }
        if run("nginx") {
            against_nginx().await;
        }
    });
    runtime.shutdown_background();
}

/// The binary as the tests start it: an empty environment (no HTTPS_PROXY or INT_CHECK_* of the
/// caller's), PATH kept for the programs it may start.
fn clean(mut command: Command) -> Command {
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

/// What one process cost: wall time, CPU (user + system) and peak RSS, from GNU time.
struct Cost {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
    code: i32,
}

/// Runs `program args` under GNU time (`%e %U %S %M`) with a clean environment.
fn cost_of(program: &str, args: &[String], env: &[(&str, &str)]) -> Cost {
    let mut command = clean(Command::new("/usr/bin/time"));
    command
        .args(["-f", "%e %U %S %M", program])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("GNU time runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let fields: Vec<f64> = stderr
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or(f64::NAN);
    Cost {
        wall: field(0),
        cpu: field(1) + field(2),
        rss_mib: field(3) / 1024.0,
        code: output.status.code().unwrap_or(-1),
    }
}

/// The sample with the median CPU time.
fn median_cost(mut costs: Vec<Cost>) -> Cost {
    costs.sort_by(|a, b| a.cpu.total_cmp(&b.cpu));
    costs.swap_remove(costs.len() / 2)
}

/// CPU seconds a process has used so far (utime + stime from /proc, clock ticks of 10 ms).
fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of a process and its children (nginx's workers).
fn tree_cpu(pid: u32) -> f64 {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    process_cpu(pid)
        + children
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok())
            .map(process_cpu)
            .sum::<f64>()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until something accepts on `port`.
fn wait_for(port: u16) {
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// int-check, curl and blackbox_exporter against the same real server: nginx from Debian with one
/// ECDSA wildcard certificate (leaf + SubCA of the lab's G2-shaped PKI), HTTPS, `GET /` -> 200,
/// TLS 1.3, no client certificate. Each tool's own CPU time per endpoint is the figure: it does
/// not depend on how fast the server is or which lab serves. The in-process lab's figure for the
/// same count is printed beside it, to show where the two labs differ.
async fn against_nginx() {
    println!(
        "\n## 8. Against nginx: each tool's own CPU per endpoint (TLS 1.3 + HTTP, no client certificate)"
    );
    let Some(nginx) = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        println!("skipped: needs nginx (apt-get install nginx)");
        return;
    };
    let lab = Lab::start().await;
    let leaf = lab.pki.leaf(&LeafSpec::server("*.scale.test"));
    let chain = lab.write(
        "nginx-chain.pem",
        &format!("{}{}", leaf.pem, lab.pki.subca.pem),
    );
    let key = lab.write("nginx.key", &leaf.key_pem);
    let port = free_port();
    let workers = std::env::var("BENCH_NGINX_WORKERS").unwrap_or_else(|_| "1".into());
    let conf = lab.write(
        "nginx.conf",
        &format!(
            "daemon off;\nmaster_process on;\nworker_processes {workers};\npid {pid};\nerror_log {err} warn;\nevents {{ worker_connections 4096; }}\nhttp {{\n access_log off;\n client_body_temp_path {tmp};\n server {{\n  listen 127.0.0.1:{port} ssl;\n  server_name *.scale.test;\n  ssl_certificate {chain};\n  ssl_certificate_key {key};\n  ssl_protocols TLSv1.3;\n  location / {{ return 200 \"ok\\n\"; }}\n }}\n}}\n",
            pid = lab.path("nginx.pid").display(),
            err = lab.path("nginx-error.log").display(),
            tmp = lab.path("nginx-body").display(),
            chain = chain.display(),
            key = key.display(),
        ),
    );
    let server = Killed(
        Command::new(nginx)
            .args([
                "-c",
                conf.to_str().unwrap(),
                "-e",
                lab.path("nginx-error.log").to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts"),
    );
    wait_for(port);
    let blackbox = [
        "/usr/bin/prometheus-blackbox-exporter",
        "/usr/bin/blackbox_exporter",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists());
    let counts: Vec<usize> = std::env::var("BENCH_COUNTS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1000, 10_000]);
    let in_lab = Bench::start(64, &[], false).await;
    println!(
        "nginx: {workers} worker(s) (BENCH_NGINX_WORKERS); int-check at its default concurrency (128), curl --parallel-max 128, blackbox_exporter driven 128 probes at a time"
    );
    println!(
        "| endpoints | tool | wall | CPU | CPU per endpoint | peak RSS | server CPU per endpoint |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for count in counts {
        let mut endpoints = Vec::new();
        let mut urls = String::new();
        for i in 0..count {
            let host = format!("h{i}.scale.test");
            lab.dns.point(&host, &[lo(1)]);
            endpoints.push(EndpointSpec::new(
                &format!("h-{i:05}"),
                format!("https://{host}:{port}/"),
            ));
            urls.push_str(&format!(
                "url = \"https://{host}:{port}/\"\noutput = \"/dev/null\"\n"
            ));
        }
        let profile = lab.profile(&format!("nginx-{count}.toml"), &endpoints, "");
        if std::env::var_os("BENCH_KEEP").is_some() {
            println!("nginx up: {BINARY} --profile {}", profile.display());
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        let args: Vec<String> = [
            "--profile",
            profile.to_str().unwrap(),
            "--format",
            "json",
            "-q",
        ]
        .map(String::from)
        .to_vec();
        let repeat = if count >= 10_000 { 3 } else { 5 };
        let row = |tool: &str, cost: &Cost, server_cpu: f64| {
            println!(
                "| {count} | {tool} | {:.2} s | {:.2} s | {:.3} ms | {:.1} MiB | {:.3} ms |",
                cost.wall,
                cost.cpu,
                cost.cpu * 1000.0 / count as f64,
                cost.rss_mib,
                server_cpu * 1000.0 / count as f64
            );
        };
        let env = [("INT_CHECK_HOSTS_FILE", "/nonexistent")];
        let mut samples = Vec::new();
        let mut server_cpu = Vec::new();
        for _ in 0..repeat {
            let before = tree_cpu(server.0.id());
            samples.push(tokio::task::block_in_place(|| cost_of(BINARY, &args, &env)));
            server_cpu.push(tree_cpu(server.0.id()) - before);
        }
        server_cpu.sort_by(f64::total_cmp);
        let cost = median_cost(samples);
        assert_eq!(cost.code, 0, "int-check against nginx failed");
        row("int-check", &cost, server_cpu[server_cpu.len() / 2]);

        // The same count against the in-process lab (its servers share this process: their CPU
        // is not int-check's, and is not counted here either).
        let lab_profile = in_lab.profile(&format!("inlab-{count}.toml"), count);
        let lab_args: Vec<String> = [
            "--profile",
            lab_profile.to_str().unwrap(),
            "--format",
            "json",
            "-q",
        ]
        .map(String::from)
        .to_vec();
        let lab_cost = median_cost(
            (0..repeat)
                .map(|_| tokio::task::block_in_place(|| cost_of(BINARY, &lab_args, &env)))
                .collect(),
        );
        row("int-check, in-process lab", &lab_cost, f64::NAN);

        if Path::new("/usr/bin/curl").exists() {
            let list = lab.write(&format!("curl-{count}.txt"), &urls);
            let curl_args: Vec<String> = [
                "--parallel",
                "--parallel-max",
                "128",
                "--silent",
                "--fail",
                "--tlsv1.3",
                "--cacert",
                lab.root_file.to_str().unwrap(),
                "--connect-to",
                "::127.0.0.1:",
                "--config",
                list.to_str().unwrap(),
            ]
            .map(String::from)
            .to_vec();
            let mut samples = Vec::new();
            let mut server_cpu = Vec::new();
            for _ in 0..repeat {
                let before = tree_cpu(server.0.id());
                samples.push(tokio::task::block_in_place(|| {
                    cost_of("/usr/bin/curl", &curl_args, &[])
                }));
                server_cpu.push(tree_cpu(server.0.id()) - before);
            }
            server_cpu.sort_by(f64::total_cmp);
            let cost = median_cost(samples);
            assert_eq!(cost.code, 0, "curl against nginx failed");
            row(
                "curl --parallel (no DNS)",
                &cost,
                server_cpu[server_cpu.len() / 2],
            );
        } else {
            println!("| {count} | curl | skipped: needs curl | | | | |");
        }

        match blackbox {
            Some(program) => {
                let (cpu, wall) =
                    tokio::task::block_in_place(|| blackbox_probes(program, &lab, port, count));
                println!(
                    "| {count} | blackbox_exporter /probe (no DNS) | {wall:.2} s | {cpu:.2} s | {:.3} ms | | |",
                    cpu * 1000.0 / count as f64
                );
            }
            None => println!(
                "| {count} | blackbox_exporter | skipped: needs prometheus-blackbox-exporter | | | | |"
            ),
        }
    }
    println!(
        "targets: <= 0.5 ms of int-check CPU per endpoint; 10,000 endpoints within 64 MiB against nginx"
    );
}

/// blackbox_exporter probing nginx `count` times, 128 at a time (curl drives /probe; only the
/// exporter's own CPU is counted). Its targets are https://127.0.0.1:PORT/ with the server name
/// in its module, so it does no DNS.
fn blackbox_probes(program: &str, lab: &Lab, port: u16, count: usize) -> (f64, f64) {
    let config = lab.write(
        "blackbox.yml",
        &format!(
            "modules:\n  https:\n    prober: http\n    timeout: 10s\n    http:\n      fail_if_not_ssl: true\n      tls_config:\n        ca_file: {}\n        server_name: h0.scale.test\n        min_version: TLS13\n",
            lab.root_file.display()
        ),
    );
    let listen = free_port();
    let exporter = Killed(
        clean(Command::new(program))
            .args([
                &format!("--config.file={}", config.display()),
                &format!("--web.listen-address=127.0.0.1:{listen}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("blackbox_exporter starts"),
    );
    wait_for(listen);
    let mut urls = String::new();
    for _ in 0..count {
        urls.push_str(&format!(
            "url = \"http://127.0.0.1:{listen}/probe?module=https&target=https://127.0.0.1:{port}/\"\noutput = \"/dev/null\"\n"
        ));
    }
    let list = lab.write("blackbox-probes.txt", &urls);
    let before = process_cpu(exporter.0.id());
    let started = Instant::now();
    let status = clean(Command::new("/usr/bin/curl"))
        .args([
            "--parallel",
            "--parallel-max",
            "128",
            "--silent",
            "--config",
            list.to_str().unwrap(),
        ])
        .stderr(Stdio::null())
        .status()
        .expect("curl drives the exporter");
    assert!(status.success(), "driving blackbox_exporter failed");
    let wall = started.elapsed().as_secs_f64();
    (process_cpu(exporter.0.id()) - before, wall)
}
