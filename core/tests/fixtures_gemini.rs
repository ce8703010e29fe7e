//! The Gemini adapter and the in-project mock, both held to request/response pairs and stream
//! transcripts recorded from the real API (tests/fixtures/providers/gemini/, see its SOURCE):
//! our encoded request has the documented shape, the documented answers decode to the expected
//! OpenAI output, thought signatures survive the round trip, and the mock accepts what the API
//! accepts, refuses what it refuses and answers in the same shape.

#[path = "common/stream.rs"]
mod common_stream;
use proptest::prelude::*;
use serde_json::{Value, json};
use sluicegate::config::DeploymentConfig;
use sluicegate::providers::dialect::Dialect;
use sluicegate::providers::gemini::{Gemini, signature};
use std::collections::BTreeSet;

fn path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/providers/gemini")
        .join(name)
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path(name)).expect("fixture exists")).expect("fixture is JSON")
}

fn transcript(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).expect("transcript exists")
}

/// A deployment as the config reader builds it (so new config fields need no change here).
fn deployment(model: &str) -> DeploymentConfig {
    let text =
        format!("providers: {{p: {{type: gemini, api_key: k}}}}\ndeployments: {{d: {{provider: p, model: {model}}}}}");
    sluicegate::Config::from_text(&text).expect("config reads").deployments["d"].clone()
}

/// The OpenAI `tools` for a documented Gemini request's `functionDeclarations`.
fn openai_tools(gemini: &Value) -> Value {
    let decls = gemini
        .pointer("/tools/0/functionDeclarations")
        .and_then(Value::as_array)
        .unwrap();
    decls
        .iter()
        .map(|d| {
            let mut f = json!({"name": d["name"], "parameters": d["parametersJsonSchema"]});
            if let Some(desc) = d.get("description") {
                f["description"] = desc.clone();
            }
            json!({"type": "function", "function": f})
        })
        .collect()
}

fn first_text(gemini: &Value) -> Value {
    gemini.pointer("/contents/0/parts/0/text").cloned().unwrap()
}

/// Decodes a whole SSE transcript, fed in `pieces`; chunks with `created` zeroed.
fn decode_stream(pieces: &[&[u8]]) -> sluicegate::Result<Vec<Value>> {
    let mut decoder = Gemini.stream_decoder(&deployment("gemini-2.5-flash"));
    let mut out = common_stream::decode(decoder.as_mut(), pieces)?;
    for chunk in &mut out {
        chunk["created"] = json!(0);
    }
    Ok(out)
}

/// Folds stream chunks into one assistant message per choice index, like a client would.
fn fold(chunks: &[Value]) -> Vec<Value> {
    let mut choices: Vec<Value> = Vec::new();
    for chunk in chunks {
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let i = choice["index"].as_u64().unwrap() as usize;
            while choices.len() <= i {
                choices.push(json!({"content": "", "tool_calls": [], "finish_reason": null}));
            }
            let c = &mut choices[i];
            if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
                c["content"] = json!(format!("{}{text}", c["content"].as_str().unwrap()));
            }
            for call in choice
                .pointer("/delta/tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                c["tool_calls"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"id": call["id"], "type": "function", "function": call["function"]}));
            }
            if !choice["finish_reason"].is_null() {
                c["finish_reason"] = choice["finish_reason"].clone();
            }
        }
    }
    choices
}

#[test]
fn a_strict_tool_schema_goes_out_whole_in_parameters_json_schema() {
    let documented = fixture("tool_json_schema.request.json");
    let request = json!({
        "model": "gemini-2.5-flash",
        "messages": [{"role": "user", "content": first_text(&documented)}],
        "tools": openai_tools(&documented),
        "tool_choice": {"type": "function", "function": {"name": "concatStringFunction"}},
    });
    let ours = Gemini.encode(&request, &deployment("gemini-2.5-flash"), false).unwrap();
    for key in ["contents", "tools", "toolConfig"] {
        assert_eq!(
            ours[key], documented[key],
            "`{key}` differs from the documented request"
        );
    }
    assert!(ours.pointer("/tools/0/functionDeclarations/0/parameters").is_none());
}

fn assert_safe_id(id: &str) {
    assert!(id.starts_with("call_"), "{id}");
    // Anthropic's tool_use ids must match ^[a-zA-Z0-9_-]+$: a fallback must be able to carry them.
    assert!(
        id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "{id}"
    );
}

