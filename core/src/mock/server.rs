//! A mock OpenAI-compatible HTTP server on 127.0.0.1 for tests in every language.
//!
//! It answers `POST …/chat/completions` (plain and SSE) and `POST …/embeddings` as a script
//! says (see [`super::Script`]), and exposes counters so that tests can prove what reached the
//! wire: `GET /_mock/stats`, `GET /_mock/requests`, `POST /_mock/script`, `POST /_mock/reset`.
//! `sluicegate mock-provider --port N` runs it as a process.

use super::billing::{Ledger, StreamBill};
use super::script::{Script, Step};
use super::wire::{self, Flavor};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, std::io::Error>;

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    connections: AtomicU64,
    in_flight: AtomicU64,
    /// The most requests in flight at once: proof that callers ran concurrently, without timing.
    peak_in_flight: AtomicU64,
    disconnects: AtomicU64,
    completed_streams: AtomicU64,
    ids: AtomicU64,
}

struct State {
    script: RwLock<Arc<Script>>,
    api_key: Option<String>,
    counters: Counters,
    by_model: Mutex<BTreeMap<String, u64>>,
    log: Mutex<Vec<Value>>,
    billed: Arc<Ledger>,
}

/// A running mock server; it stops when dropped.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

const LOG_LIMIT: usize = 200;

impl MockServer {
    /// Binds 127.0.0.1:`port` (0 picks a free port) and serves on the current tokio runtime.
    pub async fn start(port: u16, script: Script, api_key: Option<String>) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            script: RwLock::new(Arc::new(script)),
            api_key,
            counters: Counters::default(),
            by_model: Mutex::new(BTreeMap::new()),
            log: Mutex::new(Vec::new()),
            billed: Arc::default(),
        });
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = state.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => accepted,
                };
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                serving.counters.connections.fetch_add(1, Ordering::Relaxed);
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(MockServer {
            addr,
            state,
            stop: Some(stop),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn stats(&self) -> Value {
        stats(&self.state)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn stats(state: &State) -> Value {
    let c = &state.counters;
    json!({
        "requests": c.requests.load(Ordering::Relaxed),
        "connections": c.connections.load(Ordering::Relaxed),
        "in_flight": c.in_flight.load(Ordering::Relaxed),
        "peak_in_flight": c.peak_in_flight.load(Ordering::Relaxed),
        "disconnects": c.disconnects.load(Ordering::Relaxed),
        "completed_streams": c.completed_streams.load(Ordering::Relaxed),
        "by_model": *state.by_model.lock().unwrap_or_else(|e| e.into_inner()),
        "billed": state.billed.to_json(),
    })
}

fn full(status: StatusCode, body: Value) -> Response<Body> {
    let bytes = Bytes::from(body.to_string());
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(bytes).map_err(|never: Infallible| match never {}).boxed())
        .expect("static response")
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(full(
                StatusCode::BAD_REQUEST,
                json!({"error": {"message": "unreadable body"}}),
            ));
        }
    };
    let control = match (method.as_str(), path.as_str()) {
        ("GET", "/_mock/stats") => Some(full(StatusCode::OK, stats(&state))),
        ("GET", "/_mock/requests") => {
            let log = state.log.lock().unwrap_or_else(|e| e.into_inner()).clone();
            Some(full(StatusCode::OK, Value::Array(log)))
        }
        ("POST", "/_mock/script") => Some(
            match serde_json::from_slice::<Value>(&body)
                .map_err(|e| e.to_string())
                .and_then(|v| Script::from_value(&v))
            {
                Ok(script) => {
                    *state.script.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(script);
                    full(StatusCode::OK, json!({"ok": true}))
                }
                Err(message) => full(StatusCode::BAD_REQUEST, json!({"error": {"message": message}})),
            },
        ),
        ("POST", "/_mock/reset") => {
            let c = &state.counters;
            for counter in [
                &c.requests,
                &c.connections,
                &c.peak_in_flight,
                &c.disconnects,
                &c.completed_streams,
            ] {
                counter.store(0, Ordering::Relaxed);
            }
            state.by_model.lock().unwrap_or_else(|e| e.into_inner()).clear();
            state.billed.clear();
            state.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
            Some(full(StatusCode::OK, json!({"ok": true})))
        }
        _ => None,
    };
    if let Some(response) = control {
        return Ok(response);
    }
    let flavor = wire::flavor(&path);
    let is_embeddings = wire::is_embeddings(&path);
    if method != "POST" || flavor.is_none() {
        return Ok(full(
            StatusCode::NOT_FOUND,
            json!({"error": {"message": format!("mock provider has no endpoint {method} {path}"), "type": "invalid_request_error", "param": null, "code": "unknown_url"}}),
        ));
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return Ok(full(
                StatusCode::BAD_REQUEST,
                json!({"error": {"message": format!("request body is not JSON: {e}"), "type": "invalid_request_error", "param": null, "code": null}}),
            ));
        }
    };
    let asked = wire::asked(flavor.unwrap_or(Flavor::OpenAi), &path, &query, &headers, &request);
    state.counters.requests.fetch_add(1, Ordering::Relaxed);
    *state
        .by_model
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(asked.model.clone())
        .or_insert(0) += 1;
    {
        let mut log = state.log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= LOG_LIMIT {
            log.remove(0);
        }
        log.push(json!({"method": method.as_str(), "path": path, "query": query, "headers": headers, "body": request}));
    }
    if let Some(expected) = &state.api_key
        && &asked.key != expected
    {
        // Like the real APIs, echo the key that was sent: the gateway must scrub it.
        let (status, body) = wire::bad_key(asked.flavor, &asked.key);
        return Ok(full(
            StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED),
            body,
        ));
    }
    if let Some((status, body)) = wire::refused(asked.flavor, &query, &request)
        .or_else(|| wire::refused_for_model(&asked, &request))
        .filter(|_| !is_embeddings)
    {
        return Ok(full(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            body,
        ));
    }
    let script = state.script.read().unwrap_or_else(|e| e.into_inner()).clone();
    let step = script.next_step(&asked.model);
    let guard = InFlight::new(state.clone());
    // A provider bills the prompt of a request it has accepted, even if the client leaves.
    if step.status == 200 && !step.malformed {
        let prompt = if is_embeddings {
            crate::tokens::estimate_prompt(&asked.neutral)
        } else {
            step.usage(&asked.model, &asked.neutral)["prompt_tokens"]
                .as_u64()
                .unwrap_or(0)
        };
        state.billed.bill(&asked.model, prompt, 0);
    }
    if let Some(delay) = step.delay {
        tokio::time::sleep(delay).await;
    }
    if is_embeddings {
        if step.status != 200 {
            return Ok(full(
                StatusCode::from_u16(step.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                wire::error_body(asked.flavor, &step),
            ));
        }
        return Ok(full(StatusCode::OK, wire::embeddings(asked.flavor, &asked, &request)));
    }
    Ok(answer(&state, guard, &step, &asked))
}

