//! The Cohere adapter against Cohere's own material (tests/fixtures/providers/cohere, see its
//! SOURCE): our encoded requests have the documented shape, decoding the documented answers and
//! streams gives the expected OpenAI output, plain and stream agree on every finish reason, any
//! split of a documented stream decodes the same, and the mock speaks the same shapes.

#[path = "common/stream.rs"]
mod common_stream;
use proptest::prelude::*;
use serde_json::{Value, json};
use sluicegate::ErrorKind;
use sluicegate::config::DeploymentConfig;
use sluicegate::providers::cohere::Cohere;
use sluicegate::providers::dialect::Dialect;
use sluicegate::providers::sse::SseParser;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../tests/fixtures/providers/cohere/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).expect("fixture is JSON")
}

/// A deployment of `model` as the config reader builds it (so new config keys need no edit here).
fn deployment(model: &str) -> DeploymentConfig {
    let config = sluicegate::Config::from_value(json!({
        "providers": {"cohere": {"type": "cohere", "api_key": "k"}},
        "deployments": {"d": {"provider": "cohere", "model": model}},
        "routes": {"chat": {"targets": ["d"]}},
    }))
    .expect("config loads");
    config.deployments["d"].clone()
}

/// The documented request without `stream: false` (we leave the default out).
fn documented(request: &Value) -> Value {
    let mut r = request.clone();
    if r["stream"] == false {
        r.as_object_mut().unwrap().remove("stream");
    }
    r
}

fn encode(request: Value, model: &str, stream: bool) -> sluicegate::Result<Value> {
    Cohere.encode(&request, &deployment(model), stream)
}

/// The chunks a stream's bytes decode to (split into `pieces`), `created` zeroed.
fn decode_stream(pieces: &[&[u8]]) -> sluicegate::Result<Vec<Value>> {
    let mut decoder = Cohere.stream_decoder(&deployment("m"));
    let mut out = common_stream::decode(decoder.as_mut(), pieces)?;
    for chunk in &mut out {
        chunk["created"] = json!(0);
    }
    Ok(out)
}

/// Content, last finish reason, tool calls (id, name, arguments) merged by index, and usage.
type Folded = (String, Option<String>, Vec<(String, String, String)>, Option<Value>);

