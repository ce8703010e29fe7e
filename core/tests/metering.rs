//! The metering event of a call (what `on_request_end` hooks, `usage` and the metrics see)
//! says exactly what the call's `gateway` object says: plain, cached and streamed.

use serde_json::{Value, json};
use sluicegate::{CallOptions, Gateway};
use std::time::Duration;

fn hooked() -> (Gateway, std::sync::mpsc::Receiver<Value>) {
    let gw = Gateway::from_value(json!({
        "providers": {"p": {"type": "mock", "latency": "2ms"}},
        "deployments": {"d": {"provider": "p", "model": "gpt-4o"}},
        "routes": {"chat": {"targets": ["d"], "cache": {"ttl": "10m"}}}
    }))
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    gw.on_request_end(move |event| {
        tx.lock().unwrap().send(event.clone()).unwrap();
    });
    (gw, rx)
}

fn assert_event_matches(event: &Value, gateway: &Value) {
    assert_eq!(event["request_id"], gateway["request_id"]);
    assert_eq!(event["outcome"], "ok");
    for field in [
        "deployment",
        "provider",
        "model",
        "cost_usd",
        "latency_ms",
        "ttft_ms",
        "overhead_us",
    ] {
        assert_eq!(
            event[field], gateway[field],
            "`{field}`: event {event} vs gateway {gateway}"
        );
    }
    for field in ["input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens"] {
        assert_eq!(event["usage"][field], gateway["usage"][field], "usage `{field}`");
    }
}

#[test]
fn the_event_of_a_plain_and_a_cached_call_is_its_gateway_object() {
    let (gw, rx) = hooked();
    let request = json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]});
    let fresh = gw.chat_blocking(request.clone(), CallOptions::default()).unwrap();
    let cached = gw.chat_blocking(request, CallOptions::default()).unwrap();
    assert_eq!(cached["gateway"]["cache_hit"], true);
    assert!(fresh["gateway"]["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert!(fresh["gateway"]["cost_usd"].as_f64().unwrap() > 0.0);
    for response in [&fresh, &cached] {
        let event = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_event_matches(&event, &response["gateway"]);
    }
}

#[test]
fn the_event_of_a_stream_is_its_gateway_object() {
    let (gw, rx) = hooked();
    let mut stream = gw
        .chat_stream_blocking(
            json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
            CallOptions::default(),
        )
        .unwrap();
    while let Some(chunk) = stream.next_blocking() {
        chunk.unwrap();
    }
    let gateway = stream.gateway().expect("a finished stream has its gateway object");
    let event = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_event_matches(&event, &gateway);
}
