//! Cancellable calls and streams. JS cancels through `cancel()` (wired to an `AbortSignal`, to
//! `stream.controller`, or to leaving a `for await` loop early); cancelling drops the core
//! future or [`ChatStream`], which cancels the upstream request.
//!
//! Every promise's future owns an `Arc` of the call's state and never borrows the JS object
//! (see `gateway.rs`).
//!
//! Streams are read with `nextBatch()`: one promise (one hop from tokio to the JS loop) hands
//! over every chunk already received, as one JSON array text, so JS pays one `JSON.parse` per
//! batch instead of a native round trip per chunk. `next()` (one chunk per promise) remains.

use crate::error::{self, to_js};
use crate::gateway::parse_call;
use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;
use sluicegate::{ChatStream, Gateway};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// The most chunks one `nextBatch()` hands over: bounds the JSON text of one batch, and the
/// mock's 24-word answer (27 chunks) still fits in one or two batches.
const BATCH_MAX: usize = 64;

/// A one-way cancellation flag that async code can wait on.
struct Cancel(watch::Sender<bool>);

impl Cancel {
    fn cancel(&self) {
        self.0.send_replace(true);
    }

    fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once `cancel()` has been called (at once if it already was).
    async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

struct CallState {
    gateway: Gateway,
    input: Mutex<Option<(String, String)>>,
    cancel: Cancel,
    /// The open stream; `None` before `open()` and once it ended, failed or was cancelled
    /// (dropping it stops upstream).
    stream: tokio::sync::Mutex<Option<ChatStream>>,
    /// The `gateway` object's JSON, kept when the stream ends.
    meta: Mutex<Option<String>>,
    /// Set once the caller has been told how the stream ended (end, failure or cancellation).
    reported: AtomicBool,
}

impl CallState {
    fn take_input(&self) -> Result<(String, String)> {
        self.input
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| {
                to_js(sluicegate::Error::internal(
                    "a native call was started twice; please report this as a bug",
                ))
            })
    }

    fn keep_meta(&self, stream: &ChatStream) {
        if let Some(meta) = stream.gateway() {
            *self.meta.lock().unwrap_or_else(|e| e.into_inner()) = Some(meta.to_string());
        }
    }

    async fn run(&self) -> Result<String> {
        let (request, options) = self.take_input()?;
        let (request, options) = parse_call(&request, &options)?;
        if self.cancel.is_cancelled() {
            return Err(error::cancelled());
        }
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(error::cancelled()),
            response = self.gateway.chat(request, options) => Ok(response.map_err(to_js)?.to_string()),
        }
    }

    async fn run_embeddings(&self) -> Result<String> {
        let (request, options) = self.take_input()?;
        let (request, options) = parse_call(&request, &options)?;
        if self.cancel.is_cancelled() {
            return Err(error::cancelled());
        }
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(error::cancelled()),
            response = self.gateway.embeddings(request, options) => Ok(response.map_err(to_js)?.to_string()),
        }
    }

    async fn open(&self) -> Result<String> {
        let (request, options) = self.take_input()?;
        let (request, options) = parse_call(&request, &options)?;
        if self.cancel.is_cancelled() {
            return Err(error::cancelled());
        }
        let stream = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => return Err(error::cancelled()),
            stream = self.gateway.chat_stream(request, options) => stream.map_err(to_js)?,
        };
        let request_id = stream.request_id().to_owned();
        let mut slot = self.stream.lock().await;
        if self.cancel.is_cancelled() {
            return Err(error::cancelled()); // cancelled while opening: drop it here
        }
        *slot = Some(stream);
        Ok(request_id)
    }

    /// Ends the stream: keeps its metadata, drops it (which stops upstream if it still runs)
    /// and marks the end as reported.
    fn finish(&self, slot: &mut Option<ChatStream>) {
        if let Some(stream) = slot.take() {
            self.keep_meta(&stream);
        }
        self.reported.store(true, Ordering::SeqCst);
    }

    /// What a read of a stream with no open `ChatStream` returns: a cancellation not reported
    /// yet (cancelled while no read was pending) rejects once; otherwise the stream has ended.
    fn read_closed(&self) -> Result<()> {
        if self.cancel.is_cancelled() && !self.reported.swap(true, Ordering::SeqCst) {
            return Err(error::cancelled());
        }
        Ok(())
    }

    /// Up to `max` chunks (waiting for the first, then every one already received); `None` at
    /// the end. The core hands a failure over only after the chunks before it, on its own read.
    async fn pull(&self, max: usize) -> Result<Option<Vec<serde_json::Value>>> {
        let mut slot = self.stream.lock().await;
        let Some(stream) = slot.as_mut() else {
            return self.read_closed().map(|()| None);
        };
        let batch = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => {
                slot.take();
                self.reported.store(true, Ordering::SeqCst);
                return Err(error::cancelled());
            }
            batch = stream.next_batch(max) => batch,
        };
        match batch {
            Ok(chunks) if !chunks.is_empty() => Ok(Some(chunks)),
            Ok(_) => {
                self.finish(&mut slot); // the stream ended cleanly
                Ok(None)
            }
            Err(e) => {
                self.finish(&mut slot);
                Err(to_js(e))
            }
        }
    }

    /// The next chunk's JSON text.
    async fn next(&self) -> Result<Option<String>> {
        Ok(self.pull(1).await?.map(|chunks| chunks[0].to_string()))
    }

    /// Every chunk already received, as the JSON text of an array.
    async fn next_batch(&self) -> Result<Option<String>> {
        Ok(self
            .pull(BATCH_MAX)
            .await?
            .map(|chunks| serde_json::Value::Array(chunks).to_string()))
    }
}

