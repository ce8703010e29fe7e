//! `sluicegate-bench --pipeline`: what each stage of the pipeline costs in CPU, with no network
//! at all (the in-process `mock` provider answers at once). Each row adds one stage to the one
//! before, so the differences between rows are what each stage costs per call.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sluicegate::{CallOptions, Gateway};
use std::time::Instant;

fn stages(audit: &std::path::Path) -> Vec<(&'static str, Value, bool)> {
    let base = json!({
        "providers": {"m": {"type": "mock"}},
        "deployments": {"a": {"provider": "m", "model": "gpt-4o-mini"}, "b": {"provider": "m", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["a", "b"]}},
        "keys": {"bench": {"sha256": hex::encode(Sha256::digest(b"sk-sg-bench")), "tags": {"team": "bench"}}},
        // The first stage measures a call without a key; keys make one required by default.
        "policies": {"require_key": false},
    });
    let mut rows = vec![("route only (2 targets), metering", base.clone(), false)];
    let mut with = |name: &'static str, key: bool, edit: &dyn Fn(&mut Value)| {
        let mut cfg = rows.last().unwrap().1.clone();
        edit(&mut cfg);
        rows.push((name, cfg, key));
    };
    with("+ virtual key", true, &|_| {});
    with("+ rate limit", true, &|c| {
        c["policies"]["rate_limits"] = json!([{"scope": {"tag": "team"}, "rpm": 100_000_000u64}])
    });
    with("+ budget", true, &|c| {
        c["policies"]["budgets"] = json!([{"scope": {"tag": "team"}, "usd": 1_000_000.0}])
    });
    with(
        "+ PII guardrail (input and output)",
        true,
        &|c| {
            c["policies"]["guardrails"] =
                json!([{"type": "pii", "entities": ["email", "credit_card"], "action": "redact"}])
        },
    );
    let path = audit.to_string_lossy().into_owned();
    with("+ audit log (full pipeline)", true, &move |c| {
        c["audit"] = json!({"path": path})
    });
    rows
}

/// Microseconds per call (median of 5 batches), for each stage.
pub fn run(calls: usize) -> Value {
    let audit = std::env::temp_dir().join(format!("sluicegate-pipeline-{}.jsonl", std::process::id()));
    let request = json!({"model": "chat", "messages": [{"role": "user", "content": "Summarise the quarterly report in one line."}], "max_tokens": 64});
    let rt = sluicegate::runtime::runtime();
    let mut out = serde_json::Map::new();
    println!("## Pipeline cost per call, no network (in-process mock provider)\n");
    println!("| stage | µs per call | added by the stage |\n|---|---|---|");
    let mut previous: Option<f64> = None;
    for (name, config, key) in stages(&audit) {
        let gw = Gateway::from_value(config).expect("pipeline config");
        let options = if key {
            CallOptions::from_json(&json!({"key": "sk-sg-bench"})).unwrap()
        } else {
            CallOptions::default()
        };
        let us = rt.block_on(async {
            for _ in 0..calls / 5 {
                gw.chat(request.clone(), options.clone()).await.unwrap();
            }
            let mut batches = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                for _ in 0..calls / 5 {
                    gw.chat(request.clone(), options.clone()).await.unwrap();
                }
                batches.push(t.elapsed().as_secs_f64() * 1e6 / (calls / 5) as f64);
            }
            batches.sort_by(|a, b| a.partial_cmp(b).unwrap());
            batches[2]
        });
        let added = previous.map(|p| format!("{:+.1} µs", us - p)).unwrap_or_default();
        println!("| {name} | {us:.1} | {added} |");
        previous = Some(us);
        out.insert(name.to_owned(), json!(us));
    }
    let _ = std::fs::remove_file(&audit);
    out.insert("stream_per_chunk_us".into(), streams(calls / 100));
    Value::Object(out)
}

/// Per-chunk cost of a 500-chunk stream from the in-process mock, without and with the PII
/// guardrail (which holds back and scans text as it streams).
fn streams(streams: usize) -> Value {
    let words = (0..499).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
    let config = |guard: bool| {
        let mut c = json!({
            "providers": {"m": {"type": "mock", "script": {"m": [{"reply": words}]}}},
            "deployments": {"a": {"provider": "m", "model": "m"}},
            "routes": {"chat": {"targets": ["a"]}},
        });
        if guard {
            c["policies"]["guardrails"] =
                json!([{"type": "pii", "entities": ["email", "credit_card"], "action": "redact"}]);
        }
        c
    };
    let request = json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "go"}]});
    let rt = sluicegate::runtime::runtime();
    let mut out = serde_json::Map::new();
    println!("\n| 500-chunk stream, no network | µs per chunk |\n|---|---|");
    for (name, guard) in [("plain", false), ("with PII guardrail", true)] {
        let gw = Gateway::from_value(config(guard)).expect("stream config");
        let us = rt.block_on(async {
            let mut per_chunk = Vec::new();
            for round in 0..streams.max(3) + 1 {
                let t = Instant::now();
                let mut s = gw.chat_stream(request.clone(), CallOptions::default()).await.unwrap();
                let mut n = 0usize;
                while let Some(c) = s.next().await {
                    c.unwrap();
                    n += 1;
                }
                assert!(n >= 500, "a 500-chunk stream, got {n}");
                if round > 0 {
                    per_chunk.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
                }
            }
            per_chunk.sort_by(|a, b| a.partial_cmp(b).unwrap());
            per_chunk[per_chunk.len() / 2]
        });
        println!("| {name} | {us:.2} |");
        out.insert(name.to_owned(), json!(us));
    }
    Value::Object(out)
}
