//! Budget holes a hostile caller could use (issue 14): every call that reached a provider is
//! charged to its budget, rate limits included, however it ended; the reservation covers the
//! real worst case.

use serde_json::{Value, json};
use sluicegate::{CallOptions, ErrorKind, Gateway};
use std::time::Duration;

/// USD per token of the test model.
const IN: f64 = 2000.0 / 1e6;
const OUT: f64 = 4000.0 / 1e6;

fn gateway(script: Value, policies: Value) -> Gateway {
    Gateway::from_value(json!({
        "providers": {"p": {"type": "mock", "script": {"priced": script}}},
        "deployments": {"d": {"provider": "p", "model": "priced"}},
        "routes": {"chat": {"targets": ["d"], "breaker": false, "timeout": {"total": "300ms"}}},
        "pricing": {"models": {"priced": {"input_per_mtok": 2000.0, "output_per_mtok": 4000.0}}},
        "policies": policies
    }))
    .unwrap()
}

fn chat(stream: bool, max_tokens: u64) -> Value {
    json!({"model": "chat", "stream": stream, "max_tokens": max_tokens,
           "messages": [{"role": "user", "content": "hello there"}]})
}

/// What the budget says is spent, read from the refusal of a call that cannot fit.
fn spent(gw: &Gateway) -> f64 {
    let e = gw
        .chat_blocking(chat(false, 1_000_000), CallOptions::default())
        .expect_err("a call reserving far more than the budget is refused");
    assert_eq!(e.kind, ErrorKind::BudgetExceeded, "{e:?}");
    let used = e.message.split("cannot cover this call: $").nth(1).unwrap();
    used.split(' ').next().unwrap().parse().unwrap()
}

/// Opens a stream, reads it to its finish reason (or one chunk), then drops it.
fn stream_cost(gw: &Gateway, read_to_finish: bool) {
    sluicegate::runtime::runtime().block_on(async {
        let mut s = gw.chat_stream(chat(true, 50), CallOptions::default()).await.unwrap();
        while let Some(chunk) = s.next().await {
            let chunk = chunk.unwrap();
            let finished = chunk.pointer("/choices/0/finish_reason").is_some_and(|f| !f.is_null());
            if finished || !read_to_finish {
                break;
            }
        }
        drop(s);
        tokio::time::sleep(Duration::from_millis(50)).await;
    });
}

#[test]
fn a_stream_dropped_after_finish_reason_is_charged_what_it_cost() {
    let gw = gateway(
        json!([{"reply": "one two three four five six", "chunk_delay": "20ms"}]),
        json!({"budgets": [{"scope": "global", "usd": 10.0}]}),
    );
    stream_cost(&gw, true);
    // 6 prompt tokens (3 + ⌈11/4⌉) and 7 output tokens (⌈27/4⌉), as the mock bills them.
    let cost = 6.0 * IN + 7.0 * OUT;
    let charged = spent(&gw);
    assert!(
        (charged - cost).abs() < 1e-6,
        "the budget was charged ${charged}, the call cost ${cost}"
    );
}

#[test]
fn a_stream_dropped_after_its_first_chunk_is_charged_the_prompt_and_what_was_delivered() {
    let gw = gateway(
        json!([{"reply": "one two three four five six", "chunk_delay": "20ms"}]),
        json!({"budgets": [{"scope": "global", "usd": 10.0}]}),
    );
    stream_cost(&gw, false);
    let charged = spent(&gw);
    // 6 prompt tokens (3 + ⌈11/4⌉) at least.
    assert!(charged >= 6.0 * IN - 1e-9, "charged ${charged}");
}

#[test]
fn a_dropped_stream_counts_against_rpm_and_tpm() {
    let gw = gateway(
        json!([{"reply": "one two three four five six", "chunk_delay": "20ms"}]),
        json!({"rate_limits": [{"scope": "global", "rpm": 1}]}),
    );
    stream_cost(&gw, true);
    let e = gw.chat_blocking(chat(false, 5), CallOptions::default()).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::RateLimited,
        "the dropped stream gave its request back: {e:?}"
    );

    // TPM: 100 a minute; the stream used ~6 prompt + 6 output, the next call needs 6 + 85 + margin.
    let gw = gateway(
        json!([{"reply": "one two three four five six", "chunk_delay": "20ms"}]),
        json!({"rate_limits": [{"scope": "global", "tpm": 100}]}),
    );
    stream_cost(&gw, true);
    let e = gw.chat_blocking(chat(false, 90), CallOptions::default()).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::RateLimited,
        "the dropped stream gave its tokens back: {e:?}"
    );
}