#[test]
fn parallel_calls_come_back_with_the_signature_on_the_first_call_only() {
    let first = fixture("parallel_calls.request.json");
    let answer = Gemini
        .decode(fixture("parallel_calls.response.json"), &deployment("gemini-2.5-flash"))
        .unwrap();
    let message = answer.pointer("/choices/0/message").cloned().unwrap();
    assert_eq!(answer.pointer("/choices/0/finish_reason"), Some(&json!("tool_calls")));
    let calls = message["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["function"]["name"], "print");
    assert_eq!(
        calls[0]["function"]["arguments"],
        json!({"color": "blue", "text": "hello"}).to_string()
    );
    assert_eq!(calls[1]["function"]["arguments"], "{}");
    for call in calls {
        assert_safe_id(call["id"].as_str().unwrap());
    }
    assert_ne!(calls[0]["id"], calls[1]["id"]);

    let next = fixture("parallel_calls.next_request.json");
    let results = next.pointer("/contents/2/parts").and_then(Value::as_array).unwrap();
    let mut messages = vec![json!({"role": "user", "content": first_text(&first)}), message.clone()];
    for (call, result) in calls.iter().zip(results) {
        messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": result["functionResponse"]["response"].to_string()}));
    }
    let request = json!({"model": "m", "messages": messages, "tools": openai_tools(&first), "tool_choice": "auto"});
    let ours = Gemini.encode(&request, &deployment("gemini-2.5-flash"), false).unwrap();
    assert_eq!(
        ours["contents"], next["contents"],
        "the next turn differs from the documented one"
    );
    assert_eq!(ours["tools"], next["tools"]);
}

#[test]
fn a_streamed_call_keeps_its_signature_into_the_next_turn() {
    let first = fixture("stream_function_call.request.json");
    let chunks = decode_stream(&[&transcript("stream_function_call.sse")]).unwrap();
    let choices = fold(&chunks);
    assert_eq!(choices.len(), 1);
    assert_eq!(choices[0]["finish_reason"], "tool_calls");
    let calls = choices[0]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["function"]["name"], "customDivide");
    assert_safe_id(calls[0]["id"].as_str().unwrap());

    let next = fixture("stream_function_call.next_request.json");
    let request = json!({"model": "m", "tools": openai_tools(&first), "tool_choice": "auto", "messages": [
        {"role": "user", "content": first_text(&first)},
        {"role": "assistant", "content": null, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "{\"output\": 42}"},
    ]});
    let ours = Gemini.encode(&request, &deployment("gemini-2.5-flash"), true).unwrap();
    assert_eq!(
        ours["contents"], next["contents"],
        "the next turn differs from the documented one"
    );
}

#[test]
fn tool_call_ids_are_unique_across_turns() {
    let a = Gemini
        .decode(fixture("parallel_calls.response.json"), &deployment("m"))
        .unwrap();
    let b = Gemini
        .decode(fixture("tool_json_schema.response.json"), &deployment("m"))
        .unwrap();
    let streamed = fold(&decode_stream(&[&transcript("stream_function_call.sse")]).unwrap());
    let mut ids = BTreeSet::new();
    let all = [
        a.pointer("/choices/0/message/tool_calls").cloned().unwrap(),
        b.pointer("/choices/0/message/tool_calls").cloned().unwrap(),
        streamed[0]["tool_calls"].clone(),
    ];
    for call in all.iter().flat_map(|c| c.as_array().unwrap().clone()) {
        let id = call["id"].as_str().unwrap();
        assert!(ids.insert(signature::plain_id(id).to_owned()), "id {id} repeats");
    }
    assert_eq!(ids.len(), 4);
}

#[test]
fn history_the_model_did_not_write_gets_the_documented_placeholder() {
    let request = json!({"model": "m", "messages": [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "toolu_01B09q90qw90lq917835lq9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "22C"},
        {"role": "tool", "tool_call_id": "toolu_01B09q90qw90lq917835lq9", "content": "25C"},
    ]});
    let ours = Gemini
        .encode(&request, &deployment("gemini-3-pro-preview"), false)
        .unwrap();
    let parts = ours.pointer("/contents/1/parts").and_then(Value::as_array).unwrap();
    assert_eq!(parts[0]["thoughtSignature"], signature::PLACEHOLDER);
    assert_eq!(parts[0]["thoughtSignature"], "skip_thought_signature_validator");
    assert!(
        parts[1].get("thoughtSignature").is_none(),
        "only the first call of a step carries one"
    );
    let names: Vec<&Value> = ours
        .pointer("/contents/2/parts")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|p| &p["functionResponse"]["name"])
        .collect();
    assert_eq!(names, [&json!("get_weather"), &json!("get_weather")]);
}

#[test]
fn documented_streams_decode_to_the_expected_text_and_finish() {
    let text = transcript("stream_text.sse");
    let choices = fold(&decode_stream(&[&text]).unwrap());
    let expected: String = String::from_utf8_lossy(&text)
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|e| {
            serde_json::from_str::<Value>(e).unwrap()["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(choices[0]["content"], json!(expected));
    assert!(expected.starts_with("low!") && expected.ends_with("rather than violet."));
    assert_eq!(choices[0]["finish_reason"], "stop");
    let usage = decode_stream(&[&text]).unwrap().last().unwrap()["usage"].clone();
    assert_eq!(usage["prompt_tokens"], 20);
    assert_eq!(
        usage["completion_tokens"],
        253 + 260,
        "thinking tokens count as completion tokens"
    );

    let choices = fold(&decode_stream(&[&transcript("stream_max_tokens.sse")]).unwrap());
    assert_eq!(choices[0]["finish_reason"], "length");
}

/// Every split of each documented transcript decodes to the same chunks, and no bytes panic.
fn transcripts() -> Vec<Vec<u8>> {
    ["stream_text.sse", "stream_function_call.sse", "stream_max_tokens.sse"]
        .iter()
        .map(|n| transcript(n))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_split_of_a_transcript_decodes_the_same(which in 0usize..3, cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12)) {
        let bytes = &transcripts()[which];
        let whole = decode_stream(&[bytes]).unwrap();
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        at.sort_unstable();
        let mut pieces = Vec::new();
        let mut from = 0;
        for cut in at {
            pieces.push(&bytes[from..cut]);
            from = cut;
        }
        pieces.push(&bytes[from..]);
        prop_assert_eq!(decode_stream(&pieces).unwrap(), whole);
    }

    #[test]
    fn damaged_transcripts_never_panic(which in 0usize..3, at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut bytes = transcripts()[which].clone();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let end = cut.index(bytes.len() + 1);
        let _ = decode_stream(&[&bytes[..end]]);
    }
}

/// Every JSON path (array positions folded) in a document.
fn skeleton(v: &Value, at: String, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{at}/{k}");
                out.insert(here.clone());
                skeleton(v, here, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| skeleton(i, format!("{at}/[]"), out)),
        _ => {}
    }
}

