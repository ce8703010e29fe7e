//! A core [`ChatStream`] as an OpenAI server-sent-event body.
//!
//! Chunks go out as `data: {chunk}` events in the order the core yields them. When the stream
//! ends, one more chunk carries the `gateway` object (same `id`, `model` and `created`, empty
//! `choices`, like the usage chunk OpenAI sends), then `data: [DONE]`. An error after the stream
//! opened is sent as `data: {"error": {...}}` (what the openai SDKs raise as `APIError`) and the
//! stream ends without `[DONE]`.
//!
//! The body owns the stream: when the client goes away hyper drops the body, which drops the
//! stream, which cancels the upstream request and charges what was delivered (see the core).

use super::errors;
use super::http::{Body, metadata_headers};
use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use sluicegate::ChatStream;
use std::convert::Infallible;

/// Chunks taken from the core per write: one write carries every chunk already waiting.
const BATCH: usize = 64;

enum State {
    Open { stream: ChatStream, last: Value },
    Done,
}

/// The `200 text/event-stream` answer. Headers carry what is known at open: the request id and
/// the route the caller named; the deployment and cost come in the final chunk's `gateway`.
pub fn response(stream: ChatStream, route: Option<String>) -> Response<Body> {
    let mut known = json!({ "request_id": stream.request_id() });
    if let Some(route) = route {
        known["route"] = Value::String(route);
    }
    let state = State::Open {
        stream,
        last: Value::Null,
    };
    let frames = stream::unfold(state, |state| async move {
        match state {
            State::Done => None,
            State::Open { mut stream, mut last } => {
                let (bytes, next) = step(&mut stream, &mut last).await;
                let next = if next {
                    State::Open { stream, last }
                } else {
                    State::Done
                };
                Some((Ok::<_, Infallible>(Frame::data(bytes)), next))
            }
        }
    });
    let mut response = Response::new(StreamBody::new(frames).boxed_unsync());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    for (name, value) in metadata_headers(&known) {
        headers.insert(name, value);
    }
    response
}

/// The next write, and whether the stream goes on after it.
async fn step(stream: &mut ChatStream, last: &mut Value) -> (Bytes, bool) {
    let batch = match stream.next_batch(BATCH).await {
        Ok(batch) => batch,
        Err(e) => {
            let event = json!({ "error": errors::error_object(&e) });
            return (Bytes::from(format!("data: {event}\n\n")), false);
        }
    };
    if batch.is_empty() {
        let gateway = stream.gateway().unwrap_or(Value::Null);
        let closing = json!({
            "id": last.get("id").cloned().unwrap_or(Value::Null),
            "object": "chat.completion.chunk",
            "created": last.get("created").cloned().unwrap_or(json!(0)),
            "model": last.get("model").cloned().unwrap_or(Value::Null),
            "choices": [],
            "gateway": gateway,
        });
        return (Bytes::from(format!("data: {closing}\n\ndata: [DONE]\n\n")), false);
    }
    let mut out = String::new();
    for chunk in batch {
        out += &format!("data: {chunk}\n\n");
        *last = chunk;
    }
    (Bytes::from(out), true)
}
