//! OTLP traces reach a real HTTP receiver on loopback: a span per call with the GenAI
//! attributes, a child span per attempt, and the caller's trace continued.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use sluicegate::{CallOptions, Gateway};
use std::sync::{Arc, Mutex};

/// Starts a collector that keeps every JSON body posted to /v1/traces.
fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    let listener = sluicegate::runtime::runtime()
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    sluicegate::runtime::runtime().spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let store = store.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let store = store.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        if path == "/v1/traces" {
                            store
                                .lock()
                                .unwrap()
                                .push(serde_json::from_slice::<Value>(&body).unwrap());
                        }
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"{}"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, received)
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

#[test]
fn spans_for_calls_and_attempts_continue_the_callers_trace() {
    let (url, received) = collector();
    let gw = Gateway::from_value(json!({
        "providers": {"p": {"type": "mock", "script": {"broken": [{"status": 503}]}}},
        "deployments": {"bad": {"provider": "p", "model": "broken"}, "good": {"provider": "p", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["bad", "good"]}},
        "telemetry": {"otlp": {"endpoint": url, "service_name": "test-app"}}
    }))
    .unwrap();
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let options = CallOptions::from_json(&json!({"traceparent": traceparent})).unwrap();
    let r = gw
        .chat_blocking(
            json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
            options,
        )
        .unwrap();
    assert_eq!(r["gateway"]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    gw.chat_blocking(
        json!({"model": "nope", "messages": [{"role": "user", "content": "hi"}]}),
        CallOptions::default(),
    )
    .unwrap_err();
    gw.flush_telemetry_blocking();
    let bodies = received.lock().unwrap().clone();
    let spans: Vec<Value> = bodies
        .iter()
        .flat_map(|b| {
            b["resourceSpans"][0]["scopeSpans"][0]["spans"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    let service = &bodies[0]["resourceSpans"][0]["resource"]["attributes"];
    assert!(
        service
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "service.name" && a["value"]["stringValue"] == "test-app")
    );
    let call = spans
        .iter()
        .find(|s| s["name"] == "chat gpt-4o")
        .expect("a call span named after the model");
    assert_eq!(call["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(call["parentSpanId"], "00f067aa0ba902b7");
    assert_eq!(call["spanId"], r["gateway"]["span_id"]);
    assert_eq!(attribute(call, "gen_ai.operation.name").unwrap()["stringValue"], "chat");
    assert_eq!(
        attribute(call, "gen_ai.provider.name").unwrap()["stringValue"],
        "sluicegate.mock"
    );
    assert_eq!(
        attribute(call, "gen_ai.usage.input_tokens").unwrap()["intValue"],
        r["gateway"]["usage"]["input_tokens"].to_string()
    );
    // OTel GenAI names cache writes apart from reads (Anthropic bills them at a premium).
    assert_eq!(
        attribute(call, "gen_ai.usage.cache_creation.input_tokens").map(|a| a["intValue"].clone()),
        Some(json!(r["gateway"]["usage"]["cache_write_tokens"].to_string()))
    );
    assert_eq!(attribute(call, "sluicegate.attempts").unwrap()["intValue"], "2");
    let attempts: Vec<&Value> = spans.iter().filter(|s| s["parentSpanId"] == call["spanId"]).collect();
    assert_eq!(attempts.len(), 2, "{spans:#?}");
    assert_eq!(attempts[0]["name"], "attempt bad");
    assert_eq!(attempts[0]["status"]["code"], 2);
    assert_eq!(
        attribute(attempts[0], "error.type").unwrap()["stringValue"],
        "provider_error"
    );
    assert_eq!(attempts[1]["name"], "attempt good");
    let failed = spans
        .iter()
        .find(|s| s["name"] == "chat nope")
        .expect("a failed call has a span too");
    assert_eq!(attribute(failed, "error.type").unwrap()["stringValue"], "not_found");
    assert_ne!(
        failed["traceId"], call["traceId"],
        "a call without traceparent starts its own trace"
    );
}
