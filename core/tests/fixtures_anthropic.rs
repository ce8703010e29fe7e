//! The Anthropic adapter and the mock provider's Anthropic wire, both checked against fixtures
//! taken from Anthropic's official SDK (`tests/fixtures/providers/anthropic/`, see its SOURCE):
//! encoded requests have the documented shape, documented answers and streams decode to the
//! expected OpenAI output however the stream's bytes are split, and the mock refuses what the
//! real API refuses.

#[path = "common/stream.rs"]
mod common_stream;
use proptest::prelude::*;
use serde_json::{Value, json};
use sluicegate::config::{Config, DeploymentConfig};
use sluicegate::providers::anthropic::Anthropic;
use sluicegate::providers::dialect::Dialect;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/providers/anthropic")
}

fn text(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&text(name)).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

/// The adapter for one deployment of `model`, with extra deployment keys.
fn adapter(model: &str, extra: &Value) -> (Anthropic, DeploymentConfig) {
    let mut deployment = json!({"provider": "p", "model": model});
    for (k, v) in extra.as_object().into_iter().flatten() {
        deployment[k] = v.clone();
    }
    let config = Config::from_value(json!({
        "providers": {"p": {"type": "anthropic", "api_key": "k"}},
        "deployments": {"d": deployment},
        "routes": {"chat": {"targets": ["d"]}},
    }))
    .expect("fixture config loads");
    (
        Anthropic::for_provider(&config.providers["p"]),
        config.deployments["d"].clone(),
    )
}

/// A message's string `content` as the one text block it stands for (the API takes either).
fn normal_form(mut body: Value) -> Value {
    for m in body["messages"].as_array_mut().into_iter().flatten() {
        if let Some(s) = m["content"].as_str() {
            m["content"] = json!([{"type": "text", "text": s}]);
        }
    }
    body
}

#[test]
fn encoded_requests_have_the_documented_shape() {
    let file = fixture("requests.json");
    let model = file["model"].as_str().unwrap();
    for case in file["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (dialect, deployment) = adapter(model, &case["deployment"]);
        let stream = case["stream"] == true;
        let ours = dialect
            .encode(&case["openai"], &deployment, stream)
            .unwrap_or_else(|e| panic!("{name}: encode failed: {e}"));
        assert_eq!(
            normal_form(ours),
            normal_form(case["anthropic"].clone()),
            "case `{name}`: {}",
            case["about"].as_str().unwrap_or("")
        );
    }
}

#[test]
fn requests_the_api_cannot_take_are_invalid_requests_naming_the_field() {
    let file = fixture("requests.json");
    let (dialect, deployment) = adapter(file["model"].as_str().unwrap(), &Value::Null);
    for case in file["invalid"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let err = dialect.encode(&case["openai"], &deployment, false).expect_err(name);
        assert_eq!(err.kind, sluicegate::ErrorKind::InvalidRequest, "{name}: {err}");
        for needle in case["error_contains"].as_array().unwrap() {
            let needle = needle.as_str().unwrap();
            assert!(
                err.message.contains(needle),
                "{name}: `{}` lacks `{needle}`",
                err.message
            );
        }
    }
}

#[test]
fn default_max_tokens_is_not_the_catalog_maximum() {
    // claude-sonnet-4-5 is in the price catalog with 64k output tokens; a call that names no
    // limit must not reserve (and risk paying for) that much.
    let (dialect, deployment) = adapter("claude-sonnet-4-5", &Value::Null);
    let body = dialect
        .encode(
            &json!({"messages": [{"role": "user", "content": "hi"}]}),
            &deployment,
            false,
        )
        .unwrap();
    assert_eq!(body["max_tokens"], 4096);
}

/// The parts of an OpenAI completion the fixtures pin down.
fn plain_facts(out: &Value) -> Value {
    let choice = &out["choices"][0];
    json!({"id": out["id"], "model": out["model"], "finish_reason": choice["finish_reason"],
           "message": choice["message"], "usage": out["usage"]})
}

