//! `sluicegate usage AUDIT_FILE [--by team,route,model] [--since 2026-11-01|1h]`: spend and
//! latency from an audit log, as a table (the log is the durable record; `usage()` in the
//! library covers the running process).

use crate::args::{Arg, Args, Outcome, Spec};
use serde_json::{Value, json};
use sluicegate::metrics::{Event, Rollup};
use sluicegate::policy::{audit, clock};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::BufRead;

pub static SPEC: Spec = Spec {
    name: "usage",
    about: "spend, tokens and latency from an audit log, as a table",
    usage: "sluicegate usage AUDIT_FILE [--by team,route,model] [--since DATE|DURATION] [--json]",
};

pub fn run(argv: Vec<OsString>) -> Outcome {
    let mut args = Args::new(&SPEC, argv);
    let (mut file, mut by, mut since, mut as_json) = (
        None,
        vec!["team".to_owned(), "route".to_owned(), "model".to_owned()],
        0.0,
        false,
    );
    while let Some(arg) = args.next()? {
        match arg {
            Arg::Long(o) if o == "by" => by = args.value()?.split(',').map(str::to_owned).collect(),
            Arg::Long(o) if o == "since" => {
                let s = args.value()?;
                since = clock::parse_since(&s)
                    .ok_or_else(|| args.wrong(format!("--since `{s}`: use {}", clock::SINCE_FORMS)))?;
            }
            Arg::Long(o) if o == "json" => as_json = true,
            Arg::Value(v) if file.is_none() => file = Some(std::path::PathBuf::from(v)),
            other => return Err(args.unexpected(other)),
        }
    }
    let file = file.ok_or_else(|| args.missing("the AUDIT_FILE"))?;
    // Streamed: one line (and the one after it) in memory at a time, whatever the log's size.
    let mut rollup = Rollup::whole();
    for path in audit::chain_files(&file) {
        let cannot = |e: std::io::Error| format!("cannot read `{}`: {e}", path.display());
        let mut lines = std::io::BufReader::new(std::fs::File::open(&path).map_err(cannot)?).lines();
        let mut next = lines.next().transpose().map_err(cannot)?;
        while let Some(line) = next.take() {
            next = lines.next().transpose().map_err(cannot)?;
            if line.trim().is_empty() {
                continue;
            }
            let r: Value = match serde_json::from_str(&line) {
                Ok(r) => r,
                // A line torn by a crash: the file's unfinished end (the last line, its newline
                // missing or not), or fenced by the repair record after it.
                Err(_) if next.is_none() => continue,
                Err(_) if next.as_deref().is_some_and(|n| n.contains("\"kind\":\"repair\"")) => continue,
                Err(e) => return Err(format!("`{}`: a line is not JSON: {e}", path.display()).into()),
            };
            if !audit::is_call_record(&r) {
                continue;
            }
            let e = event(&r);
            if e.ts >= since {
                rollup.add(&e);
            }
        }
    }
    let report = rollup.report(&by, since).map_err(|e| e.message)?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        return Ok(());
    }
    let width = by.len() * 14;
    println!(
        "{:<width$} {:>8} {:>7} {:>10} {:>10} {:>12} {:>9} {:>9}",
        by.join(" / "),
        "requests",
        "errors",
        "in_tok",
        "out_tok",
        "cost_usd",
        "p50_ms",
        "p95_ms"
    );
    for g in report["groups"].as_array().into_iter().flatten() {
        let key: Vec<String> = by
            .iter()
            .map(|b| g["group"][b].as_str().unwrap_or("-").to_owned())
            .collect();
        let errors: u64 = g["errors"]
            .as_object()
            .map(|o| o.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        let ms = |p: &str| {
            g["latency_ms"][p]
                .as_f64()
                .map(|v| format!("{v:.1}"))
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "{:<width$} {:>8} {:>7} {:>10} {:>10} {:>12.6} {:>9} {:>9}",
            key.join(" / "),
            g["requests"].to_string(),
            errors,
            g["input_tokens"].to_string(),
            g["output_tokens"].to_string(),
            g["cost_usd"].as_f64().unwrap_or(0.0),
            ms("p50"),
            ms("p95")
        );
    }
    Ok(())
}

/// A call record as a metering event (the dashboard reads records the same way).
pub(crate) fn event(r: &Value) -> Event {
    let text = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
    let n = |p: &str| r.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let tags: BTreeMap<String, String> = r
        .pointer("/principal/tags")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let ts = text("ts")
        .and_then(|t| clock::parse_date(&t[..10.min(t.len())]).map(|d| d as f64 + seconds_of_day(&t)))
        .unwrap_or(0.0);
    Event {
        ts,
        operation: if r["kind"] == json!("embeddings") {
            "embeddings"
        } else {
            "chat"
        },
        key: r.pointer("/principal/key").and_then(Value::as_str).map(str::to_owned),
        tags,
        route: text("route").unwrap_or_default(),
        deployment: text("deployment"),
        provider: text("provider"),
        provider_system: None,
        model: text("model"),
        outcome: text("outcome").unwrap_or_else(|| "ok".into()),
        input_tokens: n("/usage/input_tokens"),
        output_tokens: n("/usage/output_tokens"),
        cached_tokens: n("/usage/cached_tokens"),
        reasoning_tokens: n("/usage/reasoning_tokens"),
        cost_usd: r["cost_usd"].as_f64(),
        latency_ms: r["latency_ms"].as_f64().unwrap_or(0.0),
        ttft_ms: r["ttft_ms"].as_f64(),
        overhead_us: None,
    }
}

/// Seconds since midnight of an RFC 3339 `…THH:MM:SS` timestamp.
fn seconds_of_day(ts: &str) -> f64 {
    let Some(time) = ts.split('T').nth(1) else { return 0.0 };
    let parts: Vec<f64> = time
        .trim_end_matches('Z')
        .split(':')
        .filter_map(|p| p.parse().ok())
        .collect();
    match parts.as_slice() {
        [h, m, s] => h * 3600.0 + m * 60.0 + s,
        _ => 0.0,
    }
}
