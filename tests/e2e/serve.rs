//! `int-check serve` with the real things: a real Prometheus scraping it (both patterns) and
//! evaluating the shipped alert rules and every dashboard query; promtool's rule tests; the
//! status page rendered by headless Chromium; the probe bound, a silent target, SIGTERM during a
//! run; TLS and basic auth on the listener.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use int_check_lab as lab;
use lab::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONTRIB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib");

/// A running `int-check serve`, killed when dropped.
struct Serve {
    child: Child,
    port: u16,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    /// Reads stderr into `log` until the process closes it.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Serve {
    /// Starts the binary with `args` on an ephemeral loopback port and waits for its listening line.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Serve {
        let mut cmd = binary();
        for (k, v) in env {
            cmd.env(k, v);
        }
        Serve::start_with(cmd, args)
    }

    /// [`Serve::start`] with the command given (the binary under a wrapper such as `prlimit`).
    fn start_with(mut cmd: Command, args: &[&str]) -> Serve {
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args);
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("int-check serve starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let keep = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // Logged before the port is handed over, so a test that got the port sees the line.
                keep.lock().unwrap().push_str(&format!("{line}\n"));
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let port = rest
                        .split("://")
                        .nth(1)
                        .and_then(|r| r.split('/').next())
                        .and_then(|a| a.rsplit(':').next())
                        .and_then(|p| p.parse::<u16>().ok());
                    let _ = tx.send(port);
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(20))
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no listening line: {}", log.lock().unwrap()));
        Serve {
            child,
            port,
            log,
            reader: Some(reader),
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits for the exit, at most `within`: the exit code and the whole log.
    async fn terminate(&mut self, within: Duration) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let sent = Instant::now();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                sent.elapsed() < within,
                "still running {within:?} after SIGTERM: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        (status.code(), self.log_after_exit())
    }

    /// The whole log of a process that has exited: its last lines may still be on their way
    /// through the pipe, so the reader is waited for.
    fn log_after_exit(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.log()
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        get(self.port, path, headers).await
    }

    /// Waits until /-/ready says so (the first scheduled run has finished).
    async fn ready(&self) {
        let started = Instant::now();
        while self.get("/-/ready", &[]).await.0 != 200 {
            assert!(started.elapsed() < Duration::from_secs(30), "never ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET over a raw socket: status and body.
async fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    // Not listening yet (a server starting): status 0.
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return (0, String::new());
    };
    // HTTP/1.0: the answer comes whole, never chunked.
    let mut request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    // A peer that refuses the request (plain HTTP to the TLS listener) may reset the connection:
    // that is status 0 too, not a panic in the test.
    if stream.write_all(request.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The lab: `good` (a healthy HTTPS endpoint) and `bad` (nothing listening).
async fn two_endpoints(lab: &Lab) -> std::path::PathBuf {
    let good = lab.serve("good.int.test", lo(1), |_| {}).await;
    let closed = closed_port(lo(1)).await;
    lab.dns.point("bad.int.test", &[lo(1)]);
    lab.profile(
        "serve.toml",
        &[
            EndpointSpec::new("good", format!("https://good.int.test:{}/", good.port()))
                .with("service = \"spine-core\""),
            EndpointSpec::new("bad", format!("https://bad.int.test:{closed}/")),
        ],
        "",
    )
}

/// A real Prometheus scraping `serve` every second, both patterns, with the shipped rules.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    async fn start(target_port: u16) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        // The shipped scrape config itself, pointed at this exporter and its two endpoints, with
        // intervals a test can wait for: its relabelling is what is tested.
        let shipped = std::fs::read_to_string(format!("{CONTRIB}/prometheus/scrape.yml")).unwrap();
        assert!(shipped.contains("127.0.0.1:10036") && shipped.contains("scrape_interval: 60s"));
        let scrape = shipped
            .replace("127.0.0.1:10036", &format!("127.0.0.1:{target_port}"))
            .replace("scrape_interval: 60s", "scrape_interval: 1s")
            .replace("scrape_timeout: 15s", "scrape_timeout: 1s")
            .replace(
                r#"["spine-reliable", "sds-ldaps", "mesh-internet"]"#,
                r#"["good", "bad"]"#,
            );
        let config = format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             rule_files: [\"{CONTRIB}/prometheus/int-check.rules.yml\"]\n{scrape}"
        );
        let file = dir.path().join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (Debian's package; .ci/run installs it)");
        let prometheus = Prometheus {
            child,
            port,
            _dir: dir,
        };
        let started = Instant::now();
        while get(port, "/-/ready", &[]).await.0 != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "Prometheus never ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        prometheus
    }

    async fn query(&self, expr: &str) -> Value {
        let encoded: String = url::form_urlencoded::byte_serialize(expr.as_bytes()).collect();
        let (status, body) = get(self.port, &format!("/api/v1/query?query={encoded}"), &[]).await;
        let json: Value = serde_json::from_str(&body)
            .unwrap_or_else(|_| panic!("Prometheus answered {status}: {body}"));
        json
    }

    /// Waits until `expr` has a result, and returns its first value.
    async fn value(&self, expr: &str) -> f64 {
        let started = Instant::now();
        loop {
            let json = self.query(expr).await;
            if let Some(value) = json["data"]["result"][0]["value"][1].as_str() {
                return value.parse().unwrap();
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no series for {expr}: {json}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_prometheus_scrapes_both_patterns_and_runs_every_dashboard_query() {
    let lab = Lab::start().await;
    let profile = two_endpoints(&lab).await;
    let serve = Serve::start(&["--profile", p(&profile), "--interval", "1s"], &[]);
    serve.ready().await;
    let prometheus = Prometheus::start(serve.port).await;

    assert_eq!(
        prometheus
            .value(r#"int_check_up{job="int-check",endpoint="good",kind="tls"}"#)
            .await,
        1.0
    );
    assert_eq!(
        prometheus
            .value(r#"int_check_failure_info{job="int-check",endpoint="bad",kind="tcp",reason="tcp.refused"}"#)
            .await,
        1.0
    );
    assert_eq!(
        prometheus
            .value(r#"probe_success{job="int-check-probe",instance="good"}"#)
            .await,
        1.0
    );
    assert_eq!(
        prometheus
            .value(r#"probe_success{job="int-check-probe",instance="bad"}"#)
            .await,
        0.0
    );
    assert!(
        prometheus
            .value(r#"probe_ssl_earliest_cert_expiry{instance="good"}"#)
            .await
            > 1.7e9
    );
    assert_eq!(
        prometheus
            .value(r#"probe_http_status_code{instance="good"}"#)
            .await,
        200.0
    );
    assert!(prometheus.value("int_check_exporter_runs_total").await >= 1.0);
    // The shipped rules load and evaluate (the maintenance one is idle here).
    let (_, rules) = get(prometheus.port, "/api/v1/rules", &[]).await;
    let rules: Value = serde_json::from_str(&rules).unwrap();
    let names: Vec<&str> = rules["data"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"IntCheckEndpointDown"), "{rules}");
    assert!(
        rules["data"]["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["health"] == "ok" || r["health"] == "unknown"),
        "{rules}"
    );

    // Every query of the shipped dashboard runs without error and (for the data this lab
    // produces) returns series.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{CONTRIB}/grafana/int-check-dashboard.json")).unwrap(),
    )
    .unwrap();
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$instance", ".*")
                .replace("$__rate_interval", "1m");
            let json = prometheus.query(&expr).await;
            assert_eq!(json["status"], "success", "{}: {json}", panel["title"]);
            queries += 1;
        }
    }
    assert!(queries >= 10);

    // No label clash: the probe job's relabelling leaves int-check's own `endpoint` label alone
    // (a clash shows as `exported_endpoint`), and the probe's series carry the endpoint probed.
    assert_eq!(
        prometheus
            .value(r#"count({exported_endpoint=~".+"}) or vector(0)"#)
            .await,
        0.0
    );
    assert_eq!(
        prometheus
            .value(r#"count(int_check_up{job="int-check-probe",instance="good",endpoint!="good"}) or vector(0)"#)
            .await,
        0.0
    );
    // No double counting: the dashboard's totals are the scheduled run's, whatever /probe adds
    // (both jobs scrape the same exporter).
    let (_, metrics) = get(serve.port, "/metrics", &[]).await;
    let run_total: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("int_check_checks{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(run_total > 0.0, "{metrics}");
    let by_status = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .filter_map(|t| t["expr"].as_str())
        .find(|e| e.contains("sum by (status) (int_check_checks"))
        .expect("the dashboard's checks-by-status query")
        .replace("$instance", ".*");
    assert_eq!(
        prometheus.value(&format!("sum({by_status})")).await,
        run_total,
        "the dashboard counts {by_status} over both jobs"
    );
    assert!(
        prometheus
            .value(r#"sum by (reason) (int_check_failure_info{instance=~".*"})"#)
            .await
            >= 1.0
    );
}

#[test]
fn promtool_tests_the_alert_rules() {
    lab::needs!(Promtool);
    let out = Command::new("promtool")
        .args(["test", "rules", "int-check.rules.test.yml"])
        .current_dir(format!("{CONTRIB}/prometheus"))
        .output()
        .expect("promtool (Debian's prometheus package; .ci/run installs it)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("promtool")
        .args(["check", "rules", "int-check.rules.yml"])
        .current_dir(format!("{CONTRIB}/prometheus"))
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_are_bounded_and_a_silent_target_blocks_nothing_else() {
    let lab = Lab::start().await;
    let silent = silent_server(lo(1)).await;
    lab.dns.point("silent.int.test", &[lo(1)]);
    let profile = lab.profile(
        "silent.toml",
        &[EndpointSpec::new(
            "silent",
            format!("https://silent.int.test:{}/", silent.port()),
        )],
        "",
    );
    let serve = Serve::start(
        &[
            "--profile",
            p(&profile),
            "--interval",
            "60s",
            "--max-probes",
            "4",
            "--timeout",
            "10s",
        ],
        &[],
    );
    // 50 scrapes of the silent target at once, each allowed 2 s.
    let port = serve.port;
    let started = Instant::now();
    let probes: Vec<_> = (0..50)
        .map(|_| {
            tokio::spawn(async move {
                get(
                    port,
                    "/probe?endpoint=silent",
                    &[("X-Prometheus-Scrape-Timeout-Seconds", "2")],
                )
                .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile the exporter answers everything else: /metrics comes back while four probes are
    // still in flight (an ordering, not a stopwatch).
    let (status, metrics) = serve.get("/metrics", &[]).await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("int_check_exporter_probes_in_flight 4"),
        "{metrics}"
    );
    let mut codes = Vec::new();
    for probe in probes {
        let (status, body) = probe.await.unwrap();
        if status == 200 {
            // Within the scrape timeout minus the margin: a run.deadline, not a hang.
            assert!(body.contains("probe_success 0"), "{body}");
            assert!(body.contains("run.deadline"), "{body}");
        }
        codes.push(status);
    }
    // Every probe ended at its scrape's deadline (run.deadline above), before the 10 s timeout.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let served = codes.iter().filter(|c| **c == 200).count();
    let rejected = codes.iter().filter(|c| **c == 503).count();
    assert_eq!(served + rejected, 50, "{codes:?}");
    assert!(served >= 4 && rejected >= 40, "{codes:?}");
    let (_, metrics) = serve.get("/metrics", &[]).await;
    assert!(
        metrics.contains(&format!(
            "int_check_exporter_probes_total{{result=\"rejected\"}} {rejected}"
        )),
        "{metrics}"
    );
    // Unknown endpoints and arbitrary targets are refused: no open proxy.
    assert_eq!(serve.get("/probe?endpoint=nope", &[]).await.0, 404);
    assert_eq!(
        serve.get("/probe?target=https://example.org/", &[]).await.0,
        403
    );
    assert_eq!(
        serve
            .get("/probe?endpoint=silent&profile=other", &[])
            .await
            .0,
        404
    );
    // debug=true adds the human report as comments.
    let (_, debug) = serve
        .get(
            "/probe?endpoint=silent&debug=true",
            &[("X-Prometheus-Scrape-Timeout-Seconds", "1")],
        )
        .await;
    assert!(debug.lines().any(|l| l.starts_with("# silent")), "{debug}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_run_stops_cleanly() {
    let lab = Lab::start().await;
    let silent = silent_server(lo(1)).await;
    lab.dns.point("silent.int.test", &[lo(1)]);
    let profile = lab.profile(
        "silent.toml",
        &[EndpointSpec::new(
            "silent",
            format!("https://silent.int.test:{}/", silent.port()),
        )],
        "",
    );
    let mut serve = Serve::start(&["--profile", p(&profile), "--timeout", "30s"], &[]);
    // The first run is waiting on the silent server: not ready.
    assert_eq!(serve.get("/-/ready", &[]).await.0, 503);
    assert_eq!(serve.get("/-/healthy", &[]).await.0, 200);
    let (code, log) = serve.terminate(Duration::from_secs(5)).await;
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("stopping"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_and_basic_auth_on_the_listener() {
    lab::needs!(Curl);
    let lab = Lab::start().await;
    let profile = two_endpoints(&lab).await;
    // The hash comes from the binary; the password goes in on stdin only.
    let mut hasher = binary()
        .args(["serve", "--hash-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(hasher.stdin.as_mut().unwrap(), b"correct horse\n").unwrap();
    let out = hasher.wait_with_output().unwrap();
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(hash.starts_with("pbkdf2-sha256$"), "{hash}");
    let (cert, key) = lab.identity_with(&lab.pki, &LeafSpec::server("localhost"));
    let web = lab.write(
        "web.toml",
        &format!(
            "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n[basic_auth_users]\nprometheus = \"{hash}\"\n",
            p(&cert),
            p(&key)
        ),
    );
    let serve = Serve::start(
        &[
            "--profile",
            p(&profile),
            "--web-config",
            p(&web),
            "--interval",
            "1s",
        ],
        &[],
    );
    assert!(
        serve.log().contains("listening on https://"),
        "{}",
        serve.log()
    );
    let curl = |auth: Option<&str>| {
        let mut cmd = Command::new("curl");
        // Straight to the listener, whatever proxy the user's environment names.
        cmd.args(["--noproxy", "*"])
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&lab.root_file)
            .arg(format!("https://localhost:{}/metrics", serve.port));
        if let Some(auth) = auth {
            cmd.args(["-u", auth]);
        }
        String::from_utf8(cmd.output().expect("curl").stdout).unwrap()
    };
    assert_eq!(curl(None), "401");
    assert_eq!(curl(Some("prometheus:wrong")), "401");
    // A refusal takes as long for a user that does not exist as for one that does: its time
    // does not tell which users exist (the fastest of five each: the code's cost, not the load).
    // Interleaved, so that load on the machine falls on both alike.
    let once = |auth: &str| {
        let started = Instant::now();
        assert_eq!(curl(Some(auth)), "401");
        started.elapsed().as_secs_f64()
    };
    let (mut known, mut unknown) = (f64::MAX, f64::MAX);
    for _ in 0..7 {
        known = known.min(once("prometheus:wrong"));
        unknown = unknown.min(once("nobody:wrong"));
    }
    assert!(
        (0.8..=1.25).contains(&(unknown / known)),
        "unknown user {unknown:.4}s, known user {known:.4}s"
    );
    assert_eq!(curl(Some("prometheus:correct horse")), "200");
    // Plain HTTP to a TLS listener gets nothing useful.
    let (status, _) = serve.get("/metrics", &[]).await;
    assert_ne!(status, 200);
    let log = serve.log();
    assert!(
        !log.contains("correct horse") && !log.contains(&hash),
        "{log}"
    );
}

/// The status page, rendered by a real browser (headless Chromium): the DOM has a row per lab
/// endpoint, coloured cells and the failure's reason; a screenshot is kept as an artefact.
#[tokio::test(flavor = "multi_thread")]
async fn the_status_page_renders_in_a_real_browser() {
    lab::needs!(Chromium);
    let lab = Lab::start().await;
    let profile = two_endpoints(&lab).await;
    let serve = Serve::start(&["--profile", p(&profile), "--interval", "1s"], &[]);
    serve.ready().await;
    let url = format!("http://127.0.0.1:{}/", serve.port);
    let profile_dir = tempfile::tempdir().unwrap();
    let browser = |extra: &[&str]| {
        let out = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile_dir.path().display()))
            .args(extra)
            .arg(&url)
            .output()
            .expect("chromium (Debian's package; .ci/run installs it)");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let dom = browser(&["--dump-dom"]);
    assert!(dom.contains("<table id=\"endpoints\">"), "{dom}");
    assert!(
        dom.contains("data-endpoint=\"good\"") && dom.contains("data-endpoint=\"bad\""),
        "{dom}"
    );
    assert!(dom.contains("tcp.refused"), "{dom}");
    assert!(dom.contains("class=\"fail\" data-phase=\"tcp\""), "{dom}");
    assert!(dom.contains("class=\"pass\" data-phase=\"tls\""), "{dom}");
    assert!(
        dom.contains("available"),
        "the maintenance state of spine-core: {dom}"
    );
    let artefacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("artefacts");
    std::fs::create_dir_all(&artefacts).unwrap();
    let shot = artefacts.join("serve-status-page.png");
    let _ = std::fs::remove_file(&shot);
    browser(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1400,500",
    ]);
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 1000)
            .unwrap_or(false),
        "no screenshot at {}",
        shot.display()
    );
}

/// Scheduled runs also judge your registration (real slapd), and a chain that fails
/// verification still shows every certificate's expiry.
#[tokio::test(flavor = "multi_thread")]
async fn scheduled_runs_judge_your_registration_and_untrusted_chains() {
    lab::needs!(Slapd);
    use lab::slapd::{Slapd, SlapdOptions, supplier_ldif};
    let lab = Lab::start().await;
    let options = SlapdOptions {
        extra_ldif: supplier_ldif(
            "mhs.xyz.int.test",
            "https://mhs.xyz.int.test/reliablemessaging",
        ),
        ..SlapdOptions::default()
    };
    let slapd = tokio::task::block_in_place(|| Slapd::start(&lab, lo(1), options));
    lab.dns.point("ldap.int.test", &[lo(1)]);
    // A server whose chain comes from a PKI the profile does not trust.
    let stranger = Pki::g2();
    let leaf = stranger.leaf(&LeafSpec::server("stranger.int.test"));
    let addr = tls_server(lo(3), TlsServerSpec::new(&stranger, &leaf)).await;
    lab.dns.point("stranger.int.test", &[lo(3)]);
    let profile = lab.profile(
        "registered.toml",
        &[
            EndpointSpec::new(
                "sds",
                format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
            ),
            EndpointSpec::new(
                "stranger",
                format!("https://stranger.int.test:{}/", addr.port()),
            ),
        ],
        "",
    );
    // A certificate for another name than the records register.
    let (cert, key) = lab.client_identity(&lab.pki, "old.xyz.int.test");
    let config = lab.write(
        "mine.toml",
        &format!(
            "[client]\ncert = \"{}\"\nkey = \"{}\"\nparty_key = \"XYZ-0000101\"\n",
            p(&cert),
            p(&key)
        ),
    );
    let serve = Serve::start(
        &[
            "--profile",
            p(&profile),
            "--config",
            p(&config),
            "--interval",
            "1s",
        ],
        &[],
    );
    serve.ready().await;
    let (_, metrics) = serve.get("/metrics", &[]).await;
    assert!(
        metrics.contains(r#"int_check_failure_info{endpoint="client-registration",kind="registration",reason="registration.fqdn_mismatch"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("int_check_client_cert_not_after_seconds "),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with(r#"int_check_cert_not_after_seconds{endpoint="stranger""#)),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with(r#"int_check_failure_info{endpoint="stranger",kind="tls""#)),
        "{metrics}"
    );
    let (_, page) = serve.get("/", &[]).await;
    assert!(page.contains("registration.fqdn_mismatch"), "{page}");
    drop(slapd);
}

/// Scheduled runs are whole runs, as `check` makes them: your own endpoint as Spine will reach
/// it (here it asks for no client certificate) and, with `[discovery]` on, what the directory
/// registers; both in /metrics and on the status page (real slapd).
#[tokio::test(flavor = "multi_thread")]
async fn scheduled_runs_probe_your_endpoint_and_what_the_directory_registers() {
    lab::needs!(Slapd);
    use lab::slapd::{SUPPLIER_PARTY_KEY, Slapd, SlapdOptions, supplier_ldif};
    const FQDN: &str = "mhs.xyz.int.test";
    let lab = Lab::start().await;
    let served = lab.serve(FQDN, lo(2), |_| {}).await;
    lab.dns.point(FQDN, &[lo(2)]);
    let url = format!("https://{FQDN}:{}/reliablemessaging", served.port());
    let options = SlapdOptions {
        extra_ldif: supplier_ldif(FQDN, &url),
        ..SlapdOptions::default()
    };
    let slapd = tokio::task::block_in_place(|| Slapd::start(&lab, lo(1), options));
    lab.dns.point("ldap.int.test", &[lo(1)]);
    let profile = lab.profile(
        "whole.toml",
        &[EndpointSpec::new(
            "sds",
            format!("ldaps://ldap.int.test:{}", slapd.addr.port()),
        )],
        &format!("party_key = \"{SUPPLIER_PARTY_KEY}\"\n[discovery]\nenabled = true"),
    );
    let (cert, key) = lab.client_identity(&lab.pki, FQDN);
    let config = lab.write(
        "whole-config.toml",
        &format!(
            "[client]\ncert = \"{}\"\nkey = \"{}\"\nfqdn = \"{FQDN}\"\nparty_key = \"{SUPPLIER_PARTY_KEY}\"\n",
            p(&cert),
            p(&key)
        ),
    );
    let serve = Serve::start(
        &[
            "--profile",
            p(&profile),
            "--config",
            p(&config),
            "--interval",
            "1s",
        ],
        &[],
    );
    serve.ready().await;
    let (_, metrics) = serve.get("/metrics", &[]).await;
    let inbound = "inbound:mhs.xyz.int.test/reliablemessaging";
    assert!(
        metrics.contains(&format!(
            r#"int_check_failure_info{{endpoint="{inbound}",kind="inbound",reason="inbound.no_client_cert_request"}} 1"#
        )),
        "{metrics}"
    );
    let up = |endpoint: &str, kind: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    r#"int_check_up{{endpoint="{endpoint}",kind="{kind}""#
                ))
            })
            .map(|l| l.ends_with(" 1"))
    };
    assert_eq!(up("directory-discovery", "ldap"), Some(true), "{metrics}");
    assert_eq!(
        up("directory:mhs.xyz.int.test/reliablemessaging", "tls"),
        Some(true),
        "{metrics}"
    );
    assert_eq!(
        up("client-registration", "registration"),
        Some(true),
        "{metrics}"
    );
    let (_, page) = serve.get("/", &[]).await;
    assert!(
        page.contains(&format!("data-endpoint=\"{inbound}\""))
            && page.contains("inbound.no_client_cert_request"),
        "{page}"
    );
    drop(slapd);
}

/// A scrape Prometheus gives up on (it closes the connection at its timeout) is counted out at
/// once: the in-flight gauge does not drift, and SIGTERM does not wait for it.
#[tokio::test(flavor = "multi_thread")]
async fn an_abandoned_probe_is_counted_out_at_once() {
    let lab = Lab::start().await;
    let silent = silent_server(lo(1)).await;
    lab.dns.point("silent.int.test", &[lo(1)]);
    let profile = lab.profile(
        "abandoned.toml",
        &[EndpointSpec::new(
            "silent",
            format!("https://silent.int.test:{}/", silent.port()),
        )],
        "",
    );
    let mut serve = Serve::start(
        &[
            "--profile",
            p(&profile),
            "--interval",
            "60s",
            "--timeout",
            "30s",
        ],
        &[],
    );
    let in_flight = |metrics: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("int_check_exporter_probes_in_flight "))
            .map(str::to_string)
    };
    let mut client = tokio::net::TcpStream::connect(("127.0.0.1", serve.port))
        .await
        .unwrap();
    client
        .write_all(b"GET /probe?endpoint=silent HTTP/1.1\r\nHost: x\r\nX-Prometheus-Scrape-Timeout-Seconds: 30\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let (_, metrics) = serve.get("/metrics", &[]).await;
        if in_flight(&metrics).as_deref() == Some("1") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{metrics}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(client);
    let dropped = Instant::now();
    loop {
        let (_, metrics) = serve.get("/metrics", &[]).await;
        if in_flight(&metrics).as_deref() == Some("0") {
            break;
        }
        assert!(
            dropped.elapsed() < Duration::from_secs(3),
            "still counted 3 s after its client left: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, metrics) = serve.get("/metrics", &[]).await;
    assert!(
        metrics.contains("int_check_exporter_probes_total{result=\"abandoned\"} 1\n")
            && metrics.contains("int_check_exporter_probes_total{result=\"done\"} 0\n"),
        "{metrics}"
    );
    // Nothing is left to drain: SIGTERM ends it at once.
    let (code, log) = serve.terminate(Duration::from_secs(3)).await;
    assert_eq!(code, Some(0), "{log}");
}

/// `?target=` as a query value.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Issue 20: `--allow-target` is matched on the parsed URL. Every known way to smuggle another
/// host past a `*` (path, fragment, query, userinfo, backslash, more labels) is refused, and a
/// canary listening where those URLs lead is never reached; refusals and debug output quote the
/// request escaped.
#[tokio::test(flavor = "multi_thread")]
async fn allow_target_bypasses_never_reach_the_canary() {
    let lab = Lab::start().await;
    let profile = two_endpoints(&lab).await;
    let allowed = lab.serve("x.allowed.test", lo(1), |_| {}).await;
    let port = allowed.port();
    // The canary listens on the same port on another address: only the host differs.
    let canary = tokio::net::TcpListener::bind((lo(9), port)).await.unwrap();
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = reached.clone();
    tokio::spawn(async move {
        while let Ok((_stream, _)) = canary.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    lab.dns.point("canary.test", &[lo(9)]);
    let pattern = format!("https://*.allowed.test:{port}/*");
    let serve = Serve::start(
        &[
            "--profile",
            p(&profile),
            "--allow-target",
            &pattern,
            "--interval",
            "60m",
        ],
        &[],
    );
    for bypass in [
        format!("https://canary.test:{port}/.allowed.test/"),
        format!("https://canary.test:{port}#.allowed.test/"),
        format!("https://canary.test:{port}?.allowed.test/"),
        format!("https://x.allowed.test:{port}@canary.test:{port}/"),
        format!("https://x.allowed.test@canary.test:{port}/"),
        format!("https://canary.test:{port}\\.allowed.test/"),
        format!("https://x.allowed.test.canary.test:{port}/"),
        format!("https://127.0.0.9:{port}/"),
    ] {
        let (status, body) = serve
            .get(&format!("/probe?target={}", encoded(&bypass)), &[])
            .await;
        assert_eq!(status, 403, "{bypass} was probed: {body}");
    }
    let (status, body) = serve
        .get(
            &format!(
                "/probe?target={}",
                encoded(&format!("https://x.allowed.test:{port}/any/path"))
            ),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("probe_success 1"), "{body}");
    assert_eq!(
        reached.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the canary was reached"
    );
    // A refusal quotes the request shown escaped, never its control bytes.
    let (status, body) = serve
        .get("/probe?endpoint=%1B%5B2K%1B%5B32mPASS%E2%80%AE", &[])
        .await;
    assert_eq!(status, 404);
    assert!(
        body.contains("\\x1b[2K\\x1b[32mPASS\\u{202e}") && !body.contains('\x1b'),
        "{body}"
    );
}

/// Issue 20: idle connections cannot starve the exporter. Under a lowered descriptor limit
/// (256), 2,000 idle connections are held open; `/metrics` and `/-/healthy` still answer within
/// a second each, and the accept loop does not spin.
#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_cannot_take_every_descriptor() {
    let lab = Lab::start().await;
    let profile = two_endpoints(&lab).await;
    let mut limited = Command::new("prlimit");
    limited
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("INT_CHECK_HOSTS_FILE", "/nonexistent/hosts")
        .arg("--nofile=256:256")
        .arg(binary_path());
    let serve = Serve::start_with(limited, &["--profile", p(&profile), "--interval", "1s"]);
    serve.ready().await;
    // A helper holds the connections (it raises its own soft limit as far as its hard limit
    // lets it), so this test's own descriptors are not the ones measured.
    let mut holder = Command::new("python3")
        .args([
            "-c",
            r#"
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 2000 + 64
if hard == resource.RLIM_INFINITY or hard >= want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
held = []
for _ in range(2000):
    s = socket.socket()
    s.settimeout(10)
    try:
        s.connect(("127.0.0.1", int(sys.argv[1])))
    except OSError:
        break
    held.append(s)
print(len(held), flush=True)
sys.stdin.read()
"#,
            &serve.port.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 holds the connections");
    let mut line = String::new();
    BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let held: usize = line.trim().parse().unwrap();
    assert!(held >= 1000, "the helper held only {held} connections");
    let cpu_before = cpu_ticks(serve.child.id());
    let measured = Instant::now();
    for path in ["/metrics", "/-/healthy", "/metrics"] {
        let started = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(1), serve.get(path, &[])).await;
        assert!(
            matches!(answer, Ok((200, _))),
            "{path} did not answer within 1 s with {held} idle connections: {answer:?}\n{}",
            serve.log()
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let spent = cpu_ticks(serve.child.id()) - cpu_before;
    let wall_ticks = measured.elapsed().as_secs_f64() * 100.0;
    // A spinning accept loop would take a whole core (ticks == wall time).
    assert!(
        (spent as f64) < wall_ticks * 0.5,
        "the exporter used {spent} of {wall_ticks:.0} ticks"
    );
    drop(holder.stdin.take());
    let _ = holder.wait();
}

/// User and system CPU time of a process, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime); after the name, state is the first.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Issue 22: the MESH API asks for one handshake a day; `serve` makes at most one per
/// --mesh-interval (default 6h) whatever its run interval, and shows the last result and its
/// age in between, on /metrics and the status page.
#[tokio::test(flavor = "multi_thread")]
async fn the_mesh_handshake_is_made_once_per_mesh_interval() {
    let lab = Lab::start().await;
    let server = MeshLab::new("X26OT181", "pw-serve", "sk-serve", 0);
    let handshakes = server.handshakes.clone();
    let addr = lab
        .serve("mesh.int.test", lo(1), |spec| {
            spec.reply = HttpReply::Mesh(server)
        })
        .await;
    let profile = lab.profile(
        "mesh-serve.toml",
        &[EndpointSpec::new(
            "mesh",
            format!(
                "https://mesh.int.test:{}/messageexchange/_ping",
                addr.port()
            ),
        )],
        "[mesh]\nmailbox = \"X26OT181\"\npassword_env = \"LAB_MESH_PASSWORD\"\nshared_key_env = \"LAB_MESH_KEY\"\n",
    );
    let serve = Serve::start(
        &["--profile", p(&profile), "--interval", "1s"],
        &[
            ("LAB_MESH_PASSWORD", "pw-serve"),
            ("LAB_MESH_KEY", "sk-serve"),
        ],
    );
    serve.ready().await;
    // Three more scheduled runs.
    let runs = |metrics: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with("int_check_exporter_runs_total"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let started = Instant::now();
    loop {
        let (_, metrics) = serve.get("/metrics", &[]).await;
        if runs(&metrics) >= 4.0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        handshakes.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one handshake for four runs"
    );
    let (_, metrics) = serve.get("/metrics", &[]).await;
    let age_line = metrics
        .lines()
        .find(|l| l.starts_with("int_check_mesh_handshake_age_seconds{endpoint=\"mesh\"}"))
        .unwrap_or_else(|| panic!("no handshake age: {metrics}"));
    assert!(
        age_line.ends_with(" 0")
            || age_line
                .split_whitespace()
                .last()
                .unwrap()
                .parse::<u64>()
                .is_ok()
    );
    let (_, page) = serve.get("/", &[]).await;
    assert!(page.contains("handshake made"), "{page}");
    // /probe obeys the same interval: the scrape does not make a handshake either.
    let (status, body) = serve.get("/probe?endpoint=mesh", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(handshakes.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// Issue 23: `serve` honours the config's `[run]` settings as `check` does: with `concurrency = 1`
/// three silent endpoints are probed one after another, so a scheduled run lasts at least three
/// TLS timeouts (it took one when the setting was ignored). A lower bound: robust under load.
#[tokio::test(flavor = "multi_thread")]
async fn serve_honours_the_run_settings_of_the_config() {
    let lab = Lab::start().await;
    let mut endpoints = Vec::new();
    for i in 0..3u8 {
        let addr = silent_server(lo(20 + i)).await;
        let host = format!("silent{i}.int.test");
        lab.dns.point(&host, &[lo(20 + i)]);
        endpoints.push(EndpointSpec::new(
            &format!("silent{i}"),
            format!("https://{host}:{}/", addr.port()),
        ));
    }
    let profile = lab.profile("serial.toml", &endpoints, "[run]\nconcurrency = 1\n");
    let serve = Serve::start(
        &[
            "--profile",
            p(&profile),
            "--interval",
            "60s",
            "--timeout",
            "1s",
        ],
        &[],
    );
    serve.ready().await;
    let (_, metrics) = serve.get("/metrics", &[]).await;
    let duration: f64 = metrics
        .lines()
        .find(|l| l.starts_with("int_check_exporter_last_run_duration_seconds "))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(
        duration >= 2.9,
        "three silent endpoints one at a time took {duration} s"
    );
}

/// Issue 25: `serve` fetches the client certificate's revocation list once and keeps it until
/// its nextUpdate (30 days here), however many scheduled runs judge the identity; the revoked
/// certificate is reported by every run.
#[tokio::test(flavor = "multi_thread")]
async fn a_fetched_revocation_list_is_kept_until_its_next_update() {
    lab::needs!(Openssl);
    let lab = Lab::start().await;
    let listener = tokio::net::TcpListener::bind((lo(1), 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut spec = LeafSpec::client("revoked.int.test");
    spec.crl_url = Some(format!("http://127.0.0.1:{port}/subca.crl"));
    let (cert, key) = lab.identity_with(&lab.pki, &spec);
    let crl = std::fs::read(crate::faults::revocation_lists(
        &lab,
        "revoked.int.test.pem",
        "current",
    ))
    .unwrap();
    let (_, asked) = crate::certs::distribution_point(listener, crl);
    let profile = two_endpoints(&lab).await;
    let serve = Serve::start(
        &[
            "--profile",
            p(&profile),
            "--interval",
            "1s",
            "--client-cert",
            p(&cert),
            "--client-key",
            p(&key),
        ],
        &[],
    );
    serve.ready().await;
    let runs = |metrics: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with("int_check_exporter_runs_total"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let started = Instant::now();
    let metrics = loop {
        let (_, metrics) = serve.get("/metrics", &[]).await;
        if runs(&metrics) >= 3.0 {
            break metrics;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        metrics.contains(r#"reason="cert.revoked""#),
        "every run reports the revoked certificate: {metrics}"
    );
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one fetch for three runs"
    );
}