#[test]
fn a_timed_out_call_is_charged_at_least_its_prompt() {
    let gw = gateway(
        json!([{"delay": "2s"}]),
        json!({"budgets": [{"scope": "global", "usd": 10.0}]}),
    );
    let e = gw.chat_blocking(chat(false, 5), CallOptions::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    let charged = spent(&gw);
    assert!(
        charged >= 6.0 * IN - 1e-9,
        "a call the provider was working on cost ${charged}"
    );
}

#[test]
fn a_cancelled_call_is_charged_at_least_its_prompt() {
    let gw = gateway(
        json!([{"delay": "250ms"}]),
        json!({"budgets": [{"scope": "global", "usd": 10.0}]}),
    );
    sluicegate::runtime::runtime().block_on(async {
        let call = gw.chat(chat(false, 5), CallOptions::default());
        assert!(tokio::time::timeout(Duration::from_millis(60), call).await.is_err());
        tokio::time::sleep(Duration::from_millis(20)).await;
    });
    let charged = spent(&gw);
    assert!(
        charged >= 6.0 * IN - 1e-9,
        "a cancelled call the provider received cost ${charged}"
    );
}

/// What the call reserved from its budget (the `gateway.policy` report).
fn reserved(gw: &Gateway, request: Value, embeddings: bool) -> f64 {
    let response = if embeddings {
        gw.embeddings_blocking(request, CallOptions::default())
    } else {
        gw.chat_blocking(request, CallOptions::default())
    }
    .unwrap();
    response
        .pointer("/gateway/policy/budgets/0/reserved")
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{response}"))
}

fn roomy() -> Gateway {
    gateway(
        json!([{"reply": "ok"}]),
        json!({"budgets": [{"scope": "global", "usd": 1000.0}]}),
    )
}

#[test]
fn n_choices_reserve_n_times_the_output() {
    let gw = roomy();
    let one = reserved(&gw, chat(false, 100), false);
    let mut four = chat(false, 100);
    four["n"] = json!(4);
    let four = reserved(&gw, four, false);
    assert!(
        (four - one - 3.0 * 100.0 * OUT).abs() < 1e-9,
        "n=1 reserved ${one}, n=4 ${four}"
    );
}

#[test]
fn tools_names_tool_call_arguments_and_images_are_reserved() {
    let gw = roomy();
    let base = reserved(&gw, chat(false, 1), false);
    let long = "x".repeat(4000);
    let mut tools = chat(false, 1);
    tools["tools"] = json!([{"type": "function", "function": {"name": "lookup", "description": long, "parameters": {"type": "object"}}}]);
    let mut named = chat(false, 1);
    named["messages"][0]["name"] = json!(long);
    let mut args = chat(false, 1);
    args["messages"] = json!([
        {"role": "user", "content": "hello there"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": long}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"}
    ]);
    let mut image = chat(false, 1);
    image["messages"][0]["content"] = json!([{"type": "text", "text": "hello there"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]);
    for (what, request) in [
        ("tools", tools),
        ("a name", named),
        ("tool-call arguments", args),
        ("an image", image),
    ] {
        let r = reserved(&gw, request, false);
        // 1000 tokens of text (or one image) at the input price, with the 1.5 margin.
        assert!(r - base >= 1000.0 * IN, "{what} reserved ${r} against ${base} without");
    }
}

#[test]
fn embeddings_reserve_their_input() {
    let gw = Gateway::from_value(json!({
        "providers": {"p": {"type": "mock"}},
        "deployments": {"e": {"provider": "p", "model": "text-embedding-3-small"}},
        "routes": {"embed": {"targets": ["e"]}},
        "policies": {"budgets": [{"scope": "global", "usd": 10.0}]}
    }))
    .unwrap();
    let r = reserved(&gw, json!({"model": "embed", "input": ["x".repeat(4000)]}), true);
    assert!(r >= 1000.0 * 0.02 / 1e6, "embeddings reserved ${r}");
}

#[test]
fn a_response_without_usage_is_charged_its_estimate() {
    let gw = gateway(
        json!([{"reply": "one two three four five six", "usage": false}]),
        json!({"budgets": [{"scope": "global", "usd": 10.0}]}),
    );
    let response = gw.chat_blocking(chat(false, 50), CallOptions::default()).unwrap();
    assert_eq!(response["gateway"]["usage"]["estimated"], json!(true), "{response}");
    let charged = spent(&gw);
    assert!(
        (charged - (6.0 * IN + 7.0 * OUT)).abs() < 1e-9,
        "a call without usage cost ${charged}"
    );
}

fn unpriced(budget: Value) -> Gateway {
    Gateway::from_value(json!({
        "providers": {"p": {"type": "mock", "script": {"gpt-4o-typo": [{"reply": "one two three four five six"}]}}},
        "deployments": {"d": {"provider": "p", "model": "gpt-4o-typo"}},
        "routes": {"chat": {"targets": ["d"]}},
        "policies": {"budgets": [budget]}
    }))
    .unwrap()
}

#[test]
fn an_unpriced_model_under_a_budget_fails_closed_by_default() {
    let gw = unpriced(json!({"scope": "global", "usd": 1.0}));
    let e = gw.chat_blocking(chat(false, 5), CallOptions::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidConfig, "{e:?}");
    for needle in ["`d`", "gpt-4o-typo", "pricing.models", "on_unpriced"] {
        assert!(e.message.contains(needle), "`{needle}` missing from: {}", e.message);
    }
    assert!(!e.retryable);
    let warnings = gw.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("deployments.d") && w.contains("gpt-4o-typo")),
        "validate must warn about the unpriced deployment: {warnings:?}"
    );
}