fn post(url: &str, body: &Value) -> (u16, String) {
    sluicegate::runtime::runtime().block_on(async {
        let r = sluicegate::runtime::http_client()
            .post(url)
            .header("x-goog-api-key", "k")
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

#[test]
fn the_mock_accepts_refuses_and_answers_like_the_documented_api() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        sluicegate::runtime::runtime().block_on(async move {
            let script = sluicegate::mock::Script::from_value(&json!({"*": [{"tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "print", "arguments": "{\"text\":\"hi\",\"color\":\"blue\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "beep", "arguments": "{}"}}]}]}))
            .unwrap();
            let server = sluicegate::mock::MockServer::start(0, script, None).await.unwrap();
            tx.send(server.url()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let base = rx.recv().unwrap();
    let url = |model: &str, stream: bool| {
        if stream {
            format!("{base}/v1beta/models/{model}:streamGenerateContent?alt=sse")
        } else {
            format!("{base}/v1beta/models/{model}:generateContent")
        }
    };
    // What the API accepted, the mock accepts (Gemini 3 rules included).
    for name in [
        "tool_json_schema.request.json",
        "parallel_calls.next_request.json",
        "stream_function_call.next_request.json",
        "stream_text.request.json",
    ] {
        let (status, body) = post(&url("gemini-3-pro-preview", false), &fixture(name));
        assert_eq!(status, 200, "{name}: {body}");
    }
    // The same tools as OpenAPI `parameters` are refused, as the API refuses them.
    let mut legacy = fixture("tool_json_schema.request.json");
    let decl = legacy.pointer_mut("/tools/0/functionDeclarations/0").unwrap();
    let schema = decl.as_object_mut().unwrap().remove("parametersJsonSchema").unwrap();
    decl["parameters"] = schema;
    let (status, body) = post(&url("gemini-2.5-flash", false), &legacy);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("INVALID_ARGUMENT") && body.contains("Unknown name"),
        "{body}"
    );
    // A Gemini 3 turn without the signature is refused.
    let mut unsigned = fixture("parallel_calls.next_request.json");
    unsigned
        .pointer_mut("/contents/1/parts/0")
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("thoughtSignature");
    let (status, body) = post(&url("gemini-3-pro-preview", false), &unsigned);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("thought_signature"), "{body}");
    // The mock's answers use only fields the documented answers use, signature placement included.
    let mut documented = BTreeSet::new();
    for name in ["tool_json_schema.response.json", "parallel_calls.response.json"] {
        skeleton(&fixture(name), String::new(), &mut documented);
    }
    for name in ["stream_text.sse", "stream_function_call.sse", "stream_max_tokens.sse"] {
        for event in String::from_utf8(transcript(name))
            .unwrap()
            .split("\r\n\r\n")
            .filter_map(|e| e.strip_prefix("data: "))
        {
            skeleton(&serde_json::from_str(event).unwrap(), String::new(), &mut documented);
        }
    }
    let ask = fixture("parallel_calls.request.json");
    let (status, body) = post(&url("gemini-3-pro-preview", false), &ask);
    assert_eq!(status, 200, "{body}");
    let plain: Value = serde_json::from_str(&body).unwrap();
    assert!(
        plain
            .pointer("/candidates/0/content/parts/0/thoughtSignature")
            .is_some(),
        "{plain}"
    );
    assert!(
        plain
            .pointer("/candidates/0/content/parts/1/thoughtSignature")
            .is_none(),
        "{plain}"
    );
    let mut mock = BTreeSet::new();
    skeleton(&plain, String::new(), &mut mock);
    let (status, body) = post(&url("gemini-3-pro-preview", true), &ask);
    assert_eq!(status, 200, "{body}");
    for event in body.split("\r\n\r\n").filter_map(|e| e.strip_prefix("data: ")) {
        skeleton(&serde_json::from_str(event).unwrap(), String::new(), &mut mock);
    }
    let extra: Vec<&String> = mock.difference(&documented).collect();
    assert!(extra.is_empty(), "the mock sends fields the API does not: {extra:?}");
}
