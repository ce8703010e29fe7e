//! The response types the bindings generate from `core/schema/types.schema.json` match what
//! the core really returns: every field the core emits is declared there, every field declared
//! as required is present, and each value has the declared type. A field added to the core and
//! not to the schema (so missing from Python's `types.py` and Node's `index.d.ts`) fails here.

use serde_json::{Value, json};
use sluicegate::{CallOptions, ErrorKind, Gateway};
use std::sync::{Arc, Mutex};

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/types.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("schema file")).expect("schema is JSON")
}

/// Checks `value` against `schema`, collecting problems as "path: what".
fn check(value: &Value, schema: &Value, defs: &Value, path: &str, problems: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap();
        return check(value, &defs[name], defs, &format!("{path}<{name}>"), problems);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let fits = options.iter().any(|s| {
                let mut p = Vec::new();
                check(value, s, defs, path, &mut p);
                p.is_empty()
            });
            if !fits {
                problems.push(format!("{path}: {value} fits none of {key}"));
            }
            return;
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    let fits = types.iter().any(|t| match *t {
        "null" => value.is_null(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    });
    if !fits {
        problems.push(format!("{path}: {value} is not {types:?}"));
        return;
    }
    if let Some(c) = schema.get("const") {
        if value != c {
            problems.push(format!("{path}: {value} is not the constant {c}"));
        }
    }
    if let Some(items) = value.as_array() {
        for (i, item) in items.iter().enumerate() {
            check(item, &schema["items"], defs, &format!("{path}[{i}]"), problems);
        }
    }
    if let Some(object) = value.as_object() {
        if let Some(extra) = schema.get("additionalProperties").filter(|e| e.is_object()) {
            for (k, v) in object {
                check(v, extra, defs, &format!("{path}.{k}"), problems);
            }
        }
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        for (k, v) in object {
            match properties.get(k) {
                Some(s) => check(v, s, defs, &format!("{path}.{k}"), problems),
                None => problems.push(format!(
                    "{path}.{k}: emitted by the core but not declared in the schema"
                )),
            }
        }
        for required in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(required) {
                problems.push(format!("{path}.{required}: declared required but not emitted"));
            }
        }
    }
}

fn assert_fits(value: &Value, type_name: &str) {
    let schema = schema();
    let defs = &schema["$defs"];
    let mut problems = Vec::new();
    check(
        value,
        &json!({"$ref": format!("#/$defs/{type_name}")}),
        defs,
        type_name,
        &mut problems,
    );
    assert!(
        problems.is_empty(),
        "{type_name} does not match core/schema/types.schema.json:\n{}\n\nvalue: {value:#}",
        problems.join("\n")
    );
}

fn gateway() -> Gateway {
    Gateway::from_value(json!({
        "providers": {"p": {"type": "mock", "script": {
            "tools": [{"tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":1}"}}]}]
        }}},
        "deployments": {
            "a": {"provider": "p", "model": "gpt-4o-mini"},
            "t": {"provider": "p", "model": "tools"}
        },
        "routes": {"chat": {"targets": ["a"]}, "tools": {"targets": ["t"]}},
        "pricing": {"models": {"tools": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}},
        "keys": {"k": {"sha256": "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b", "tags": {"team": "x"}}},
        "policies": {
            "rate_limits": [{"scope": {"tag": "team"}, "rpm": 1000}],
            "budgets": [{"scope": {"tag": "team"}, "usd": 100}],
            "guardrails": [{"type": "pii", "entities": ["email"], "action": "redact"}]
        }
    }))
    .expect("config")
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi a@b.example"}]})
}

#[test]
fn every_returned_object_matches_the_schema() {
    let gw = gateway();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    gw.on_request_end(move |e| seen.lock().unwrap().push(e.clone()));
    let options = CallOptions::from_json(&json!({"key": "secret"})).expect("options");

    let plain = gw.chat_blocking(chat("chat"), options.clone()).expect("plain call");
    assert_fits(&plain, "ChatCompletion");
    let tools = gw.chat_blocking(chat("tools"), options.clone()).expect("tool call");
    assert_fits(&tools, "ChatCompletion");

    let mut request = chat("chat");
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let mut stream = gw.chat_stream_blocking(request, options.clone()).expect("stream");
    let mut chunks = 0;
    while let Some(chunk) = stream.next_blocking() {
        assert_fits(&chunk.expect("chunk"), "ChatCompletionChunk");
        chunks += 1;
    }
    assert!(chunks > 2);
    assert_fits(&stream.gateway().expect("stream gateway"), "GatewayInfo");

    let embeddings = gw
        .embeddings_blocking(json!({"model": "chat", "input": ["one", "two"]}), options.clone())
        .expect("embeddings");
    assert_fits(&embeddings, "CreateEmbeddingResponse");

    let explain = gw.explain("chat", &options, None).expect("explain");
    assert_fits(&explain, "ExplainReport");
    let usage = gw.usage(&json!({"group_by": ["route"]})).expect("usage");
    assert_fits(&usage, "UsageReport");

    let failed = gw.chat_blocking(chat("no-such-route"), options.clone());
    assert!(failed.is_err());
    // Hooks run on a background thread: wait for all five calls' events.
    for _ in 0..200 {
        if events.lock().unwrap().len() >= 5 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let events = events.lock().unwrap();
    assert!(events.len() >= 5, "got {} request-end events", events.len());
    for event in events.iter() {
        assert_fits(event, "RequestEndEvent");
    }
}

#[test]
fn the_schema_lists_every_error_code() {
    let schema = schema();
    let listed: Vec<&str> = schema["$defs"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let core: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
    assert_eq!(listed, core);
}

#[test]
fn the_checker_rejects_an_undeclared_field() {
    // The test above can fail: a gateway object with one extra field does not fit.
    let gw = gateway();
    let mut plain = gw
        .chat_blocking(chat("chat"), CallOptions::from_json(&json!({"key": "secret"})).unwrap())
        .unwrap();
    plain["gateway"]["brand_new_field"] = json!(1);
    let result = std::panic::catch_unwind(|| assert_fits(&plain, "ChatCompletion"));
    assert!(result.is_err());
}
