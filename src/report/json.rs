//! `--format json`: the `int-check.report.v1` schema documented in the README.

use serde_json::{Value, json};

use crate::findings::Report;

pub const SCHEMA: &str = "int-check.report.v1";

pub fn to_value(report: &Report) -> Value {
    let summary = report.summary();
    let checks: Vec<Value> = report
        .checks
        .iter()
        .map(|c| {
            json!({
                "endpoint": c.endpoint,
                "kind": c.kind.as_str(),
                "target": c.target,
                "address": c.address.map(|a| a.to_string()),
                "status": c.status.as_str(),
                "reason": c.reason.map(|r| r.code()),
                "message": c.message,
                "hint": c.hint(),
                "duration_ms": c.duration.as_millis() as u64,
                "details": c.details,
            })
        })
        .collect();
    let endpoints: Vec<Value> = report
        .endpoints
        .iter()
        .map(|e| json!({"name": e.name, "url": e.url}))
        .collect();
    json!({
        "schema": SCHEMA,
        "version": report.tool_version,
        "profile": report.profile,
        "description": report.description,
        "started_at": report.started_at.to_string(),
        "duration_ms": report.duration.as_millis() as u64,
        "summary": {
            "pass": summary.pass,
            "warn": summary.warn,
            "fail": summary.fail,
            "skip": summary.skip,
            "total": summary.total(),
        },
        "maintenance": report.maintenance.to_json(),
        "endpoints": endpoints,
        "checks": checks,
    })
}

pub fn render(report: &Report) -> String {
    let mut text =
        serde_json::to_string_pretty(&to_value(report)).expect("a JSON value serialises");
    text.push('\n');
    text
}
