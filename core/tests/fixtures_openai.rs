//! Fidelity of the OpenAI-wire adapter (OpenAI, Azure OpenAI, Mistral) against fixtures taken
//! from the providers' own material (`tests/fixtures/providers/<provider>/SOURCE` names each):
//! the body and URL we send for a documented request, what documented answers and recorded
//! streams decode to, and the mock provider held to the same fixtures so it cannot drift.

#[path = "common/stream.rs"]
mod common_stream;
use serde_json::{Value, json};
use sluicegate::Config;
use sluicegate::mock::{MockServer, Script};
use sluicegate::providers::dialect::{Dialect, StreamDecoder};
use sluicegate::providers::openai::OpenAi;
use sluicegate::providers::sse::SseParser;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn dir(provider: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/providers")
        .join(provider)
}

fn read(provider: &str, file: &str) -> String {
    std::fs::read_to_string(dir(provider).join(file)).unwrap_or_else(|e| panic!("{provider}/{file}: {e}"))
}

fn read_json(provider: &str, file: &str) -> Value {
    serde_json::from_str(&read(provider, file)).unwrap_or_else(|e| panic!("{provider}/{file}: {e}"))
}

/// `base` with `patch`'s keys set (a null removes the key).
fn merged(base: &Value, patch: Option<&Value>) -> Value {
    let mut out = base.clone();
    for (k, v) in patch.and_then(Value::as_object).into_iter().flatten() {
        if v.is_null() {
            out.as_object_mut().unwrap().remove(k);
        } else {
            out[k] = v.clone();
        }
    }
    out
}

/// A config with provider `p` and deployment `d` of `model`.
fn config(provider: &Value, model: &str) -> Config {
    Config::from_value(
        json!({"providers": {"p": provider}, "deployments": {"d": {"provider": "p", "model": model}},
                              "routes": {"route": {"targets": ["d"]}}}),
    )
    .expect("fixture config loads")
}

/// Every event of an SSE transcript, decoded into OpenAI chunks (the decoder must end cleanly).
fn decode_stream(decoder: &mut dyn StreamDecoder, bytes: &[u8]) -> Vec<Value> {
    common_stream::decode(decoder, &[bytes]).expect("every event decodes and the stream ends cleanly")
}

/// What a caller would see of a stream, in the fixtures' `expect` terms.
fn fold(chunks: &[Value]) -> Value {
    let (mut content, mut finish, mut usage) = (String::new(), Value::Null, Value::Null);
    let mut calls: Vec<Value> = Vec::new();
    let mut usage_with_choices = false;
    for chunk in chunks {
        if !chunk["usage"].is_null() {
            usage = json!({"prompt_tokens": chunk["usage"]["prompt_tokens"], "completion_tokens": chunk["usage"]["completion_tokens"]});
            usage_with_choices |= chunk["choices"].as_array().is_some_and(|c| !c.is_empty());
        }
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            content += choice["delta"]["content"].as_str().unwrap_or("");
            if !choice["finish_reason"].is_null() {
                finish = choice["finish_reason"].clone();
            }
            for call in choice["delta"]["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"].as_u64().expect("tool call index") as usize;
                if calls.len() <= index {
                    calls.resize(index + 1, json!({"id": null, "name": "", "arguments": ""}));
                }
                let slot = &mut calls[index];
                if let Some(id) = call["id"].as_str() {
                    slot["id"] = json!(id);
                }
                let name =
                    slot["name"].as_str().unwrap_or("").to_owned() + call["function"]["name"].as_str().unwrap_or("");
                slot["name"] = json!(name);
                let args = slot["arguments"].as_str().unwrap_or("").to_owned()
                    + call["function"]["arguments"].as_str().unwrap_or("");
                slot["arguments"] = json!(args);
            }
        }
    }
    json!({"content": content, "finish_reason": finish, "usage": usage, "tool_calls": calls,
           "usage_chunk_has_choices": usage_with_choices})
}

/// Each key of `expect` must equal the same key of `got` (`content_starts_with` and `choices`
/// are checked by the caller).
fn check_expect(name: &str, got: &Value, expect: &Value) {
    for (k, v) in expect.as_object().unwrap() {
        if k == "content_starts_with" {
            let content = got["content"].as_str().unwrap_or("");
            assert!(content.starts_with(v.as_str().unwrap()), "{name}: content {content:?}");
        } else if k != "choices" {
            assert_eq!(&got[k], v, "{name}: `{k}`");
        }
    }
}

