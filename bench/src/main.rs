//! `cargo run --release -p sluicegate-bench [-- --quick]`: what sluicegate adds to a call, as
//! ratios against a direct reqwest call to the same loopback mock server, in the same run.
//! Prints a markdown table and writes `bench/results/rust.json`.
//!
//! The gateway runs its full pipeline: a two-target route, a virtual key, a rate limit, a
//! budget, a PII guardrail on input and output, metering and an audit log.

use futures_util::StreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sluicegate::mock::{MockServer, Script};
use sluicegate::{CallOptions, Gateway};
use std::time::Instant;

mod pipeline;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Sizes {
    sequential: usize,
    concurrent: usize,
    streams: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn summary(mut us: Vec<f64>) -> (f64, f64) {
    us.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&us, 50.0), percentile(&us, 99.0))
}

fn request(stream: bool) -> Value {
    json!({"model": "chat", "messages": [{"role": "user", "content": "Summarise the quarterly report in one line."}], "max_tokens": if stream { 4096 } else { 64 }, "stream": stream})
}

fn gateway(url: &str, audit: &std::path::Path) -> Gateway {
    Gateway::from_value(json!({
        "providers": {"primary": {"type": "openai", "api_base": format!("{url}/v1"), "api_key": "sk-bench-0000"},
                      "backup": {"type": "openai", "api_base": format!("{url}/v1"), "api_key": "sk-bench-0000"}},
        "deployments": {"a": {"provider": "primary", "model": "gpt-4o-mini"}, "b": {"provider": "backup", "model": "gpt-4o"}, "s": {"provider": "primary", "model": "stream-model"}},
        "routes": {"chat": {"targets": ["a", "b"]}, "stream": {"targets": ["s", "b"]}},
        // A budget refuses calls to models without a price: the mock's stream model gets one
        // (gpt-4o-mini's list price).
        "pricing": {"models": {"stream-model": {"input_per_mtok": 0.15, "output_per_mtok": 0.6}}},
        "keys": {"bench": {"sha256": hex::encode(Sha256::digest(b"sk-sg-bench")), "tags": {"team": "bench"}}},
        "policies": {
            "rate_limits": [{"scope": {"tag": "team"}, "rpm": 100_000_000u64}],
            "budgets": [{"scope": {"tag": "team"}, "usd": 1_000_000.0}],
            "guardrails": [{"type": "pii", "entities": ["email", "credit_card"], "action": "redact"}]
        },
        "audit": if std::env::var("BENCH_NO_AUDIT").is_ok() { Value::Null } else { json!({"path": audit.to_string_lossy()}) }
    }))
    .expect("bench config")
}

async fn direct(client: &reqwest::Client, url: &str, stream: bool) -> usize {
    let mut body = request(stream);
    body["model"] = json!("gpt-4o-mini");
    let response = client
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth("sk-bench-0000")
        .json(&body)
        .send()
        .await
        .expect("direct call");
    if !stream {
        let v: Value = response.json().await.expect("json");
        return v["choices"].as_array().map(Vec::len).unwrap_or(0);
    }
    let mut bytes = response.bytes_stream();
    let mut n = 0;
    while let Some(chunk) = bytes.next().await {
        n += chunk.expect("chunk").len();
    }
    n
}

fn options() -> CallOptions {
    CallOptions::from_json(&json!({"key": "sk-sg-bench"})).unwrap()
}