/// Content, last finish reason, tool calls merged by index, and the usage chunk of a stream.
fn fold(chunks: &[Value]) -> Folded {
    let mut content = String::new();
    let mut finish = None;
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut usage = None;
    for chunk in chunks {
        if !chunk["usage"].is_null() {
            usage = Some(chunk["usage"].clone());
        }
        let Some(choice) = chunk["choices"].get(0) else {
            continue;
        };
        content.push_str(choice["delta"]["content"].as_str().unwrap_or(""));
        if let Some(f) = choice["finish_reason"].as_str() {
            finish = Some(f.to_owned());
        }
        for call in choice["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let i = call["index"].as_u64().unwrap() as usize;
            if calls.len() <= i {
                calls.resize(i + 1, Default::default());
            }
            if let Some(id) = call["id"].as_str() {
                calls[i].0 = id.to_owned();
            }
            if let Some(name) = call["function"]["name"].as_str() {
                calls[i].1.push_str(name);
            }
            calls[i]
                .2
                .push_str(call["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    (content, finish, calls, usage)
}

#[test]
fn a_text_request_has_the_documented_shape() {
    let doc = json_fixture("chat_text.json");
    let ours = encode(
        json!({"model": "chat", "messages": [{"role": "user", "content": "Tell me about LLMs"}]}),
        "command-a-plus-05-2026",
        false,
    )
    .unwrap();
    assert_eq!(ours, documented(&doc["request"]));
}

#[test]
fn a_tool_request_has_the_documented_shape_plain_and_streamed() {
    let doc = json_fixture("chat_tools.json");
    let openai = json!({"model": "chat", "messages": doc["request"]["messages"], "tools": doc["request"]["tools"]});
    assert_eq!(encode(openai, "command-r", false).unwrap(), documented(&doc["request"]));
    let doc = json_fixture("stream_tools_request.json");
    let openai = json!({"model": "chat", "messages": doc["messages"], "tools": doc["tools"], "stream": true});
    assert_eq!(encode(openai, "command-a-plus-05-2026", true).unwrap(), doc);
}

#[test]
fn image_parts_are_sent_as_documented_image_url_content() {
    let doc = json_fixture("chat_image.json");
    let openai = json!({"model": "chat", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Describe this image"},
        {"type": "image_url", "image_url": {"url": "https://cohere.com/favicon-32x32.png", "detail": "auto"}}]}]});
    assert_eq!(
        encode(openai, "command-a-vision-07-2025", false).unwrap(),
        documented(&doc["request"])
    );
}

#[test]
fn a_json_schema_response_format_becomes_json_object_with_the_schema() {
    let doc = json_fixture("chat_json_schema.json");
    let schema = doc["request"]["response_format"]["json_schema"].clone();
    let openai = json!({"model": "chat", "messages": doc["request"]["messages"],
        "response_format": {"type": "json_schema", "json_schema": {"name": "person", "strict": true, "schema": schema}}});
    assert_eq!(encode(openai, "command-a-plus-05-2026", false).unwrap(), doc["request"]);
}

#[test]
fn top_p_is_clamped_into_coheres_range() {
    let p = |top_p: f64| {
        encode(
            json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "top_p": top_p}),
            "command-r",
            false,
        )
        .unwrap()["p"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(p(1.0), 0.99);
    assert_eq!(p(0.0), 0.01);
    assert_eq!(p(0.5), 0.5);
}

#[test]
fn a_named_tool_choice_requires_that_tool_only() {
    let tool = |name: &str| json!({"type": "function", "function": {"name": name, "parameters": {"type": "object"}}});
    let request = |choice: &str| {
        json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}],
               "tools": [tool("get_weather"), tool("get_time")],
               "tool_choice": {"type": "function", "function": {"name": choice}}})
    };
    let body = encode(request("get_time"), "command-r", false).unwrap();
    assert_eq!(body["tool_choice"], "REQUIRED");
    assert_eq!(body["tools"], json!([tool("get_time")]));
    let err = encode(request("nope"), "command-r", false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert!(
        err.message.contains("nope") && err.message.contains("tool_choice"),
        "{}",
        err.message
    );
}

#[test]
fn parts_cohere_cannot_take_are_rejected_naming_them() {
    for part in [
        json!({"type": "file", "file": {"file_id": "file-1"}}),
        json!({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}),
    ] {
        let request = json!({"model": "chat", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, part.clone()]}]});
        let err = encode(request, "command-r", false).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidRequest);
        let kind = part["type"].as_str().unwrap();
        assert!(
            err.message.contains(kind) && err.message.contains("Cohere"),
            "{}",
            err.message
        );
    }
}

#[test]
fn documented_answers_decode_to_openai() {
    let doc = json_fixture("chat_text.json");
    let out = Cohere.decode(doc["response"].clone(), &deployment("m")).unwrap();
    assert_eq!(out["id"], doc["response"]["id"]);
    assert_eq!(
        out["choices"][0]["message"]["content"],
        doc["response"]["message"]["content"][0]["text"]
    );
    assert_eq!(out["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        out["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 418, "total_tokens": 423})
    );

    let doc = json_fixture("chat_tools.json");
    let out = Cohere.decode(doc["response"].clone(), &deployment("m")).unwrap();
    let message = &out["choices"][0]["message"];
    assert_eq!(message["content"], Value::Null, "a thinking part is not answer text");
    assert_eq!(message["tool_calls"], doc["response"]["message"]["tool_calls"]);
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(out["usage"]["prompt_tokens"], 127);
}