fn answer(state: &Arc<State>, mut guard: InFlight, step: &Step, asked: &wire::Asked) -> Response<Body> {
    if step.status != 200 {
        let mut response = full(
            StatusCode::from_u16(step.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            wire::error_body(asked.flavor, step),
        );
        if let Some(after) = &step.retry_after
            && let Ok(v) = after.parse()
        {
            response.headers_mut().insert("retry-after", v);
        }
        return response;
    }
    if step.malformed {
        return Response::builder()
            .header("content-type", "application/json")
            .body(
                Full::new(Bytes::from_static(b"{\"id\": \"broken\", \"choices\": ["))
                    .map_err(|n: Infallible| match n {})
                    .boxed(),
            )
            .expect("static response");
    }
    let id = format!(
        "chatcmpl-mock-{}",
        state.counters.ids.fetch_add(1, Ordering::Relaxed) + 1
    );
    let output = step.usage(&asked.model, &asked.neutral)["completion_tokens"]
        .as_u64()
        .unwrap_or(0);
    if !asked.stream {
        state.billed.bill(&asked.model, 0, output);
        return full(StatusCode::OK, wire::body(asked.flavor, step, &id, asked));
    }
    let bill = StreamBill::new(state.billed.clone(), &asked.model, output);
    let mut events: Vec<Result<Bytes, std::io::Error>> = wire::events(asked.flavor, step, &id, asked)
        .into_iter()
        .map(|e| Ok(Bytes::from(e)))
        .collect();
    if let Some(n) = step.cut_after {
        events.truncate(n);
        events.push(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "scripted cut",
        )));
    }
    let chunk_delay = step.chunk_delay;
    let stall_after = step.stall_after;
    guard.streaming = true;
    let cut = step.cut_after.is_some();
    let stream = futures_util::stream::unfold(
        (events.into_iter().enumerate(), (guard, bill), true),
        move |(mut it, (mut guard, mut bill), first)| async move {
            let next = it.next();
            match next {
                None => {
                    guard.finished();
                    if !cut {
                        bill.complete();
                    }
                    None
                }
                Some((index, item)) => {
                    if let (Some(d), false) = (chunk_delay, first) {
                        tokio::time::sleep(d).await;
                    }
                    if stall_after == Some(index) {
                        tokio::time::sleep(super::STALL).await;
                    }
                    if item.is_err() {
                        // Let hyper flush the chunks before the cut, as a real broken stream would
                        // (they are billed as sent).
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    if let Ok(event) = &item {
                        bill.sent(event);
                    }
                    Some((item.map(Frame::data), (it, (guard, bill), false)))
                }
            }
        },
    );
    Response::builder()
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .expect("static response")
}

/// Counts a request in flight; a stream dropped before its end counts as a disconnect.
struct InFlight {
    state: Arc<State>,
    done: bool,
    streaming: bool,
}

impl InFlight {
    fn new(state: Arc<State>) -> InFlight {
        let now = state.counters.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        state.counters.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight {
            state,
            done: false,
            streaming: false,
        }
    }

    fn finished(&mut self) {
        if !self.done {
            self.done = true;
            self.state.counters.completed_streams.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.state.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.streaming && !self.done {
            self.state.counters.disconnects.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Waits until the server has no request in flight (for tests that check cancellation).
pub async fn wait_idle(server: &MockServer, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if server.state.counters.in_flight.load(Ordering::Relaxed) == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}