#[test]
fn on_unpriced_allow_and_estimate_with() {
    let gw = unpriced(json!({"scope": "global", "usd": 1.0, "on_unpriced": "allow"}));
    gw.chat_blocking(chat(false, 5), CallOptions::default()).unwrap();

    let gw = unpriced(json!({"scope": "global", "usd": 0.01, "on_unpriced": {"estimate_with": "gpt-4o"}}));
    let response = gw.chat_blocking(chat(false, 50), CallOptions::default()).unwrap();
    // Reserved at gpt-4o prices: 9 prompt tokens (6 × 1.5) and 50 output.
    let reserved = response
        .pointer("/gateway/policy/budgets/0/reserved")
        .and_then(Value::as_f64)
        .unwrap();
    assert!(
        (reserved - (9.0 * 2.5e-6 + 50.0 * 1e-5)).abs() < 1e-12,
        "reserved ${reserved}"
    );
    // Charged at gpt-4o prices: 6 prompt and 7 output tokens.
    let e = gw
        .chat_blocking(chat(false, 1_000_000), CallOptions::default())
        .unwrap_err();
    assert!(
        e.message.contains(&format!("${:.6} used", 6.0 * 2.5e-6 + 7.0 * 1e-5)),
        "{}",
        e.message
    );

    let bad = Gateway::from_value(json!({
        "providers": {"p": {"type": "mock"}},
        "deployments": {"d": {"provider": "p", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["d"]}},
        "policies": {"budgets": [{"scope": "global", "usd": 1.0, "on_unpriced": {"estimate_with": "nope"}}]}
    }))
    .err()
    .expect("estimate_with needs a priced model");
    assert_eq!(bad.kind, ErrorKind::InvalidConfig);
    assert!(bad.message.contains("on_unpriced"), "{}", bad.message);
}

#[test]
fn a_stream_cut_off_upstream_before_content_is_charged_its_prompt() {
    // The provider accepted the call (200 and a role chunk), then the connection broke.
    let gw = gateway(
        json!([{"reply": "one two three", "cut_after": 1}]),
        json!({"budgets": [{"scope": "global", "usd": 10.0}]}),
    );
    let opened = sluicegate::runtime::runtime().block_on(gw.chat_stream(chat(true, 5), CallOptions::default()));
    assert!(opened.is_err(), "the stream broke before any content");
    let charged = spent(&gw);
    assert!(
        (charged - 6.0 * IN).abs() < 1e-9,
        "a call the provider accepted cost ${charged}"
    );
}

/// A call that failed after its deployment answered was billed: the audit log, the usage
/// report and the hooks record what the budget was charged, not $0 (recorded = billed).
#[test]
fn a_dropped_stream_is_recorded_at_what_the_budget_was_charged() {
    let dir = std::env::temp_dir().join(format!("sg-recorded-billed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let audit = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&audit);
    let gw = Gateway::from_value(json!({
        "providers": {"p": {"type": "mock", "script": {"priced": [{"reply": "one two three four five six", "chunk_delay": "20ms"}]}}},
        "deployments": {"d": {"provider": "p", "model": "priced"}},
        "routes": {"chat": {"targets": ["d"], "breaker": false}},
        "pricing": {"models": {"priced": {"input_per_mtok": 2000.0, "output_per_mtok": 4000.0}}},
        "policies": {"budgets": [{"scope": "global", "usd": 10.0}]},
        "audit": {"path": audit.to_string_lossy()}
    }))
    .unwrap();
    stream_cost(&gw, false);
    let charged = spent(&gw);
    assert!(charged > 0.0);
    let reported = gw.usage(&json!({})).unwrap();
    let text = std::fs::read_to_string(&audit).unwrap();
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["outcome"], "cancelled", "{line}");
    let recorded = line["cost_usd"].as_f64().unwrap_or(0.0);
    assert!(
        (recorded - charged).abs() < 1e-9,
        "the audit line says ${recorded}, the budget was charged ${charged}: {line}"
    );
    let metered = reported
        .pointer("/groups/0/cost_usd")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    assert!(
        (metered - charged).abs() < 1e-9,
        "usage() says ${metered}, the budget was charged ${charged}: {reported}"
    );
}