#[test]
fn documented_responses_decode_to_the_expected_openai_completion() {
    let expected = fixture("decoded.json");
    for name in [
        "response_text.json",
        "response_tool_use.json",
        "response_thinking_cache.json",
    ] {
        let (dialect, deployment) = adapter("claude-haiku-4-5", &Value::Null);
        let out = dialect.decode(fixture(name), &deployment).expect(name);
        assert_eq!(plain_facts(&out), expected[name], "{name}");
    }
}

/// Decodes a stream fed in `pieces`; returns the folded result, or the error text.
fn decode_stream(pieces: &[&[u8]]) -> Result<Value, String> {
    let (dialect, deployment) = adapter("claude-haiku-4-5", &Value::Null);
    let mut decoder = dialect.stream_decoder(&deployment);
    let chunks = common_stream::decode(decoder.as_mut(), pieces).map_err(|e| e.to_string())?;
    Ok(fold(&chunks))
}

/// Chunks folded the way a client reads them (as the contract vectors do).
fn fold(chunks: &[Value]) -> Value {
    let (mut id, mut model, mut content, mut finish, mut usage) =
        (json!(null), json!(null), String::new(), json!(null), json!(null));
    let mut calls: Vec<Value> = Vec::new();
    for c in chunks {
        id = c["id"].clone();
        model = c["model"].clone();
        if !c["usage"].is_null() {
            usage = c["usage"].clone();
        }
        for choice in c["choices"].as_array().into_iter().flatten() {
            let d = &choice["delta"];
            content.push_str(d["content"].as_str().unwrap_or(""));
            if !choice["finish_reason"].is_null() {
                finish = choice["finish_reason"].clone();
            }
            for call in d["tool_calls"].as_array().into_iter().flatten() {
                let i = call["index"].as_u64().unwrap() as usize;
                while calls.len() <= i {
                    calls.push(json!({"id": null, "name": null, "arguments": ""}));
                }
                if let Some(v) = call.get("id").filter(|v| !v.is_null()) {
                    calls[i]["id"] = v.clone();
                }
                if let Some(v) = call.pointer("/function/name").filter(|v| !v.is_null()) {
                    calls[i]["name"] = v.clone();
                }
                let more = call
                    .pointer("/function/arguments")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let joined = format!("{}{more}", calls[i]["arguments"].as_str().unwrap());
                calls[i]["arguments"] = json!(joined);
            }
        }
    }
    json!({"id": id, "model": model, "content": content, "finish_reason": finish, "tool_calls": calls, "usage": usage})
}

const STREAMS: [&str; 3] = ["stream_text.sse", "stream_tool_use.sse", "stream_thinking_cache.sse"];

#[test]
fn documented_streams_decode_to_the_expected_openai_chunks() {
    let expected = fixture("decoded.json");
    for name in STREAMS {
        let got = decode_stream(&[text(name).as_bytes()]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, expected[name], "{name}");
    }
}

#[test]
fn a_tool_call_without_arguments_reads_the_same_plain_and_streamed() {
    let expected = fixture("decoded.json");
    let plain = &expected["response_thinking_cache.json"]["message"]["tool_calls"][0]["function"]["arguments"];
    let streamed =
        &decode_stream(&[text("stream_thinking_cache.sse").as_bytes()]).unwrap()["tool_calls"][0]["arguments"];
    assert_eq!(plain, "{}");
    assert_eq!(streamed, plain);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any split of a transcript decodes to the same result, and nothing panics.
    #[test]
    fn any_split_of_a_stream_decodes_the_same(which in 0usize..3, cuts in proptest::collection::vec(any::<u16>(), 0..12)) {
        let body = text(STREAMS[which]);
        let bytes = body.as_bytes();
        let mut at: Vec<usize> = cuts.iter().map(|c| *c as usize % (bytes.len() + 1)).collect();
        at.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for cut in at {
            pieces.push(&bytes[start..cut]);
            start = cut;
        }
        pieces.push(&bytes[start..]);
        let whole = decode_stream(&[bytes]);
        prop_assert_eq!(decode_stream(&pieces), whole);
    }

    /// A transcript cut anywhere is an error or a result, never a panic.
    #[test]
    fn a_truncated_stream_never_panics(which in 0usize..3, cut in any::<u16>()) {
        let body = text(STREAMS[which]);
        let bytes = body.as_bytes();
        let _ = decode_stream(&[&bytes[..cut as usize % (bytes.len() + 1)]]);
    }
}