#[test]
fn documented_streams_decode_to_openai() {
    let (content, finish, calls, usage) = fold(&decode_stream(&[fixture("stream_text.sse").as_bytes()]).unwrap());
    assert_eq!(
        content,
        "LLMs stand for Large Language Models, which are a type of neural network model specialized in processing and generating human language."
    );
    assert_eq!(finish.as_deref(), Some("stop"));
    assert!(calls.is_empty());
    assert_eq!(
        usage.unwrap(),
        json!({"prompt_tokens": 5, "completion_tokens": 26, "total_tokens": 31})
    );

    let (content, finish, calls, _) = fold(&decode_stream(&[fixture("stream_tools.sse").as_bytes()]).unwrap());
    assert_eq!(content, "", "the tool plan is not answer text");
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    let calls: Vec<(String, Value)> = calls
        .into_iter()
        .map(|(id, name, args)| {
            assert!(!id.is_empty());
            (name, serde_json::from_str(&args).expect("arguments are JSON"))
        })
        .collect();
    assert_eq!(
        calls,
        vec![
            ("query_daily_sales_report".to_owned(), json!({"day": "2023-09-29"})),
            ("query_product_catalog".to_owned(), json!({"category": "Electronics"})),
        ]
    );
}

/// One table for plain and stream: each documented finish reason gives the same OpenAI finish
/// reason on both, or the same error kind on both.
#[test]
fn plain_and_stream_agree_on_every_finish_reason() {
    for (reason, expected) in [
        ("COMPLETE", Ok("stop")),
        ("STOP_SEQUENCE", Ok("stop")),
        ("MAX_TOKENS", Ok("length")),
        ("TOOL_CALL", Ok("tool_calls")),
        ("ERROR", Err(ErrorKind::ProviderError)),
        ("TIMEOUT", Err(ErrorKind::Timeout)),
    ] {
        let body = json!({"id": "x", "message": {"role": "assistant", "content": [{"type": "text", "text": "partial"}]},
                          "finish_reason": reason, "usage": {"billed_units": {"input_tokens": 1, "output_tokens": 1}}});
        let plain = Cohere
            .decode(body, &deployment("m"))
            .map(|o| o["choices"][0]["finish_reason"].as_str().unwrap().to_owned());
        let stream_bytes = format!(
            "event: message-start\ndata: {}\n\nevent: content-delta\ndata: {}\n\nevent: message-end\ndata: {}\n\n",
            json!({"type": "message-start", "id": "x", "delta": {"message": {"role": "assistant"}}}),
            json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "partial"}}}}),
            json!({"type": "message-end", "delta": {"finish_reason": reason}}),
        );
        let streamed = decode_stream(&[stream_bytes.as_bytes()]).map(|c| fold(&c).1.unwrap());
        match expected {
            Ok(f) => {
                assert_eq!(plain.as_deref().ok(), Some(f), "{reason} plain");
                assert_eq!(streamed.as_deref().ok(), Some(f), "{reason} stream");
            }
            Err(kind) => {
                let (p, s) = (plain.unwrap_err(), streamed.unwrap_err());
                assert_eq!((p.kind, s.kind), (kind, kind), "{reason}");
                assert!(
                    p.message.contains(reason) && s.message.contains(reason),
                    "{} / {}",
                    p.message,
                    s.message
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any split of a documented stream decodes to the same chunks, and never panics.
    #[test]
    fn any_split_of_a_documented_stream_decodes_the_same(
        which in 0usize..2,
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let text = fixture(if which == 0 { "stream_text.sse" } else { "stream_tools.sse" });
        let bytes = text.as_bytes();
        let whole = decode_stream(&[bytes]).unwrap();
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.sort_unstable();
        at.dedup();
        let mut pieces = Vec::new();
        let mut start = 0;
        for cut in at {
            pieces.push(&bytes[start..cut]);
            start = cut;
        }
        pieces.push(&bytes[start..]);
        prop_assert_eq!(decode_stream(&pieces).unwrap(), whole);
    }

    /// A documented stream with bytes changed or cut anywhere gives chunks or an error, never a
    /// panic.
    #[test]
    fn a_damaged_stream_never_panics(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let text = fixture(if which == 0 { "stream_text.sse" } else { "stream_tools.sse" });
        let mut bytes = text.into_bytes();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = decode_stream(&[&bytes]);
    }
}

mod mock {
    //! The mock against the same fixtures: it accepts every documented request, refuses what
    //! Cohere documents as invalid, and answers in the documented shapes.

    use super::*;
    use sluicegate::mock::Script;
    use sluicegate::mock::wire::{self, Flavor};
    use std::collections::BTreeMap;

    fn documented_requests() -> Vec<Value> {
        let mut out: Vec<Value> = [
            "chat_text.json",
            "chat_tools.json",
            "chat_image.json",
            "chat_json_schema.json",
        ]
        .iter()
        .map(|f| json_fixture(f)["request"].clone())
        .collect();
        out.push(json_fixture("stream_tools_request.json"));
        out
    }

    /// Every path of `ours` exists in `documented` with the same JSON type (arrays compare
    /// their items with the documented first item); the first difference otherwise.
    fn shape_within(ours: &Value, documented: &Value, at: &str) -> Result<(), String> {
        match (ours, documented) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in a {
                    let d = b
                        .get(k)
                        .ok_or_else(|| format!("the mock sends `{at}/{k}`, which the reference does not have"))?;
                    shape_within(v, d, &format!("{at}/{k}"))?;
                }
                Ok(())
            }
            (Value::Array(a), Value::Array(b)) => match b.first() {
                Some(d) => a.iter().try_for_each(|i| shape_within(i, d, &format!("{at}/[]"))),
                None => Ok(()),
            },
            (Value::Number(_), Value::Number(_))
            | (Value::String(_), Value::String(_))
            | (Value::Bool(_), Value::Bool(_)) => Ok(()),
            _ => Err(format!(
                "`{at}` is {ours} in the mock but {documented} in the reference"
            )),
        }
    }

    fn step(script: Value) -> sluicegate::mock::Step {
        Script::from_value(&json!({"*": [script]})).unwrap().next_step("m")
    }

    fn asked(body: &Value) -> wire::Asked {
        wire::asked(Flavor::Cohere, "/v2/chat", "", &BTreeMap::new(), body)
    }

    fn events(text: &str) -> Vec<Value> {
        let mut parser = SseParser::default();
        let mut events = parser.feed(text.as_bytes());
        events.extend(parser.finish());
        events
            .into_iter()
            .map(|e| {
                let data: Value = serde_json::from_str(&e.data).unwrap();
                assert_eq!(
                    e.event.as_deref(),
                    data["type"].as_str(),
                    "the event name repeats data.type"
                );
                data
            })
            .collect()
    }

    #[test]
    fn the_mock_accepts_every_documented_request_and_our_encodings() {
        for request in documented_requests() {
            assert_eq!(wire::refused(Flavor::Cohere, "", &request), None, "{request}");
        }
        let ours = encode(
            json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "top_p": 1.0,
                   "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
                   "tool_choice": {"type": "function", "function": {"name": "f"}}}),
            "command-r",
            false,
        )
        .unwrap();
        assert_eq!(wire::refused(Flavor::Cohere, "", &ours), None, "{ours}");
    }

    #[test]
    fn the_mock_refuses_what_cohere_documents_as_invalid() {
        let base = json!({"model": "command-r", "messages": [{"role": "user", "content": "hi"}]});
        for (key, value) in [
            ("p", json!(1.0)),
            ("p", json!(0.0)),
            ("tool_choice", json!("AUTO")),
            ("tool_choice", json!("REQUIRED")),
            ("response_format", json!({"type": "json_schema"})),
        ] {
            let mut body = base.clone();
            body[key] = value;
            assert_eq!(
                wire::refused(Flavor::Cohere, "", &body).map(|r| r.0),
                Some(400),
                "{body}"
            );
        }
    }

    #[test]
    fn mock_answers_have_the_documented_shapes() {
        let request = json_fixture("chat_text.json")["request"].clone();
        let plain = wire::body(Flavor::Cohere, &step(json!({})), "id-1", &asked(&request));
        shape_within(&plain, &json_fixture("chat_text.json")["response"], "").unwrap();
        let calls = json!({"tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]});
        let plain = wire::body(Flavor::Cohere, &step(calls.clone()), "id-2", &asked(&request));
        shape_within(&plain, &json_fixture("chat_tools.json")["response"], "").unwrap();

        let documented: Vec<Value> = events(&fixture("stream_text.sse"))
            .into_iter()
            .chain(events(&fixture("stream_tools.sse")))
            .collect();
        let mut streamed = asked(&request);
        streamed.stream = true;
        for script in [json!({}), calls] {
            let text: String = wire::events(Flavor::Cohere, &step(script), "id-3", &streamed).concat();
            for event in events(&text) {
                let same: Vec<&Value> = documented.iter().filter(|d| d["type"] == event["type"]).collect();
                assert!(
                    !same.is_empty(),
                    "the mock sends {}, which the reference never does",
                    event["type"]
                );
                // Within any one documented event of that type (they differ only in values).
                let fits: Vec<Result<(), String>> = same.iter().map(|d| shape_within(&event, d, "")).collect();
                assert!(fits.iter().any(Result::is_ok), "the mock's {event}: {:?}", fits[0]);
            }
        }
    }
}

/// Cohere has no effort levels, only thinking on (the default for reasoning models) or off
/// (cohere-python `types/thinking.py`).
#[test]
fn reasoning_effort_turns_thinking_on_or_off() {
    let thinking = |effort: &str| {
        encode(
            json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": effort}),
            "command-a-reasoning-08-2025",
            false,
        )
        .unwrap()["thinking"]
            .clone()
    };
    assert_eq!(thinking("none"), json!({"type": "disabled"}));
    for effort in ["minimal", "low", "medium", "high"] {
        assert_eq!(thinking(effort), json!({"type": "enabled"}), "{effort}");
    }
}

/// `logprobs: true` is sent, and Cohere's `LogprobItem`s (a text chunk with the log probability
/// of each of its tokens; cohere-python `types/logprob_item.py`) come back as OpenAI
/// `logprobs.content` entries, one per chunk, plain and streamed alike.
#[test]
fn logprobs_are_asked_for_and_decoded_per_text_chunk() {
    let body = encode(
        json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "logprobs": true}),
        "command-r",
        false,
    )
    .unwrap();
    assert_eq!(body["logprobs"], true);
    let item = json!({"text": "Hi", "token_ids": [1, 2], "logprobs": [-0.25, -0.5]});
    let expected = json!({"content": [{"token": "Hi", "logprob": -0.75, "bytes": [72, 105], "top_logprobs": []}]});
    let plain = Cohere
        .decode(
            json!({"id": "x", "message": {"role": "assistant", "content": [{"type": "text", "text": "Hi"}]},
                   "finish_reason": "COMPLETE", "logprobs": [item]}),
            &deployment("m"),
        )
        .unwrap();
    assert_eq!(plain["choices"][0]["logprobs"], expected);
    let stream = format!(
        "event: message-start\ndata: {}\n\nevent: content-delta\ndata: {}\n\nevent: message-end\ndata: {}\n\n",
        json!({"type": "message-start", "id": "x", "delta": {"message": {"role": "assistant"}}}),
        json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Hi"}}}, "logprobs": item}),
        json!({"type": "message-end", "delta": {"finish_reason": "COMPLETE"}}),
    );
    let chunks = decode_stream(&[stream.as_bytes()]).unwrap();
    let with: Vec<&Value> = chunks
        .iter()
        .filter(|c| !c["choices"][0]["logprobs"].is_null())
        .collect();
    assert_eq!(with.len(), 1);
    assert_eq!(with[0]["choices"][0]["logprobs"], expected);
}

/// OpenAI's per-function `strict: true` is Cohere's request-wide `strict_tools: true`; a Cohere
/// tool function has only name, description and parameters (cohere-python `types/tool_v2function.py`).
#[test]
fn strict_tools_become_strict_tools() {
    let tool = |strict: bool| json!({"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}, "strict": strict}});
    let body = encode(
        json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "tools": [tool(true), tool(false)]}),
        "command-a-03-2025",
        false,
    )
    .unwrap();
    assert_eq!(body["strict_tools"], true);
    let plain =
        json!({"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}});
    assert_eq!(body["tools"], json!([plain, plain]));
    let body = encode(
        json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}], "tools": [tool(false)]}),
        "command-a-03-2025",
        false,
    )
    .unwrap();
    assert_eq!(body.get("strict_tools"), None);
}
