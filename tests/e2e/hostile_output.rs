//! Issue 20: a hostile server cannot forge the report. Hostile strings (every control class,
//! bidi, invalid UTF-8, 60 KB values, HTML/Markdown/XML/label specials) served by real TLS and
//! HTTP servers and a raw DNS server, in certificate names, status lines, headers and bodies, and
//! in the profile's own description, through every output format: each output is free of raw
//! control characters, renders as text, and is bounded.

use std::io::Write;
use std::process::Stdio;

use int_check::text::is_hidden;
use int_check_lab::*;
use serde_json::Value;

use crate::dns_hostile::{Misbehaviour, hostile_dns};

/// What attackers send: terminal control (CSI, OSC 52 clipboard, OSC 8 links, CR, backspace,
/// the 8-bit CSI), bidi and zero-width characters, NUL and DEL, and the specials of HTML,
/// Markdown, XML and Prometheus labels.
fn hostile() -> Vec<String> {
    [
        "\x1b[2K\x1b[1;32mPASS\x1b[0m",
        "x\rPASS  tls",
        "\x1b]52;c;cm0gLXJmIH4K\x07",
        "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
        "FAIL\x08\x08\x08\x08PASS",
        "\u{202e}SSAP\u{202c}",
        "nul\0del\x7f",
        "\u{9b}32mPASS",
        "zero\u{200b}width\u{2066}",
        "<img src=x onerror=alert(1)><script>alert(2)</script>",
        "[click](javascript:alert(1)) ![i](https://evil.example/i.png) | x | `y`",
        "]]></failure><testcase name=\"forged\"/>&amp;\"'",
        "label\"} 1\nint_check_up 0\n#",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("{}\x1b[0m", "A".repeat(60_000))])
    .collect()
}

