//! `ChatStream::next_batch`: the same chunks as `next`, in order, fewer hand-offs.

use serde_json::{Value, json};
use sluicegate::{CallOptions, Gateway};

fn gateway(script: Value) -> Gateway {
    Gateway::from_value(json!({
        "providers": {"m": {"type": "mock", "script": script}},
        "deployments": {"d": {"provider": "m", "model": "m"}},
        "routes": {"chat": {"targets": ["d"]}}
    }))
    .unwrap()
}

fn request() -> Value {
    json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "tell me a story"}]})
}

fn text_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/content").and_then(Value::as_str))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_carry_the_same_chunks_in_order() {
    let script = json!({"m": [{"reply": "one two three four five six seven eight nine ten"}]});
    let mut one_by_one = Vec::new();
    let mut s = gateway(script.clone())
        .chat_stream(request(), CallOptions::default())
        .await
        .unwrap();
    while let Some(c) = s.next().await {
        one_by_one.push(c.unwrap());
    }
    let mut batched = Vec::new();
    let mut batches = 0;
    let mut s = gateway(script)
        .chat_stream(request(), CallOptions::default())
        .await
        .unwrap();
    loop {
        let batch = s.next_batch(4).await;
        if batch.is_empty() {
            break;
        }
        assert!(batch.len() <= 4, "a batch is capped at max");
        batches += 1;
        batched.extend(batch.into_iter().map(Result::unwrap));
    }
    assert_eq!(text_of(&batched), text_of(&one_by_one));
    assert_eq!(batched.len(), one_by_one.len());
    assert!(batches >= batched.len().div_ceil(4));
    assert!(s.gateway().is_some(), "metadata is there once the stream has ended");
    assert!(s.next_batch(4).await.is_empty(), "an ended stream stays ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_ends_the_batch_and_the_stream() {
    let script = json!({"m": [{"reply": "one two three four five six", "cut_after": 3}]});
    let mut s = gateway(script)
        .chat_stream(request(), CallOptions::default())
        .await
        .unwrap();
    let mut seen_error = false;
    loop {
        let batch = s.next_batch(100).await;
        if batch.is_empty() {
            break;
        }
        assert!(!seen_error, "nothing comes after an error");
        if let Some(pos) = batch.iter().position(Result::is_err) {
            assert_eq!(pos, batch.len() - 1, "an error is the last item of its batch");
            let e = batch.into_iter().last().unwrap().unwrap_err();
            assert_eq!(e.kind, sluicegate::ErrorKind::StreamInterrupted);
            seen_error = true;
        }
    }
    assert!(seen_error, "a cut stream reports stream_interrupted");
}
