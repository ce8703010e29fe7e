//! The Rust contract runner: runs one vector file (see `tests/vectors/README.md`) against the
//! core, with the mock HTTP server in-process, and reports every mismatch.

use serde_json::{Map, Value, json};
use sluicegate::mock::{MockServer, Script};
use sluicegate::runtime::runtime;
use sluicegate::{CallOptions, ChatStream, Error, Gateway};
use std::path::{Path, PathBuf};

pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

/// Every vector file, sorted by name.
pub fn vector_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("tests/vectors exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn error_outcome(e: &Error) -> Value {
    json!({"error": e.to_json()})
}

/// Folds the chunks a caller received, as the README defines.
pub fn fold_stream(chunks: &[Value]) -> Value {
    let mut content = String::new();
    let mut finish = Value::Null;
    let mut usage_chunk = false;
    let mut calls: Vec<Map<String, Value>> = Vec::new();
    let mut contents: Vec<String> = Vec::new();
    for chunk in chunks {
        if chunk.get("usage").is_some_and(|u| !u.is_null()) {
            usage_chunk = true;
        }
        let all = chunk.get("choices").and_then(Value::as_array).into_iter().flatten();
        for (position, choice) in all.enumerate() {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(position as u64) as usize;
            while contents.len() <= index {
                contents.push(String::new());
            }
            contents[index].push_str(choice.pointer("/delta/content").and_then(Value::as_str).unwrap_or(""));
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            continue;
        };
        if let Some(t) = choice.pointer("/delta/content").and_then(Value::as_str) {
            content.push_str(t);
        }
        if let Some(f) = choice.get("finish_reason").filter(|f| !f.is_null()) {
            finish = f.clone();
        }
        for delta in choice
            .pointer("/delta/tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = delta.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            while calls.len() <= index {
                calls.push(Map::from_iter([
                    ("id".to_owned(), Value::Null),
                    ("name".to_owned(), Value::Null),
                    ("arguments".to_owned(), json!("")),
                ]));
            }
            let call = &mut calls[index];
            if let Some(id) = delta.get("id").filter(|v| !v.is_null()) {
                call.insert("id".into(), id.clone());
            }
            if let Some(name) = delta.pointer("/function/name").filter(|v| !v.is_null()) {
                call.insert("name".into(), name.clone());
            }
            if let Some(a) = delta.pointer("/function/arguments").and_then(Value::as_str) {
                let joined = format!("{}{a}", call["arguments"].as_str().unwrap_or(""));
                call.insert("arguments".into(), json!(joined));
            }
        }
    }
    json!({
        "chunks": chunks.len(),
        "content": content,
        "contents": contents,
        "finish_reason": finish,
        "tool_calls": calls.into_iter().map(Value::Object).collect::<Vec<_>>(),
        "usage_chunk": usage_chunk,
    })
}

/// Reads the stream to its end, or only `read_chunks` chunks and then drops it.
fn drain(mut stream: ChatStream, read_chunks: Option<u64>) -> Value {
    let mut chunks = Vec::new();
    while let Some(item) = stream.next_blocking() {
        match item {
            Ok(chunk) => {
                chunks.push(chunk);
                if read_chunks.is_some_and(|n| chunks.len() as u64 >= n) {
                    drop(stream);
                    return json!({"stream": fold_stream(&chunks)});
                }
            }
            Err(e) => {
                let mut out = error_outcome(&e);
                out["stream"] = fold_stream(&chunks);
                return out;
            }
        }
    }
    json!({"stream": fold_stream(&chunks), "gateway": stream.gateway()})
}

fn run_call(gw: &Gateway, call: &Value) -> Value {
    let options = match CallOptions::from_json(call.get("options").unwrap_or(&Value::Null)) {
        Ok(o) => o,
        Err(e) => return error_outcome(&e),
    };
    let request = call["request"].clone();
    match call.get("kind").and_then(Value::as_str).unwrap_or("chat") {
        "embeddings" => {
            return match gw.embeddings_blocking(request, options) {
                Ok(response) => json!({"response": response}),
                Err(e) => error_outcome(&e),
            };
        }
        "explain" => {
            let tags = json!({"tags": call.get("tags").cloned().unwrap_or(Value::Null)});
            let options = CallOptions::from_json(&tags).expect("tags");
            let prompt_tokens = call.get("prompt_tokens").and_then(Value::as_u64);
            return match gw.explain(call["model"].as_str().unwrap_or(""), &options, prompt_tokens) {
                Ok(report) => json!({"explain": report}),
                Err(e) => error_outcome(&e),
            };
        }
        "usage" => {
            return match gw.usage(call.get("query").unwrap_or(&Value::Null)) {
                Ok(report) => json!({"usage": report}),
                Err(e) => error_outcome(&e),
            };
        }
        "metrics" => return json!({"metrics": gw.metrics_text()}),
        _ => {}
    }
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        match gw.chat_stream_blocking(request, options) {
            Ok(stream) => drain(stream, call.get("read_chunks").and_then(Value::as_u64)),
            Err(e) => error_outcome(&e),
        }
    } else {
        match gw.chat_blocking(request, options) {
            Ok(response) => json!({"response": response}),
            Err(e) => error_outcome(&e),
        }
    }
}

