//! Property tests for everything a hostile or careless author can hand the gateway: config
//! text and trees, requests and call options. Each must come back `Ok` or as a clear error of
//! the expected kind; never a panic (which the core's boundary would turn into `internal`).
//!
//! `cargo test -p sluicegate --test properties` runs a short pass (CI); for a longer search:
//! `PROPTEST_CASES=20000 cargo test --release -p sluicegate --test properties`.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use sluicegate::{CallOptions, Config, ErrorKind, Gateway};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Words the config and request readers look for, so generated trees reach deep paths.
const WORDS: &[&str] = &[
    "providers",
    "deployments",
    "routes",
    "pricing",
    "keys",
    "policies",
    "audit",
    "telemetry",
    "cache",
    "state",
    "type",
    "mock",
    "openai",
    "anthropic",
    "azure_openai",
    "gemini",
    "cohere",
    "api_base",
    "api_key",
    "headers",
    "timeout",
    "script",
    "latency",
    "provider",
    "model",
    "region",
    "rpm",
    "tpm",
    "weight",
    "max_input_tokens",
    "callable",
    "targets",
    "fallbacks",
    "strategy",
    "retry",
    "attempts",
    "backoff",
    "max_backoff",
    "max_retry_after",
    "breaker",
    "rules",
    "when",
    "tags",
    "regions",
    "max_attempts",
    "ttl",
    "sha256",
    "routes",
    "expires",
    "pin_tags",
    "require_key",
    "require_tags",
    "rate_limits",
    "budgets",
    "guardrails",
    "residency",
    "scope",
    "usd",
    "window",
    "on_exceed",
    "fallback",
    "entities",
    "patterns",
    "action",
    "apply_to",
    "path",
    "content",
    "key",
    "backend",
    "url",
    "limits",
    "max_body",
    "max_event",
    "on_unpriced",
    "estimate_with",
    "a",
    "d",
    "chat",
    "p",
    "messages",
    "role",
    "user",
    "assistant",
    "system",
    "tool",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "stream",
    "n",
    "max_tokens",
    "max_completion_tokens",
    "input",
    "tools",
    "image_url",
    "text",
    "30s",
    "1000000000000000000000s",
    "3650d",
    "-1s",
    "1e300",
    "${NOPE}",
    "${NOPE:-x}",
    "redis://127.0.0.1:1/0",
    "http://127.0.0.1:9/v1",
    "day",
    "month",
    "total",
    "block",
    "redact",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(str::to_owned),
        1 => "[a-z_]{0,8}",
        1 => any::<String>(),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        prop::num::f64::NORMAL.prop_map(|f| json!(f)),
        prop::sample::select(vec![0.0, -0.0, 1e300, -1e300, f64::MAX, f64::MIN_POSITIVE, 5e-324])
            .prop_map(|f| json!(f)),
        word().prop_map(Value::String),
    ]
}

fn tree() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A config that starts from a good one, with one branch replaced by a generated tree.
fn near_config() -> impl Strategy<Value = Value> {
    let good = json!({
        "providers": {"p": {"type": "mock"}},
        "deployments": {"d": {"provider": "p", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["d"]}},
        "policies": {"budgets": [{"scope": "global", "usd": 1.0}]}
    });
    (prop::collection::vec(word(), 1..4), tree()).prop_map(move |(path, value)| {
        let mut config = good.clone();
        let mut at = &mut config;
        for (i, key) in path.iter().enumerate() {
            if !at.is_object() {
                *at = json!({});
            }
            let map = at.as_object_mut().expect("an object");
            if i + 1 == path.len() {
                map.insert(key.clone(), value.clone());
                break;
            }
            at = map.entry(key.clone()).or_insert_with(|| json!({}));
        }
        config
    })
}

fn config_outcome(read: impl FnOnce() -> sluicegate::Result<Config>) -> Result<(), TestCaseError> {
    match catch_unwind(AssertUnwindSafe(read)) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.kind == ErrorKind::InvalidConfig => Ok(()),
        Ok(Err(e)) => Err(TestCaseError::fail(format!("not invalid_config: {e}"))),
        Err(_) => Err(TestCaseError::fail("config reading panicked")),
    }
}