async fn timed<F: std::future::Future<Output = ()>>(f: F) -> f64 {
    let t = Instant::now();
    f.await;
    t.elapsed().as_secs_f64() * 1e6
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    if std::env::args().any(|a| a == "--pipeline") {
        pipeline::run(if quick { 5_000 } else { 50_000 });
        return;
    }
    let sizes = if quick {
        Sizes {
            sequential: 300,
            concurrent: 2_000,
            streams: 10,
        }
    } else {
        Sizes {
            sequential: 3_000,
            concurrent: 20_000,
            streams: 40,
        }
    };
    // The mock runs on its own runtime thread so that it does not share the gateway's workers.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let words = (0..498).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
            let script =
                Script::from_value(&json!({"gpt-4o-mini": [{"reply": "ok"}], "stream-model": [{"reply": words}]}))
                    .unwrap();
            let server = MockServer::start(0, script, None).await.unwrap();
            tx.send(server.url()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let url = rx.recv().unwrap();
    let audit = std::env::temp_dir().join(format!("sluicegate-bench-{}.jsonl", std::process::id()));
    let gw = gateway(&url, &audit);
    let _ = sluicegate::runtime::http_client(); // installs the TLS crypto provider
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let rt = sluicegate::runtime::runtime();

    let results = rt.block_on(async {
        // Warm both paths (connections, caches).
        for _ in 0..200 {
            direct(&client, &url, false).await;
            gw.chat(request(false), options()).await.unwrap();
        }
        let mut d_lat = Vec::new();
        let mut g_lat = Vec::new();
        let mut overhead = Vec::new();
        for _ in 0..sizes.sequential {
            d_lat.push(
                timed(async {
                    direct(&client, &url, false).await;
                })
                .await,
            );
            let t = Instant::now();
            let r = gw.chat(request(false), options()).await.unwrap();
            g_lat.push(t.elapsed().as_secs_f64() * 1e6);
            overhead.push(r["gateway"]["overhead_us"].as_f64().unwrap_or(0.0));
        }
        let (d50, d99) = summary(d_lat);
        let (g50, g99) = summary(g_lat);
        let (o50, o99) = summary(overhead);

        let run_concurrent = |use_gateway: bool| {
            let gw = gw.clone();
            let client = client.clone();
            let url = url.clone();
            async move {
                let t = Instant::now();
                futures_util::stream::iter(0..sizes.concurrent)
                    .for_each_concurrent(64, |_| {
                        let gw = gw.clone();
                        let client = client.clone();
                        let url = url.clone();
                        async move {
                            if use_gateway {
                                gw.chat(request(false), options()).await.unwrap();
                            } else {
                                direct(&client, &url, false).await;
                            }
                        }
                    })
                    .await;
                sizes.concurrent as f64 / t.elapsed().as_secs_f64()
            }
        };
        let d_rps = run_concurrent(false).await;
        let g_rps = run_concurrent(true).await;

        // Streaming: 500 chunks each; per-chunk overhead and added time to first token.
        let mut d_stream = Vec::new();
        let mut g_stream = Vec::new();
        let mut d_ttft = Vec::new();
        let mut g_ttft = Vec::new();
        let mut stream_req = request(true);
        stream_req["model"] = json!("stream-model");
        for _ in 0..sizes.streams {
            let t = Instant::now();
            let response = client
                .post(format!("{url}/v1/chat/completions"))
                .bearer_auth("sk-bench-0000")
                .json(&stream_req)
                .send()
                .await
                .unwrap();
            let mut bytes = response.bytes_stream();
            let mut first = None;
            while let Some(c) = bytes.next().await {
                c.unwrap();
                first.get_or_insert(t.elapsed());
            }
            d_ttft.push(first.unwrap_or_default().as_secs_f64() * 1e6);
            d_stream.push(t.elapsed().as_secs_f64() * 1e6);

            let t = Instant::now();
            let mut greq = request(true);
            greq["model"] = json!("stream");
            let mut s = gw.chat_stream(greq, options()).await.unwrap();
            let mut first = None;
            let mut chunks = 0;
            while let Some(c) = s.next().await {
                c.unwrap();
                chunks += 1;
                first.get_or_insert(t.elapsed());
            }
            assert!(chunks >= 500, "expected a 500-chunk stream, got {chunks}");
            g_ttft.push(first.unwrap_or_default().as_secs_f64() * 1e6);
            g_stream.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let (ds, _) = summary(d_stream);
        let (gs, _) = summary(g_stream);
        let (dt, _) = summary(d_ttft);
        let (gt, _) = summary(g_ttft);
        json!({
            "sequential_calls": sizes.sequential,
            "direct_p50_us": d50, "direct_p99_us": d99, "gateway_p50_us": g50, "gateway_p99_us": g99,
            "added_p50_us": g50 - d50, "added_p99_us": g99 - d99,
            "overhead_us_p50": o50, "overhead_us_p99": o99,
            "c64_direct_rps": d_rps, "c64_gateway_rps": g_rps, "c64_ratio": g_rps / d_rps,
            "stream_chunks": 500, "per_chunk_overhead_us": (gs - ds) / 500.0, "added_ttft_us": gt - dt,
        })
    });
    let _ = std::fs::remove_file(&audit);
    let mut results = results;
    results["translation_us"] = translation(&sizes);
    println!();
    results["pipeline_us"] = pipeline::run(if quick { 5_000 } else { 50_000 });
    println!();
    if let Ok(redis_url) = std::env::var("BENCH_REDIS_URL") {
        results["redis_policy_check"] = redis_check(&url, &redis_url, &sizes);
    }
    let f = |k: &str| results[k].as_f64().unwrap_or(f64::NAN);
    println!("## sluicegate Rust overhead (full pipeline vs direct reqwest, same loopback mock, same run)\n");
    println!("| measure | direct | gateway | added / ratio |");
    println!("|---|---|---|---|");
    println!(
        "| latency p50, c=1 | {:.1} µs | {:.1} µs | +{:.1} µs |",
        f("direct_p50_us"),
        f("gateway_p50_us"),
        f("added_p50_us")
    );
    println!(
        "| latency p99, c=1 | {:.1} µs | {:.1} µs | +{:.1} µs |",
        f("direct_p99_us"),
        f("gateway_p99_us"),
        f("added_p99_us")
    );
    println!(
        "| gateway's own time (overhead_us) p50 / p99 | | {:.1} / {:.1} µs | |",
        f("overhead_us_p50"),
        f("overhead_us_p99")
    );
    println!(
        "| throughput, c=64 | {:.0} req/s | {:.0} req/s | {:.2}x |",
        f("c64_direct_rps"),
        f("c64_gateway_rps"),
        f("c64_ratio")
    );
    println!(
        "| 500-chunk stream: per-chunk overhead | | | {:.2} µs |",
        f("per_chunk_overhead_us")
    );
    println!(
        "| 500-chunk stream: added time to first token | | | {:.1} µs |",
        f("added_ttft_us")
    );
    println!("\n| provider translation (encode + decode, no I/O) | per request |\n|---|---|");
    for (name, us) in results["translation_us"].as_object().into_iter().flatten() {
        println!("| {name} | {:.2} µs |", us.as_f64().unwrap_or(f64::NAN));
    }
    if let Some(r) = results.get("redis_policy_check") {
        println!(
            "\n| policy check on Redis (rate limit + budget) vs in memory | p50 |\n|---|---|\n| added per call (one Lua script: reservations, breakers, peer load) | +{:.1} µs |\n| a bare Redis PING round trip, same server | {:.1} µs |\n| added / PING | {:.2} round trips |",
            r["added_p50_us"].as_f64().unwrap_or(f64::NAN),
            r["ping_p50_us"].as_f64().unwrap_or(f64::NAN),
            r["round_trips"].as_f64().unwrap_or(f64::NAN)
        );
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("rust.json"), serde_json::to_string_pretty(&results).unwrap());
}

/// Microseconds per request to translate a tool-using chat request out and its answer back.
fn translation(sizes: &Sizes) -> Value {
    use sluicegate::providers::dialect::Dialect;
    let config = sluicegate::Config::from_text(
        "providers: {a: {type: anthropic, api_key: k}, g: {type: gemini, api_key: k}, c: {type: cohere, api_key: k}, o: {type: openai, api_key: k}}",
    )
    .unwrap();
    let deployment = sluicegate::config::DeploymentConfig {
        name: "d".into(),
        provider: "a".into(),
        model: "m".into(),
        region: None,
        rpm: None,
        tpm: None,
        weight: 1,
        max_input_tokens: None,
        max_tokens_default: None,
        callable: false,
    };
    let request = json!({"model": "m", "max_tokens": 256, "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is the weather in Paris and in Berlin today?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "14C, cloudy"}],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]});
    let answers = [
        (
            "anthropic",
            json!({"id": "msg_1", "model": "m", "content": [{"type": "text", "text": "Paris is 14C and cloudy."}], "stop_reason": "end_turn", "usage": {"input_tokens": 40, "output_tokens": 9, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}}),
        ),
        (
            "gemini",
            json!({"candidates": [{"content": {"parts": [{"text": "Paris is 14C and cloudy."}], "role": "model"}, "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 9}}),
        ),
        (
            "cohere",
            json!({"id": "c1", "message": {"role": "assistant", "content": [{"type": "text", "text": "Paris is 14C and cloudy."}]}, "finish_reason": "COMPLETE", "usage": {"billed_units": {"input_tokens": 40, "output_tokens": 9}}}),
        ),
        (
            "openai",
            json!({"id": "x", "object": "chat.completion", "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris is 14C and cloudy."}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 40, "completion_tokens": 9}}),
        ),
    ];
    let dialects: Vec<(&str, Box<dyn Dialect>)> = vec![
        (
            "anthropic",
            Box::new(sluicegate::providers::anthropic::Anthropic::for_provider(
                &config.providers["a"],
            )),
        ),
        ("gemini", Box::new(sluicegate::providers::gemini::Gemini)),
        ("cohere", Box::new(sluicegate::providers::cohere::Cohere)),
        (
            "openai",
            Box::new(sluicegate::providers::openai::OpenAi::for_provider(
                &config.providers["o"],
            )),
        ),
    ];
    let n = sizes.sequential * 10;
    let mut out = serde_json::Map::new();
    for ((name, dialect), (_, answer)) in dialects.iter().zip(answers.iter()) {
        let t = Instant::now();
        for _ in 0..n {
            let body = dialect.encode(&request, &deployment, false).unwrap();
            let back = dialect.decode(answer.clone(), &deployment).unwrap();
            std::hint::black_box((body, back));
        }
        out.insert((*name).to_owned(), json!(t.elapsed().as_secs_f64() * 1e6 / n as f64));
    }
    Value::Object(out)
}

/// What a Redis-backed rate limit and budget add per call, against the same policies in memory.
fn redis_check(mock_url: &str, redis_url: &str, sizes: &Sizes) -> Value {
    let config = |state: Value| {
        json!({
            "providers": {"p": {"type": "openai", "api_base": format!("{mock_url}/v1"), "api_key": "sk-bench-0000"}},
            "deployments": {"a": {"provider": "p", "model": "gpt-4o-mini"}},
            "routes": {"chat": {"targets": ["a"]}},
            "state": state,
            "policies": {"rate_limits": [{"scope": "global", "rpm": 100_000_000u64}], "budgets": [{"scope": "global", "usd": 1_000_000.0}]}
        })
    };
    let memory = Gateway::from_value(config(json!({"backend": "memory"}))).unwrap();
    let redis = Gateway::from_value(config(
        json!({"backend": "redis", "url": redis_url, "prefix": format!("bench{}:", std::process::id())}),
    ))
    .unwrap();
    let rt = sluicegate::runtime::runtime();
    rt.block_on(async {
        let run = |gw: Gateway| async move {
            let mut us = Vec::new();
            for _ in 0..sizes.sequential {
                let t = Instant::now();
                gw.chat(request(false), CallOptions::default()).await.unwrap();
                us.push(t.elapsed().as_secs_f64() * 1e6);
            }
            summary(us).0
        };
        for _ in 0..100 {
            redis.chat(request(false), CallOptions::default()).await.unwrap();
        }
        let (m, r) = (run(memory.clone()).await, run(redis.clone()).await);
        // One bare round trip to the same server, for scale: the target is one per call.
        let client = redis::Client::open(redis_url).expect("redis url");
        let mut conn = client.get_multiplexed_async_connection().await.expect("redis connection");
        let mut ping = Vec::new();
        for _ in 0..sizes.sequential {
            let t = Instant::now();
            let _: String = redis::cmd("PING").query_async(&mut conn).await.expect("PING");
            ping.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let ping = summary(ping).0;
        json!({"memory_p50_us": m, "redis_p50_us": r, "added_p50_us": r - m, "ping_p50_us": ping, "round_trips": (r - m) / ping})
    })
}