/// A plain answer folded like a stream, for the same checks.
fn fold_body(body: &Value) -> Value {
    let choice = &body["choices"][0];
    let calls: Vec<Value> = choice["message"]["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| json!({"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}))
        .collect();
    json!({"content": choice["message"]["content"].as_str().unwrap_or(""), "finish_reason": choice["finish_reason"],
           "usage": {"prompt_tokens": body["usage"]["prompt_tokens"], "completion_tokens": body["usage"]["completion_tokens"]},
           "tool_calls": calls})
}

/// The request, expected wire body and URL of one case (`example` files are Azure spec examples).
fn case_parts(provider: &str, file: &Value, case: &Value, model: &str) -> (Value, Value, String) {
    if let Some(example) = case["example"].as_str() {
        let body = &read_json(provider, example)["parameters"]["body"];
        let request = merged(
            &merged(body, Some(&json!({"model": "route"}))),
            case.get("request_extra"),
        );
        let wire = merged(&merged(body, Some(&json!({"model": model}))), case.get("wire_extra"));
        return (request, wire, case["url"].as_str().unwrap().to_owned());
    }
    let wire = match case["wire_from"].as_str() {
        Some(f) => read_json(provider, f)["request"].clone(),
        None => case["wire"].clone(),
    };
    (case["request"].clone(), wire, file["url"].as_str().unwrap().to_owned())
}

fn run_cases(provider: &str) -> usize {
    let file = read_json(provider, "cases.json");
    let model = file["model"].as_str().unwrap();
    let mut checked = 0;
    for case in file["cases"].as_array().unwrap() {
        let name = format!("{provider}: {}", case["name"].as_str().unwrap());
        let config = config(&merged(&file["provider"], case.get("provider")), model);
        let (p, d) = (&config.providers["p"], &config.deployments["d"]);
        let dialect = OpenAi::for_provider(p);
        let (request, wire, url) = case_parts(provider, &file, case, model);
        let stream = request["stream"] == true;
        let mut sent = request.clone();
        sent["model"] = json!(model);
        let encoded = dialect.encode(&sent, d, stream).expect("encodes");
        assert_eq!(encoded, wire, "{name}: the body we send");
        assert_eq!(dialect.chat_url(p, d, stream), url, "{name}: the URL");
        let response = match (
            case["response"].as_str(),
            case["response_from"].as_str(),
            case["example"].as_str(),
        ) {
            (Some(f), _, _) => Some(read_json(provider, f)),
            (_, Some(f), _) => Some(read_json(provider, f)["response"].clone()),
            (_, _, Some(f)) if !stream => Some(read_json(provider, f)["responses"]["200"]["body"].clone()),
            _ => None,
        };
        if let Some(body) = response {
            let decoded = dialect.decode(body, d).expect("decodes");
            if let Some(n) = case["expect"]["choices"].as_u64() {
                assert_eq!(
                    decoded["choices"].as_array().unwrap().len() as u64,
                    n,
                    "{name}: choices"
                );
            } else {
                check_expect(&name, &fold_body(&decoded), &case["expect"]);
            }
            checked += 1;
        }
        if let Some(transcript) = case["transcript"].as_str() {
            let chunks = decode_stream(
                dialect.stream_decoder(d).as_mut(),
                read(provider, transcript).as_bytes(),
            );
            check_expect(&name, &fold(&chunks), &case["expect"]);
            checked += 1;
        }
    }
    checked
}

#[test]
fn openai_fixtures() {
    assert_eq!(run_cases("openai"), 3);
}

#[test]
fn azure_openai_fixtures() {
    assert_eq!(run_cases("azure_openai"), 2);
}

#[test]
fn mistral_fixtures() {
    assert_eq!(run_cases("mistral"), 3);
    // Everything we send Mistral is in its documented request schema.
    let fields: Vec<String> = serde_json::from_value(read_json("mistral", "request_fields.json")).unwrap();
    for case in read_json("mistral", "cases.json")["cases"].as_array().unwrap() {
        for key in case["wire"].as_object().into_iter().flatten().map(|(k, _)| k) {
            assert!(fields.contains(key), "we send Mistral `{key}`, which its schema lacks");
        }
    }
}