/// Runs one vector; returns every mismatch (empty = pass).
pub fn run_vector(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("readable vector");
    let vector: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return vec![format!("not JSON: {e}")],
    };
    // SAFETY: vectors run one at a time on one thread (see vectors.rs), so nothing reads the
    // environment concurrently.
    for (k, v) in vector.get("env").and_then(Value::as_object).into_iter().flatten() {
        unsafe { std::env::set_var(k, v.as_str().unwrap_or_default()) };
    }
    for k in vector.get("env_unset").and_then(Value::as_array).into_iter().flatten() {
        unsafe { std::env::remove_var(k.as_str().unwrap_or_default()) };
    }
    let server = vector.get("mock_server").map(|script| {
        let script = Script::from_value(script).expect("valid mock_server script");
        let key = vector
            .get("mock_server_api_key")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let server = runtime()
            .block_on(MockServer::start(0, script, key))
            .expect("mock server starts");
        unsafe { std::env::set_var("SG_MOCK_URL", server.url()) };
        server
    });
    let loaded = match (vector.get("config"), vector.get("config_text")) {
        (Some(config), None) => Gateway::from_value(config.clone()),
        (None, Some(Value::String(text))) => Gateway::from_text(text),
        _ => return vec!["a vector needs exactly one of `config` and `config_text`".into()],
    };
    let mut failures = Vec::new();
    let gw = match (loaded, vector.get("load")) {
        (Ok(gw), None) => gw,
        (Ok(_), Some(expect)) => return vec![format!("load: expected {expect}, but the gateway was built")],
        (Err(e), expect) => {
            let expect = expect.cloned().unwrap_or(json!({"ok": true}));
            let outcome = error_outcome(&e);
            matches(&expect, &outcome, "load", &mut failures);
            return failures;
        }
    };
    for (i, call) in vector
        .get("calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let outcome = run_call(&gw, call);
        matches(&call["expect"], &outcome, &format!("calls[{i}]"), &mut failures);
    }
    if let (Some(expect), Some(server)) = (vector.get("expect_mock"), &server) {
        matches(expect, &server.stats(), "expect_mock", &mut failures);
    }
    failures
}

fn texts(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().map(|i| i.as_str().unwrap_or("").to_owned()).collect(),
        Value::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}

/// The README's subset match; mismatches are pushed with their path and the actual outcome.
pub fn matches(expect: &Value, actual: &Value, path: &str, failures: &mut Vec<String>) {
    match expect {
        Value::Object(map) => {
            for (key, want) in map {
                let (base, check) = ["_contains", "_excludes", "_present"]
                    .iter()
                    .find_map(|suffix| key.strip_suffix(suffix).map(|b| (b, *suffix)))
                    .unwrap_or((key.as_str(), ""));
                let got = actual.get(base).unwrap_or(&Value::Null);
                let at = format!("{path}.{base}");
                match check {
                    "_contains" => {
                        for needle in texts(want) {
                            if !got.as_str().is_some_and(|s| s.contains(&needle)) {
                                failures.push(format!("{at}: expected to contain {needle:?}, got {got}"));
                            }
                        }
                    }
                    "_excludes" => {
                        for needle in texts(want) {
                            if got.as_str().is_some_and(|s| s.contains(&needle)) {
                                failures.push(format!("{at}: must not contain {needle:?}, got {got}"));
                            }
                        }
                    }
                    "_present" => {
                        if want.as_bool() != Some(!got.is_null()) {
                            failures.push(format!("{at}: expected present={want}, got {got}"));
                        }
                    }
                    _ => matches(want, got, &at, failures),
                }
            }
        }
        Value::Array(items) => match actual.as_array() {
            Some(got) if got.len() == items.len() => {
                for (i, (want, got)) in items.iter().zip(got).enumerate() {
                    matches(want, got, &format!("{path}[{i}]"), failures);
                }
            }
            _ => failures.push(format!("{path}: expected {expect}, got {actual}")),
        },
        Value::Number(want) => {
            let (w, g) = (want.as_f64().unwrap_or(f64::NAN), actual.as_f64());
            if !g.is_some_and(|g| (g - w).abs() <= 1e-9 * w.abs().max(1.0)) {
                failures.push(format!("{path}: expected {expect}, got {actual}"));
            }
        }
        _ => {
            if expect != actual {
                failures.push(format!("{path}: expected {expect}, got {actual}"));
            }
        }
    }
}