/// An HTTP answer whose status line, headers and body carry `text` (bytes as they are).
fn raw_answer(text: &[u8], in_head: bool) -> Vec<u8> {
    let mut head = b"HTTP/1.1 500 ".to_vec();
    head.extend_from_slice(if in_head { text } else { b"Oops" });
    head.extend_from_slice(b"\r\nServer: ");
    head.extend_from_slice(if in_head { text } else { b"lab" });
    head.extend_from_slice(b"\r\nLocation: ");
    head.extend_from_slice(if in_head { text } else { b"/x" });
    let mut body = b"<soap:Fault>".to_vec();
    body.extend_from_slice(text);
    body.extend_from_slice(b"\xff\xfe</soap:Fault>");
    head.extend_from_slice(
        format!(
            "\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    head.extend_from_slice(&body);
    head
}

/// The characters an output holds that a terminal or viewer would obey rather than show.
fn hidden_in(text: &str) -> Vec<String> {
    text.chars()
        .filter(|c| *c != '\n' && is_hidden(*c))
        .map(|c| format!("U+{:04X}", c as u32))
        .collect()
}

fn longest_string(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(longest_string).max().unwrap_or(0),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| k.len().max(longest_string(v)))
            .max()
            .unwrap_or(0),
        _ => 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_strings_from_servers_never_reach_any_output_raw() {
    int_check_lab::needs!(Promtool, Xmllint);
    let lab = Lab::start().await;
    let strings = hostile();
    let mut endpoints = Vec::new();
    for (i, text) in strings.iter().enumerate() {
        // A certificate chain named by the attacker, under a CA nobody pinned.
        // (A 60 KB name goes in the leaf only: webpki refuses certificates over 64 KiB.)
        let ca_name = if text.len() > 1000 { "Rogue CA" } else { text };
        let rogue = Pki::named(ca_name, ca_name);
        let host = format!("cert{i}.int.test");
        let mut spec = LeafSpec::server(&host);
        spec.cn = text.clone();
        let leaf = rogue.leaf(&spec);
        let addr = tls_server(lo(2), TlsServerSpec::new(&rogue, &leaf)).await;
        lab.dns.point(&host, &[lo(2)]);
        endpoints.push(EndpointSpec::new(
            &format!("cert-{i}"),
            format!("https://{host}:{}/", addr.port()),
        ));
        // The status line, Server and Location headers, and the body.
        for (kind, in_head) in [("head", true), ("body", false)] {
            let host = format!("{kind}{i}.int.test");
            let answer = raw_answer(text.as_bytes(), in_head);
            let addr = lab
                .serve(&host, lo(3), |spec| spec.reply = HttpReply::Raw(answer))
                .await;
            endpoints.push(
                EndpointSpec::new(
                    &format!("{kind}-{i}"),
                    format!("https://{host}:{}/api", addr.port()),
                )
                .with("expect_status = [200]"),
            );
        }
    }
    // A CNAME loop through an `xn--` label that decodes to the 8-bit CSI.
    let punycode = hostile_dns(Misbehaviour::PunycodeLoop).await;
    endpoints.push(EndpointSpec::new("puny", "https://loop.evil.test/"));
    let extra = format!(
        "[[dns.zone]]\nname = \"evil.test\"\nservers = [\"{punycode}\"]\n[run]\nconcurrency = 64"
    );
    let profile = lab.profile("p.toml", &endpoints, &extra);
    // The profile's own description is untrusted text too (a shared profile file).
    let written = std::fs::read_to_string(&profile).unwrap().replace(
        "description = \"test lab\"",
        "description = \"lab \\u001b[32mALL PASS\\u001b[0m \\u202e <b>bold</b>\"",
    );
    std::fs::write(&profile, written).unwrap();

    let formats = ["human", "json", "junit", "markdown", "prometheus", "html"];
    let mut args = vec![
        "--profile".to_string(),
        p(&profile).to_string(),
        "--timeout".into(),
        "3s".into(),
    ];
    for format in formats {
        args.push("--report".into());
        args.push(format!("{format}={}", p(&lab.path(&format!("r.{format}")))));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run(&args).await;
    assert_eq!(run.code, 1, "{}", run.stderr);

    let outputs: Vec<(&str, String)> = formats
        .iter()
        .map(|f| {
            let bytes = std::fs::read(lab.path(&format!("r.{f}"))).unwrap();
            let text = String::from_utf8(bytes)
                .unwrap_or_else(|e| panic!("{f}: the output is not UTF-8: {e}"));
            (*f, text)
        })
        .collect();
    for (format, text) in &outputs {
        let hidden = hidden_in(text);
        assert!(hidden.is_empty(), "{format} holds {hidden:?}");
        // Bounded: 40 endpoints with 60 KB names and headers give reports of a bounded size.
        assert!(text.len() < 3_000_000, "{format}: {} bytes", text.len());
        let longest = text.lines().map(str::len).max().unwrap_or(0);
        let limit = if *format == "json" || *format == "html" || *format == "junit" {
            usize::MAX
        } else {
            12_000
        };
        assert!(longest < limit, "{format}: a line of {longest} bytes");
    }
    let output = |name: &str| &outputs.iter().find(|(f, _)| *f == name).unwrap().1;

    // Human: every attacked endpoint is counted a failure (under its cause, one line each) and
    // the profile's painted description is shown escaped.
    let human = output("human");
    for (i, _) in strings.iter().enumerate() {
        for name in [
            format!("cert-{i}"),
            format!("body-{i}"),
            format!("head-{i}"),
        ] {
            assert!(
                human.lines().any(|l| l.ends_with(&format!(": {name}"))),
                "{name} is listed under its cause"
            );
        }
    }
    assert!(
        human.contains("(lab \\x1b[32mALL PASS\\x1b[0m \\u{202e} <b>bold</b>)"),
        "{}",
        human.lines().next().unwrap_or_default()
    );
    assert!(human.contains(" 0 warned, 43 failed"), "{human}");

    // JSON: valid against its schema, every value bounded, every attacked check failed.
    let json: Value = serde_json::from_str(output("json")).unwrap();
    validate_document(&json);
    let longest = longest_string(&json);
    assert!(longest <= 4096, "a JSON value of {longest} bytes");
    for check in json["checks"].as_array().unwrap() {
        let endpoint = check["endpoint"].as_str().unwrap();
        let kind = check["kind"].as_str().unwrap();
        if endpoint.starts_with("cert-") && kind == "tls"
            || (endpoint.starts_with("head-") || endpoint.starts_with("body-")) && kind == "http"
        {
            assert_eq!(check["status"], "fail", "{check:#}");
        }
    }
    let body = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["endpoint"] == "body-0" && c["kind"] == "http")
        .unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("\\x1b[2K\\x1b[1;32mPASS"),
        "{body:#}"
    );
    let big = strings.len() - 1;
    let chain_subject = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["endpoint"] == format!("cert-{big}") && c["kind"] == "tls")
        .and_then(|c| c["details"]["chain"][0]["subject"].as_str())
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        chain_subject.is_empty() || chain_subject.contains(" bytes)"),
        "a 60 KB subject is cut and says so: {chain_subject}"
    );

    // Markdown: no raw HTML, links or images from the servers; our own table stays a table.
    let markdown = output("markdown");
    for (at, c) in markdown.match_indices(['<', '[', ']']) {
        if c != "<" {
            assert!(markdown[..at].ends_with('\\'), "a live link at {at}");
            continue;
        }
        let own = ["<details>", "<summary>", "</summary>", "</details>"]
            .iter()
            .any(|tag| markdown[at..].starts_with(tag));
        assert!(
            own || markdown[..at].ends_with('\\'),
            "raw HTML at {at}: {}",
            &markdown[at..(at + 40).min(markdown.len())]
        );
    }

    // HTML: nothing from a server becomes markup.
    let html = output("html");
    assert!(!html.contains("<img") && !html.contains("<script>alert"));

    // JUnit: well-formed, valid, and no forged test case.
    let junit = lab.path("r.junit");
    let xmllint = std::process::Command::new("xmllint")
        .args([
            "--noout",
            "--schema",
            concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/junit.xsd"),
        ])
        .arg(&junit)
        .output()
        .expect("xmllint is needed: apt-get install -y libxml2-utils (.ci/run does this)");
    assert!(
        xmllint.status.success(),
        "{}",
        String::from_utf8_lossy(&xmllint.stderr)
    );
    assert!(!output("junit").contains("<testcase name=\"forged\""));

    // Prometheus: promtool accepts it, and no label forged a series.
    let prometheus = output("prometheus");
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is needed: apt-get install -y prometheus (.ci/run does this)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(prometheus.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    let complaints = String::from_utf8_lossy(&checked.stderr);
    // promtool lints names and help texts too; only a parse error matters here.
    assert!(
        !complaints.contains("error while linting")
            && !complaints.contains("text format parsing error"),
        "{complaints}"
    );
    assert!(!prometheus.lines().any(|l| l.starts_with("int_check_up 0")));
    for line in prometheus.lines() {
        assert!(line.len() < 8192, "a metric line of {} bytes", line.len());
    }
}