const GOOD_YAML: &str = "providers:\n  p: {type: mock}\ndeployments:\n  d: {provider: p, model: gpt-4o}\nroutes:\n  chat: {targets: [d], timeout: 30s, retry: {attempts: 1}}\npolicies:\n  budgets: [{scope: key, usd: 1}]\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn config_trees_never_panic(value in prop_oneof![tree(), near_config()]) {
        config_outcome(|| Config::from_value(value.clone()))?;
        config_outcome(|| Gateway::from_value(value).map(|g| g.config().clone()))?;
    }

    #[test]
    fn config_text_never_panics(text in any::<String>()) {
        config_outcome(|| Config::from_text(&text))?;
    }

    #[test]
    fn edited_yaml_never_panics(at in 0usize..GOOD_YAML.len(), cut in 0usize..8, insert in word()) {
        let mut text = GOOD_YAML.to_owned();
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (at + cut).min(text.len());
        let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(at..end, &insert);
        config_outcome(|| Config::from_text(&text))?;
    }

    #[test]
    fn call_options_are_read_or_invalid_request(value in tree()) {
        match catch_unwind(AssertUnwindSafe(|| CallOptions::from_json(&value))) {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => prop_assert_eq!(e.kind, ErrorKind::InvalidRequest, "{}", e),
            Err(_) => prop_assert!(false, "reading call options panicked"),
        }
    }
}

fn gateway() -> &'static Gateway {
    static GW: std::sync::OnceLock<Gateway> = std::sync::OnceLock::new();
    GW.get_or_init(|| {
        Gateway::from_value(json!({
            "providers": {"p": {"type": "mock"}},
            "deployments": {"d": {"provider": "p", "model": "gpt-4o"},
                            "e": {"provider": "p", "model": "text-embedding-3-small"}},
            "routes": {"chat": {"targets": ["d"]}, "embed": {"targets": ["e"]}},
            "policies": {
                "budgets": [{"scope": "global", "usd": 1000000.0}],
                "guardrails": [{"type": "pii", "action": "redact"}]
            }
        }))
        .expect("the property test's gateway")
    })
}

/// A request that is mostly well formed, with generated parts where a caller could put anything.
fn request() -> impl Strategy<Value = Value> {
    let message = prop_oneof![
        tree(),
        (word(), prop_oneof![word().prop_map(Value::String), tree()])
            .prop_map(|(role, content)| json!({"role": role, "content": content})),
    ];
    (
        prop_oneof![Just(json!("chat")), word().prop_map(Value::String), leaf()],
        prop_oneof![prop::collection::vec(message, 0..4).prop_map(Value::Array), tree()],
        prop::collection::vec((word(), tree()), 0..4),
    )
        .prop_map(|(model, messages, extra)| {
            let mut request = json!({"model": model, "messages": messages});
            for (k, v) in extra {
                if k != "stream" {
                    request[k.as_str()] = v;
                }
            }
            request
        })
}

/// Call options: mostly good keys with generated values (timeouts, ttls, tags).
fn options() -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["timeout", "cache", "tags", "request_id"]),
            tree(),
        ),
        0..3,
    )
    .prop_map(|entries| {
        let mut options = json!({});
        for (k, v) in entries {
            let v = match (k, v) {
                ("cache", v @ Value::Object(_)) | ("cache", v @ Value::Bool(_)) => v,
                ("cache", v) => json!({"ttl": v}),
                (_, v) => v,
            };
            options[k] = v;
        }
        options
    })
}

fn call_outcome(result: sluicegate::Result<Value>) -> Result<(), TestCaseError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.kind == ErrorKind::Internal => Err(TestCaseError::fail(format!("internal: {e}"))),
        Err(e) if e.message.contains("panicked") => Err(TestCaseError::fail(format!("a panic: {e}"))),
        Err(_) => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn chat_requests_are_answered_or_refused_never_panic(request in request(), options in options()) {
        let routed = request["model"] == json!("chat");
        let Ok(options) = CallOptions::from_json(&options) else { return Ok(()) };
        let result = gateway().chat_blocking(request, options);
        if routed && let Err(e) = &result {
            // A request for a known route is answered, or refused as the caller's mistake.
            prop_assert!(
                matches!(e.kind, ErrorKind::InvalidRequest | ErrorKind::GuardrailBlocked),
                "{}", e
            );
        }
        call_outcome(result)?;
    }

    #[test]
    fn embeddings_requests_never_panic(input in tree(), model in prop_oneof![Just(json!("embed")), leaf()]) {
        call_outcome(gateway().embeddings_blocking(json!({"model": model, "input": input}), CallOptions::default()))?;
    }
}
