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
    with("+ PII guardrail (input and output)", true, &|c| {
        c["policies"]["guardrails"] = json!([{"type": "pii", "entities": ["email", "credit_card"], "action": "redact"}])
    });
    let path = audit.to_string_lossy().into_owned();
    with("+ audit log (full pipeline)", true, &move |c| c["audit"] = json!({"path": path}));
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
    Value::Object(out)
}