// ---- the mock provider against the same fixtures ----

fn with_mock<T>(script: Value, f: impl AsyncFnOnce(String) -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let script = sluicegate::mock::Script::from_value(&script).unwrap();
        let server = sluicegate::mock::MockServer::start(0, script, None).await.unwrap();
        f(server.url()).await
    })
}

async fn post(url: &str, body: &Value) -> (u16, String) {
    let response = sluicegate::runtime::http_client()
        .post(format!("{url}/v1/messages"))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[test]
fn the_mock_refuses_what_the_api_refuses() {
    with_mock(json!({}), async |url: String| {
        for case in fixture("rejected.json").as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let (status, body) = post(&url, &case["body"]).await;
            assert_eq!(status, 400, "{name}: the mock took it: {body}");
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(
                body.pointer("/error/type"),
                Some(&json!("invalid_request_error")),
                "{name}"
            );
            let message = body.pointer("/error/message").and_then(Value::as_str).unwrap();
            assert!(
                message.contains(case["error_contains"].as_str().unwrap()),
                "{name}: {message}"
            );
        }
    });
}

#[test]
fn the_mock_takes_every_documented_request() {
    with_mock(json!({}), async |url: String| {
        for case in fixture("requests.json")["cases"].as_array().unwrap() {
            let (status, body) = post(&url, &case["anthropic"]).await;
            assert_eq!(status, 200, "{}: {body}", case["name"]);
        }
    });
}

/// The keys of an object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    k.sort();
    k
}

#[test]
fn the_mock_answers_in_the_documented_shape() {
    let script = json!({"*": [{"tool_calls": [{"id": "toolu_mock", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}],
                              "usage": {"prompt_tokens": 8028, "completion_tokens": 61, "cached_tokens": 5000, "cache_write_tokens": 3000, "cache_write_1h_tokens": 2000}}]});
    // A cache breakpoint: without one the API (and the mock) reports no cache reads or writes.
    let request = json!({"model": "claude-haiku-4-5", "max_tokens": 100, "cache_control": {"type": "ephemeral"},
                         "messages": [{"role": "user", "content": "time?"}]});
    let (plain, stream) = with_mock(script, async |url: String| {
        let plain = post(&url, &request).await;
        let mut streamed = request.clone();
        streamed["stream"] = json!(true);
        (plain, post(&url, &streamed).await)
    });
    let plain: Value = serde_json::from_str(&plain.1).unwrap();
    let documented = fixture("response_thinking_cache.json");
    let without = |mut v: Vec<String>, gone: &[&str]| {
        v.retain(|k| !gone.contains(&k.as_str()));
        v
    };
    assert_eq!(keys(&plain), keys(&documented));
    // The mock reports no thinking and no region; every other usage field is the API's.
    assert_eq!(
        keys(&plain["usage"]),
        without(
            keys(&documented["usage"]),
            &["output_tokens_details", "inference_geo", "service_tier"]
        )
    );
    assert_eq!(plain["usage"]["cache_creation"], documented["usage"]["cache_creation"]);
    assert_eq!(plain["usage"]["input_tokens"], 28);
    // The mock's stream decodes like the documented one: same tool call, same usage.
    let (dialect, deployment) = adapter("claude-haiku-4-5", &Value::Null);
    let decoded = dialect.decode(plain, &deployment).unwrap();
    let expected = fixture("decoded.json");
    assert_eq!(
        decoded["usage"]["prompt_tokens_details"],
        expected["stream_thinking_cache.sse"]["usage"]["prompt_tokens_details"]
    );
    let folded = decode_stream(&[stream.1.as_bytes()]).unwrap();
    assert_eq!(folded["tool_calls"][0]["arguments"], "{}");
    assert_eq!(
        folded["usage"]["prompt_tokens_details"],
        expected["stream_thinking_cache.sse"]["usage"]["prompt_tokens_details"]
    );
}
