//! The core cancellation token (`CallOptions::cancel`): cancelling from another thread ends a
//! plain call, an opening stream and a stream being read with a `cancelled` error, stops the
//! upstream request, and charges the call like any other that reached the provider.

use serde_json::{Value, json};
use sluicegate::{CallOptions, CancelToken, ErrorKind, Gateway};
use std::time::{Duration, Instant};

const IN: f64 = 2000.0 / 1e6;

fn gateway(script: Value) -> Gateway {
    Gateway::from_value(json!({
        "providers": {"p": {"type": "mock", "script": {"priced": script}}},
        "deployments": {"d": {"provider": "p", "model": "priced"}},
        "routes": {"chat": {"targets": ["d"], "breaker": false}},
        "pricing": {"models": {"priced": {"input_per_mtok": 2000.0, "output_per_mtok": 4000.0}}},
        "policies": {"budgets": [{"scope": "global", "usd": 10.0}]}
    }))
    .unwrap()
}

fn chat(stream: bool) -> Value {
    json!({"model": "chat", "stream": stream, "max_tokens": 50,
           "messages": [{"role": "user", "content": "hello there"}]})
}

fn with(token: &CancelToken) -> CallOptions {
    CallOptions {
        cancel: Some(token.clone()),
        ..CallOptions::default()
    }
}

/// Cancels `token` from another thread after `after`.
fn cancel_later(token: &CancelToken, after: Duration) {
    let token = token.clone();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        token.cancel();
    });
}

/// What the budget says is spent, read from the refusal of a call that cannot fit.
fn spent(gw: &Gateway) -> f64 {
    let mut request = chat(false);
    request["max_tokens"] = json!(1_000_000);
    let e = gw.chat_blocking(request, CallOptions::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BudgetExceeded, "{e:?}");
    let used = e.message.split("cannot cover this call: $").nth(1).unwrap();
    used.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_blocking_call_cancelled_from_another_thread_returns_cancelled_and_is_charged() {
    let gw = gateway(json!([{"delay": "5s"}]));
    let token = CancelToken::new();
    cancel_later(&token, Duration::from_millis(100));
    let started = Instant::now();
    let e = gw.chat_blocking(chat(false), with(&token)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled, "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the call waited for the provider"
    );
    std::thread::sleep(Duration::from_millis(50));
    let charged = spent(&gw);
    assert!(
        charged >= 6.0 * IN - 1e-9,
        "a cancelled call the provider received cost ${charged}"
    );
}

#[test]
fn an_already_cancelled_token_stops_the_call_before_the_provider() {
    let gw = gateway(json!([{}]));
    let token = CancelToken::new();
    token.cancel();
    let e = gw.chat_blocking(chat(false), with(&token)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Cancelled, "{e:?}");
    let e = gw.chat_stream_blocking(chat(true), with(&token)).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Cancelled, "{e:?}");
}

#[test]
fn a_stream_cancelled_while_the_caller_waits_for_a_chunk_ends_with_cancelled_then_the_end() {
    let gw = gateway(json!([{"reply": "one two three four five six", "chunk_delay": "300ms"}]));
    let token = CancelToken::new();
    let mut stream = gw.chat_stream_blocking(chat(true), with(&token)).unwrap();
    let first = stream.next_blocking().unwrap().unwrap();
    assert!(first["choices"].is_array());
    cancel_later(&token, Duration::from_millis(50));
    let mut seen = Vec::new();
    let outcome = loop {
        match stream.next_blocking() {
            Some(Ok(chunk)) => seen.push(chunk),
            Some(Err(e)) => break e,
            None => panic!("the stream ended cleanly after a cancel ({} chunks)", seen.len()),
        }
    };
    assert_eq!(outcome.kind, ErrorKind::Cancelled, "{outcome:?}");
    assert_eq!(outcome.request_id.as_deref(), Some(stream.request_id()));
    assert!(stream.next_blocking().is_none(), "after the cancel, the end");
    assert!(stream.gateway().is_some(), "the cancelled stream was recorded");
    let charged = spent(&gw);
    assert!(charged >= 6.0 * IN - 1e-9, "the cancelled stream cost ${charged}");
}

#[test]
fn an_async_stream_read_is_cancelled_too() {
    let gw = gateway(json!([{"reply": "one two three", "chunk_delay": "2s"}]));
    let token = CancelToken::new();
    sluicegate::runtime::runtime().block_on(async {
        let mut stream = gw.chat_stream(chat(true), with(&token)).await.unwrap();
        cancel_later(&token, Duration::from_millis(50));
        let started = Instant::now();
        let mut outcome = None;
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                outcome = Some(e);
            }
        }
        assert_eq!(outcome.map(|e| e.kind), Some(ErrorKind::Cancelled));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the read waited for the provider"
        );
        let batch = stream.next_batch(8).await.unwrap();
        assert!(batch.is_empty(), "after the cancel, the end");
    });
}