/// One call: plain (`run`) or streaming (`open`, then `next` until `null`).
#[napi]
pub struct NativeCall {
    state: Arc<CallState>,
}

impl NativeCall {
    pub fn new(gateway: Gateway, request: String, options: String) -> NativeCall {
        NativeCall {
            state: Arc::new(CallState {
                gateway,
                input: Mutex::new(Some((request, options))),
                cancel: Cancel(watch::Sender::new(false)),
                stream: tokio::sync::Mutex::new(None),
                meta: Mutex::new(None),
                reported: AtomicBool::new(false),
            }),
        }
    }
}

#[napi]
impl NativeCall {
    /// A plain chat completion: resolves to the response's JSON text.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn run<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, String>> {
        let state = self.state.clone();
        env.spawn_future(async move { state.run().await })
    }

    /// An embeddings call: resolves to the response's JSON text.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn run_embeddings<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, String>> {
        let state = self.state.clone();
        env.spawn_future(async move { state.run_embeddings().await })
    }

    /// Opens a streaming chat completion; resolves to its request id. Errors before the
    /// first content reject here.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn open<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, String>> {
        let state = self.state.clone();
        env.spawn_future(async move { state.open().await })
    }

    /// The next chunk's JSON text, or `null` at the end. A failure rejects once, then `null`.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub fn next<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Option<String>>> {
        let state = self.state.clone();
        env.spawn_future(async move { state.next().await })
    }

    /// Every chunk already received (waiting for the first), as the JSON text of a non-empty
    /// array, or `null` at the end. A failure rejects once, after the chunks before it, then
    /// `null`.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub fn next_batch<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Option<String>>> {
        let state = self.state.clone();
        env.spawn_future(async move { state.next_batch().await })
    }

    /// The stream's `gateway` object as JSON once it has ended, else `null`.
    #[napi]
    pub fn gateway(&self) -> Option<String> {
        self.state.meta.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Cancels the call or its stream: a pending promise rejects as cancelled, and an open
    /// stream is dropped at once (which stops upstream). A no-op once it has finished.
    #[napi]
    pub fn cancel(&self) {
        self.state.cancel.cancel();
        if let Ok(mut slot) = self.state.stream.try_lock() {
            slot.take();
        }
    }
}