/// The key paths of a JSON value (`choices[].delta.content`), for comparing shapes.
fn paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                paths(v, &path, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| paths(v, &format!("{prefix}[]"), out)),
        _ => {}
    }
}

fn raw_paths(transcript: &str) -> BTreeSet<String> {
    let mut parser = SseParser::default();
    let mut out = BTreeSet::new();
    for event in parser.feed(transcript.as_bytes()) {
        if let Ok(v) = serde_json::from_str::<Value>(&event.data) {
            paths(&v, "", &mut out);
        }
    }
    out
}

/// Whether the raw event carrying usage also carries choices (Mistral) or is usage-only (OpenAI).
fn usage_rides_on_content(transcript: &str) -> Option<bool> {
    let mut parser = SseParser::default();
    parser
        .feed(transcript.as_bytes())
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(&e.data).ok())
        .find(|v| !v["usage"].is_null())
        .map(|v| v["choices"].as_array().is_some_and(|c| !c.is_empty()))
}

/// POSTs `body` to the mock at `path`; the status and the raw body.
fn post(server: &MockServer, path: &str, body: &Value) -> (u16, String) {
    let url = format!("{}{path}", server.url());
    sluicegate::runtime::runtime().block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .header("authorization", "Bearer k")
            .json(body)
            .send()
            .await
            .expect("the mock answers");
        (response.status().as_u16(), response.text().await.unwrap())
    })
}

fn mock(script: Value) -> MockServer {
    let script = Script::from_value(&script).unwrap();
    sluicegate::runtime::runtime()
        .block_on(MockServer::start(0, script, None))
        .unwrap()
}

/// The mock's stream for a scripted reply, sent our encoded request, decodes with the same
/// decoder as the provider's own transcript, sends no field that transcript lacks, and puts
/// usage where the provider does.
fn mock_matches_transcripts(provider: &str, may_add: &[&str]) {
    let file = read_json(provider, "cases.json");
    let model = file["model"].as_str().unwrap();
    let config = config(&file["provider"], model);
    let dialect = OpenAi::for_provider(&config.providers["p"]);
    let d = &config.deployments["d"];
    let server = mock(json!({model: [
        {"reply": "Hello world"},
        {"tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\": \"Paris\"}"}}]}
    ]}));
    // The provider's stream shape: every field either of its transcripts carries.
    let mut known = raw_paths(&read(provider, "stream_text.sse"));
    known.extend(raw_paths(&read(provider, "stream_tool.sse")));
    for (case, transcript) in [(1, "stream_text.sse"), (2, "stream_tool.sse")] {
        let case = &file["cases"][case];
        let fixture = read(provider, transcript);
        let mut request = case["request"].clone();
        request["model"] = json!(model);
        let wire = dialect.encode(&request, d, true).unwrap();
        let (status, body) = post(&server, file["mock_path"].as_str().unwrap(), &wire);
        assert_eq!(status, 200, "{provider}: the mock refused what we send: {body}");
        let extra: Vec<String> = raw_paths(&body)
            .difference(&known)
            .filter(|p| !may_add.contains(&p.as_str()))
            .cloned()
            .collect();
        assert!(
            extra.is_empty(),
            "{provider} {transcript}: the mock sends fields the provider does not: {extra:?}"
        );
        let mock_fold = fold(&decode_stream(dialect.stream_decoder(d).as_mut(), body.as_bytes()));
        let real_fold = fold(&decode_stream(dialect.stream_decoder(d).as_mut(), fixture.as_bytes()));
        assert_eq!(
            mock_fold["finish_reason"], real_fold["finish_reason"],
            "{provider} {transcript}: finish reason"
        );
        if transcript == "stream_text.sse" {
            assert_eq!(
                usage_rides_on_content(&body),
                usage_rides_on_content(&fixture),
                "{provider}: the mock puts usage elsewhere than the provider"
            );
        }
        if transcript == "stream_text.sse" {
            // (Mistral's SDK test of a tool stream leaves usage out; its text stream has it.)
            assert_eq!(
                mock_fold["usage"].is_null(),
                real_fold["usage"].is_null(),
                "{provider} {transcript}: usage"
            );
        }
        assert_eq!(
            mock_fold["tool_calls"].as_array().unwrap().len(),
            real_fold["tool_calls"].as_array().unwrap().len()
        );
    }
}

