//! Bounds on what a provider can send: a plain body over `limits.max_body`, a stream event over
//! `limits.max_event`, a tool-call `index` out of range, and endless chunks without content
//! each fail the call with `provider_error` naming the cap (and the call is still accounted),
//! against a raw HTTP server that sends exactly the bytes a buggy provider or proxy would.

use serde_json::{Value, json};
use sluicegate::{CallOptions, ErrorKind, Gateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves `body` (with `content_type`) to every request on 127.0.0.1; returns the base URL.
fn serve(content_type: &'static str, body: Vec<u8>) -> String {
    let runtime = sluicegate::runtime::runtime();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    runtime.spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let body = body.clone();
            tokio::spawn(async move {
                // Read the request head and its body, then answer and close.
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = socket.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_lowercase();
                    if let Some(head) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if seen.len() >= head + 4 + length {
                            break;
                        }
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    url
}

fn gateway(url: &str, limits: Value) -> Gateway {
    Gateway::from_value(json!({
        "providers": {"p": {"type": "openai", "api_base": url, "api_key": "sk-test", "limits": limits}},
        "deployments": {"d": {"provider": "p", "model": "gpt-4o-mini"}},
        "routes": {"chat": {"targets": ["d"], "breaker": false, "retry": {"attempts": 1}}}
    }))
    .unwrap()
}

fn request(stream: bool) -> Value {
    json!({"model": "chat", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

fn completion(text: &str) -> Vec<u8> {
    json!({"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}})
    .to_string()
    .into_bytes()
}

fn chunk(delta: Value, finish: Value) -> String {
    let chunk = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {chunk}\n\n")
}

fn sse(chunks: &[String]) -> Vec<u8> {
    let mut out = chunks.concat();
    out.push_str("data: [DONE]\n\n");
    out.into_bytes()
}

/// Runs a stream to its end; the first error, if any.
fn stream_error(gw: &Gateway) -> Option<sluicegate::Error> {
    let mut stream = match gw.chat_stream_blocking(request(true), CallOptions::default()) {
        Ok(s) => s,
        Err(e) => return Some(e),
    };
    while let Some(item) = stream.next_blocking() {
        if let Err(e) = item {
            return Some(e);
        }
    }
    None
}

fn assert_provider_error(error: Option<sluicegate::Error>, names: &[&str]) {
    assert_error(error, ErrorKind::ProviderError, names);
}

fn assert_error(error: Option<sluicegate::Error>, kind: ErrorKind, names: &[&str]) {
    let error = error.expect("the call must fail");
    assert_eq!(error.kind, kind, "{}", error.message);
    for name in names {
        assert!(
            error.message.contains(name),
            "the message must name `{name}`: {}",
            error.message
        );
    }
}

#[test]
fn a_body_over_max_body_is_a_provider_error() {
    let url = serve("application/json", completion(&"x".repeat(4000)));
    let gw = gateway(&url, json!({"max_body": "2KiB"}));
    assert_provider_error(
        gw.chat_blocking(request(false), CallOptions::default()).err(),
        &["max_body", "2048"],
    );
    assert!(
        gw.metrics_text().contains("provider_error"),
        "the failed call is accounted"
    );
    // Within the default cap the same body is fine.
    let gw = gateway(&url, Value::Null);
    assert!(gw.chat_blocking(request(false), CallOptions::default()).is_ok());
}

#[test]
fn an_event_over_max_event_is_a_provider_error() {
    let big = chunk(json!({"content": "y".repeat(3000)}), Value::Null);
    let small = chunk(json!({"role": "assistant", "content": "hi"}), Value::Null);
    let stop = chunk(json!({}), json!("stop"));
    let url = serve("text/event-stream", sse(&[big.clone(), stop.clone()]));
    let gw = gateway(&url, json!({"max_event": "1KiB"}));
    assert_provider_error(
        stream_error(&gw),
        &["max_event", "1024", "providers.p.limits.max_event"],
    );
    let gw = gateway(&url, Value::Null);
    assert!(stream_error(&gw).is_none());
    // After content was delivered, the same cap interrupts the stream (and says which cap).
    let url = serve("text/event-stream", sse(&[small, big, stop]));
    let gw = gateway(&url, json!({"max_event": "1KiB"}));
    assert_error(stream_error(&gw), ErrorKind::StreamInterrupted, &["max_event"]);
}

#[test]
fn a_tool_call_index_out_of_range_is_a_provider_error() {
    let call = |index: u64| {
        chunk(
            json!({"tool_calls": [{"index": index, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
            Value::Null,
        )
    };
    let url = serve(
        "text/event-stream",
        sse(&[call(100_000), chunk(json!({}), json!("tool_calls"))]),
    );
    assert_provider_error(stream_error(&gateway(&url, Value::Null)), &["index", "100000"]);
    let url = serve(
        "text/event-stream",
        sse(&[call(0), call(129), chunk(json!({}), json!("tool_calls"))]),
    );
    assert_error(
        stream_error(&gateway(&url, Value::Null)),
        ErrorKind::StreamInterrupted,
        &["index 129"],
    );
    let url = serve(
        "text/event-stream",
        sse(&[call(0), call(1), chunk(json!({}), json!("tool_calls"))]),
    );
    assert!(stream_error(&gateway(&url, Value::Null)).is_none());
}

#[test]
fn endless_chunks_without_content_are_a_provider_error() {
    let mut chunks = vec![chunk(json!({"role": "assistant"}), Value::Null); 5000];
    chunks.push(chunk(json!({"content": "late"}), Value::Null));
    chunks.push(chunk(json!({}), json!("stop")));
    let url = serve("text/event-stream", sse(&chunks));
    assert_provider_error(stream_error(&gateway(&url, Value::Null)), &["without content"]);
}

#[test]
fn bare_cr_streams_work_end_to_end() {
    let text = String::from_utf8(sse(&[
        chunk(json!({"role": "assistant", "content": "hello"}), Value::Null),
        chunk(json!({"content": " there"}), Value::Null),
        chunk(json!({}), json!("stop")),
    ]))
    .unwrap()
    .replace('\n', "\r");
    let url = serve("text/event-stream", text.into_bytes());
    let gw = gateway(&url, Value::Null);
    let mut stream = gw.chat_stream_blocking(request(true), CallOptions::default()).unwrap();
    let mut content = String::new();
    while let Some(item) = stream.next_blocking() {
        let chunk = item.expect("no error");
        content += chunk
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str)
            .unwrap_or("");
    }
    assert_eq!(content, "hello there");
}

#[test]
fn every_provider_type_is_held_to_the_index_bound() {
    // 200 function calls in one Gemini chunk would become tool-call indexes 0..199.
    let calls: Vec<Value> = (0..200)
        .map(|i| json!({"functionCall": {"name": format!("f{i}"), "args": {}}}))
        .collect();
    let event = json!({"candidates": [{"content": {"role": "model", "parts": calls}, "finishReason": "STOP"}],
                       "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 5, "totalTokenCount": 8}});
    let url = serve("text/event-stream", format!("data: {event}\r\n\r\n").into_bytes());
    let gw = Gateway::from_value(json!({
        "providers": {"p": {"type": "gemini", "api_base": url, "api_key": "g-test"}},
        "deployments": {"d": {"provider": "p", "model": "gemini-2.5-flash"}},
        "routes": {"chat": {"targets": ["d"], "breaker": false, "retry": {"attempts": 1}}}
    }))
    .unwrap();
    assert_provider_error(stream_error(&gw), &["index"]);
}
