//! `ChatStream::next_batch`: the same chunks as `next`, in order, fewer hand-offs; an error
//! that ends the stream comes after the chunks before it, on its own read, then the end.

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
        let batch = s.next_batch(4).await.unwrap();
        if batch.is_empty() {
            break;
        }
        assert!(batch.len() <= 4, "a batch is capped at max");
        batches += 1;
        batched.extend(batch);
    }
    assert_eq!(text_of(&batched), text_of(&one_by_one));
    assert_eq!(batched.len(), one_by_one.len());
    assert!(batches >= batched.len().div_ceil(4));
    assert!(s.gateway().is_some(), "metadata is there once the stream has ended");
    assert!(s.next_batch(4).await.unwrap().is_empty(), "an ended stream stays ended");
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
        let batch = match s.next_batch(100).await {
            Ok(batch) => batch,
            Err(e) => {
                assert!(!seen_error, "the error is returned once");
                assert_eq!(e.kind, sluicegate::ErrorKind::StreamInterrupted);
                seen_error = true;
                continue;
            }
        };
        if batch.is_empty() {
            break;
        }
        assert!(!seen_error, "nothing comes after an error");
    }
    assert!(seen_error, "a cut stream reports stream_interrupted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_then_an_error_in_one_batch_come_out_as_chunks_then_the_error_then_the_end() {
    let script = json!({"m": [{"reply": "one two three four five six", "cut_after": 3}]});
    let mut s = gateway(script)
        .chat_stream(request(), CallOptions::default())
        .await
        .unwrap();
    // Let the reader task finish (its metadata is set just before it sends the error), so
    // that the chunks and the error are all waiting when the batch is read.
    for _ in 0..500 {
        if s.gateway().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let chunks = s.next_batch(100).await.expect("the chunks come before the error");
    assert_eq!(
        text_of(&chunks),
        "one two ",
        "every chunk before the cut (the first is the role chunk), in one batch"
    );
    assert!(
        s.has_ended(),
        "the batch met the end: the error is kept for the next read"
    );
    assert!(!s.is_drained(), "the error is still to come");
    let e = s
        .next_batch(100)
        .await
        .expect_err("the next read returns the kept error");
    assert_eq!(e.kind, sluicegate::ErrorKind::StreamInterrupted);
    assert!(s.is_drained());
    assert!(s.next_batch(100).await.unwrap().is_empty(), "then the end");
    assert!(s.next_batch(100).await.unwrap().is_empty(), "and it stays ended");
    assert!(s.next().await.is_none(), "one-chunk reads agree");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_chunk_reads_see_the_same_chunks_then_the_error() {
    let script = json!({"m": [{"reply": "one two three four five six", "cut_after": 3}]});
    let mut s = gateway(script)
        .chat_stream(request(), CallOptions::default())
        .await
        .unwrap();
    let mut chunks = Vec::new();
    let mut errors = Vec::new();
    while let Some(item) = s.next().await {
        match item {
            Ok(chunk) => chunks.push(chunk),
            Err(e) => errors.push(e.kind),
        }
    }
    assert_eq!(text_of(&chunks), "one two ");
    assert_eq!(errors, [sluicegate::ErrorKind::StreamInterrupted]);
    assert!(s.is_drained());
}
