//! `sluicegate demo`: a built-in config on in-process mock providers (no keys, no network).
//! Sends a few requests, one of which fails over, and shows what the gateway did for each.

use serde_json::{Value, json};
use sluicegate::{CallOptions, Gateway};

/// The demo's config: a route with two targets; the first one fails its second call.
pub const DEMO_CONFIG: &str = r#"
providers:
  openai-mock:
    type: mock
    latency: 20ms
    script:
      gpt-4o-mini: [ {}, { status: 503, error: "overloaded (scripted)" }, {} ]
  anthropic-mock:
    type: mock
    latency: 35ms
deployments:
  mini:   { provider: openai-mock, model: gpt-4o-mini, region: us }
  haiku:  { provider: anthropic-mock, model: claude-haiku-4-5, region: eu }
  local:  { provider: openai-mock, model: my-local-model }
routes:
  chat:  { strategy: priority, targets: [mini, haiku] }
  cheap: { targets: [local] }
"#;

const PROMPTS: [(&str, &str, &str); 5] = [
    ("chat", "search", "What is an embedded gateway?"),
    ("chat", "search", "Summarise the incident report in one line."),
    ("chat", "billing", "Draft a polite reminder about invoice 42."),
    ("cheap", "billing", "Say hello."),
    ("chat", "search", "Stream me a short haiku about rivers."),
];

pub fn run() -> Result<(), String> {
    let gw = Gateway::from_text(DEMO_CONFIG).map_err(|e| e.to_string())?;
    println!(
        "sluicegate {} demo: built-in config on mock providers (no keys, no network)\n",
        sluicegate::VERSION
    );
    println!(
        "{:<3} {:<6} {:<8} {:<7} {:>8} {:>6} {:>7} {:>11} {:>10}  reply",
        "#", "route", "team", "deploy", "attempts", "in", "out", "cost_usd", "latency"
    );
    let mut rows: Vec<Value> = Vec::new();
    for (i, (route, team, prompt)) in PROMPTS.iter().enumerate() {
        let stream = i == PROMPTS.len() - 1;
        let request = json!({"model": route, "messages": [{"role": "user", "content": prompt}], "stream": stream});
        let options = CallOptions::from_json(&json!({"tags": {"team": team}})).map_err(|e| e.to_string())?;
        let (reply, meta) = if stream {
            let mut s = gw.chat_stream_blocking(request, options).map_err(|e| e.to_string())?;
            let mut text = String::new();
            while let Some(chunk) = s.next_blocking() {
                let chunk = chunk.map_err(|e| e.to_string())?;
                text.push_str(
                    chunk
                        .pointer("/choices/0/delta/content")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                );
            }
            (format!("{text} (streamed)"), s.gateway().unwrap_or(Value::Null))
        } else {
            let r = gw.chat_blocking(request, options).map_err(|e| e.to_string())?;
            (
                r.pointer("/choices/0/message/content")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                r["gateway"].clone(),
            )
        };
        let cost = meta["cost_usd"]
            .as_f64()
            .map(|c| format!("{c:.8}"))
            .unwrap_or_else(|| "null".into());
        let mut reply = reply;
        if reply.chars().count() > 48 {
            reply = reply.chars().take(47).collect::<String>() + "…";
        }
        println!(
            "{:<3} {:<6} {:<8} {:<7} {:>8} {:>6} {:>7} {:>11} {:>8.1}ms  {}",
            i + 1,
            route,
            team,
            meta["deployment"].as_str().unwrap_or("-"),
            meta["attempts"].to_string(),
            meta["usage"]["input_tokens"].to_string(),
            meta["usage"]["output_tokens"].to_string(),
            cost,
            meta["latency_ms"].as_f64().unwrap_or(0.0),
            reply
        );
        if meta["attempts"].as_u64() > Some(1) {
            println!(
                "    ↳ fell back: the first target answered 503, so `{}` served it",
                meta["deployment"].as_str().unwrap_or("?")
            );
        }
        rows.push(json!({"team": team, "deployment": meta["deployment"], "cost": meta["cost_usd"], "tokens": meta["usage"]["input_tokens"].as_u64().unwrap_or(0) + meta["usage"]["output_tokens"].as_u64().unwrap_or(0), "overhead_us": meta["overhead_us"]}));
    }
    println!("\nsummary by team");
    println!("{:<8} {:>8} {:>8} {:>12}", "team", "requests", "tokens", "cost_usd");
    let mut teams: Vec<&str> = rows.iter().filter_map(|r| r["team"].as_str()).collect();
    teams.sort();
    teams.dedup();
    for team in teams {
        let mine: Vec<&Value> = rows.iter().filter(|r| r["team"] == team).collect();
        let tokens: u64 = mine.iter().map(|r| r["tokens"].as_u64().unwrap_or(0)).sum();
        let cost: f64 = mine.iter().filter_map(|r| r["cost"].as_f64()).sum();
        let unpriced = mine.iter().filter(|r| r["cost"].is_null()).count();
        let note = if unpriced > 0 {
            format!(" ({unpriced} call(s) on an unpriced model)")
        } else {
            String::new()
        };
        println!("{:<8} {:>8} {:>8} {:>12.8}{}", team, mine.len(), tokens, cost, note);
    }
    let overhead: Vec<u64> = rows.iter().filter_map(|r| r["overhead_us"].as_u64()).collect();
    if let Some(max) = overhead.iter().max() {
        println!("\ngateway overhead per call: at most {max} µs (the rest is the mock's scripted latency)");
    }
    Ok(())
}
