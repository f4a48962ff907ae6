//! `check --dry-run` for people: what a run would check, one line per endpoint.

use std::fmt::Write as _;
use std::time::Duration;

use crate::documents::PlanDoc;
use crate::probe::secs;

pub fn human(doc: &PlanDoc) -> String {
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut out = format!(
        "Plan for profile {} ({}): {}, no network used\n",
        doc.profile,
        doc.description,
        count(doc.endpoints.len(), "endpoint", "endpoints")
    );
    let _ = writeln!(
        out,
        "  resolve {} via {}: {}",
        count(doc.hosts.len(), "host", "hosts"),
        doc.resolver,
        doc.hosts.join(", ")
    );
    let _ = writeln!(out, "  trust   {}", doc.trust.source);
    match &doc.identity {
        Some(identity) => {
            let first = if identity.checked {
                ", checked first"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  client  {} (key {}){first}",
                identity.cert, identity.key
            );
            for finding in &identity.findings {
                let _ = writeln!(out, "          {finding}");
            }
        }
        None => out.push_str(
            "  client  none (mutual-TLS endpoints will report tls.client_cert_required)\n",
        ),
    }
    for line in &doc.directory {
        let _ = writeln!(out, "  directory {line}");
    }
    if let Some(mesh) = &doc.mesh {
        let state = if mesh.unset.is_empty() {
            "both set".to_string()
        } else {
            format!(
                "{} not set: the check would fail (mesh.credentials_missing)",
                mesh.unset.join(" and ")
            )
        };
        let _ = writeln!(
            out,
            "  mesh    mailbox {} on {}; password from ${}, shared key from ${}: {state}",
            mesh.mailbox, mesh.endpoint, mesh.password_env, mesh.shared_key_env
        );
    }
    let _ = writeln!(
        out,
        "  timeout {} per phase\n",
        secs(Duration::from_millis(doc.timeout_ms))
    );
    let width = doc
        .endpoints
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0);
    let chain = |endpoint: &crate::documents::PlannedEndpointDoc| {
        let phases: Vec<&str> = endpoint.phases.iter().map(|k| k.as_str()).collect();
        phases.join(" > ")
    };
    let phases_width = doc
        .endpoints
        .iter()
        .map(|e| chain(e).len())
        .max()
        .unwrap_or(0)
        .max(22);
    for endpoint in &doc.endpoints {
        let mtls = if endpoint.mtls { " mtls" } else { "" };
        let _ = writeln!(
            out,
            "  {:<width$}  {:<phases_width$}{mtls}  {}",
            endpoint.name,
            chain(endpoint),
            endpoint.url
        );
        if let Some(trust) = &endpoint.trust {
            let _ = writeln!(out, "  {:<width$}  trust {trust}", "");
        }
        if let Some(proxy) = &endpoint.proxy {
            let _ = writeln!(
                out,
                "  {:<width$}  through the proxy {proxy}, which looks the host up",
                ""
            );
        }
    }
    out
}