#[test]
fn mock_streams_match_openai_transcripts() {
    mock_matches_transcripts("openai", &[]);
}

#[test]
fn mock_streams_match_mistral_transcripts() {
    // Documented but absent from the SDK's test chunks: CompletionChunk `object` and `created`
    // (docs/models/completionchunk.md), ToolCall `type` (docs/models/toolcall.md).
    mock_matches_transcripts("mistral", &["object", "created", "choices[].delta.tool_calls[].type"]);
}

#[test]
fn mock_refuses_what_mistral_refuses() {
    let fields: Vec<String> = serde_json::from_value(read_json("mistral", "request_fields.json")).unwrap();
    let server = mock(json!({}));
    let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    for field in &fields {
        if body.get(field).is_none() {
            body[field] = Value::Null;
        }
    }
    let (status, text) = post(&server, "/mistral/v1/chat/completions", &body);
    assert_eq!(status, 200, "the mock refuses a documented Mistral field: {text}");
    for extra in ["stream_options", "max_completion_tokens", "seed", "user"] {
        let mut refused = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        refused[extra] = json!(1);
        let (status, text) = post(&server, "/mistral/v1/chat/completions", &refused);
        assert_eq!(status, 422, "Mistral refuses `{extra}`; the mock must too");
        assert!(text.contains("Extra inputs are not permitted"), "{text}");
    }
}

#[test]
fn mock_refuses_what_old_azure_refuses() {
    let file = read_json("azure_openai", "cases.json");
    let server = mock(json!({}));
    for case in file["cases"].as_array().unwrap() {
        let version = merged(&file["provider"], case.get("provider"))["api_version"].clone();
        let (_, wire, url) = case_parts("azure_openai", &file, case, "gpt-4o");
        let path = url.trim_start_matches("https://example.openai.azure.com");
        let (status, text) = post(&server, path, &wire);
        assert_eq!(status, 200, "{}: the mock refused what we send: {text}", case["name"]);
        if version == "2024-06-01" {
            let with = merged(&wire, Some(&json!({"stream_options": {"include_usage": true}})));
            let (status, text) = post(&server, path, &with);
            assert_eq!(
                status, 400,
                "api-version {version} refuses stream_options; the mock must too"
            );
            assert!(
                text.contains("Unrecognized request argument supplied: stream_options"),
                "{text}"
            );
        }
    }
}

#[test]
fn mock_azure_stream_is_openai_stream_plus_filter_results() {
    // Azure's stream is OpenAI's chunk format plus content-filter annotations (its spec's
    // createChatCompletionStreamResponse); the specs carry no transcript, so the mock's Azure
    // stream is held to OpenAI's recorded one, with only the filter fields added.
    let mut known = raw_paths(&read("openai", "stream_text.sse"));
    known.extend(raw_paths(&read("openai", "stream_tool.sse")));
    let config = config(&read_json("azure_openai", "cases.json")["provider"], "gpt-4o");
    let dialect = OpenAi::for_provider(&config.providers["p"]);
    let d = &config.deployments["d"];
    let server = mock(json!({"gpt-4o": [{"reply": "Hello world"}]}));
    let wire = dialect
        .encode(
            &json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": true}),
            d,
            true,
        )
        .unwrap();
    let path = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21";
    let (status, body) = post(&server, path, &wire);
    assert_eq!(status, 200, "{body}");
    let extra: Vec<String> = raw_paths(&body)
        .difference(&known)
        .filter(|p| !p.starts_with("prompt_filter_results") && !p.starts_with("choices[].content_filter_results"))
        .cloned()
        .collect();
    assert!(
        extra.is_empty(),
        "the mock's Azure stream sends fields neither OpenAI nor Azure's filters have: {extra:?}"
    );
    let folded = fold(&decode_stream(dialect.stream_decoder(d).as_mut(), body.as_bytes()));
    assert_eq!(folded["content"], "Hello world");
    assert_eq!(folded["finish_reason"], "stop");
    assert!(!folded["usage"].is_null(), "2024-10-21 streams carry usage when asked");
}
