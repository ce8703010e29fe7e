//! Cancellable calls and streams. JS cancels through `cancel()` (wired to an `AbortSignal`, to
//! `stream.controller`, or to leaving a `for await` loop early), which cancels the call's core
//! [`CancelToken`]: the core then ends the call or stream with `cancelled` and stops upstream.
//!
//! Every promise's future owns an `Arc` of the call's state and never borrows the JS object
//! (see `gateway.rs`).
//!
//! Streams are read with `nextBatch()`: one promise (one hop from tokio to the JS loop) hands
//! over every chunk already received, as one JSON array text, so JS pays one `JSON.parse` per
//! batch instead of a native round trip per chunk. `next()` (one chunk per promise) remains.

use crate::error::to_js;
use crate::gateway::parse_call;
use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;
use sluicegate::{CallOptions, CancelToken, ChatStream, Gateway};
use std::sync::{Arc, Mutex};

/// The most chunks one `nextBatch()` hands over: bounds the JSON text of one batch, and the
/// mock's 24-word answer (27 chunks) still fits in one or two batches.
const BATCH_MAX: usize = 64;

struct CallState {
    gateway: Gateway,
    input: Mutex<Option<(String, String)>>,
    /// In the call options: `cancel()` cancels it, and the core ends the call or stream.
    token: CancelToken,
    /// The open stream; `None` before `open()` and once it ended or failed (dropping it stops
    /// upstream).
    stream: tokio::sync::Mutex<Option<ChatStream>>,
    /// The core's answer to a read that `cancel()` made for a stream nobody was reading (see
    /// [`CallState::stop_now`]), handed to the next read.
    kept: Mutex<Option<sluicegate::Error>>,
    /// The `gateway` object's JSON, kept when the stream ends.
    meta: Mutex<Option<String>>,
}

impl CallState {
    /// The request and the options (with the call's token), once.
    fn take_input(&self) -> Result<(serde_json::Value, CallOptions)> {
        let input = self.input.lock().unwrap_or_else(|e| e.into_inner()).take();
        let (request, options) = input.ok_or_else(|| {
            to_js(sluicegate::Error::internal(
                "a native call was started twice; please report this as a bug",
            ))
        })?;
        let (request, mut options) = parse_call(&request, &options)?;
        options.cancel = Some(self.token.clone());
        Ok((request, options))
    }

    async fn run(&self) -> Result<String> {
        let (request, options) = self.take_input()?;
        Ok(self.gateway.chat(request, options).await.map_err(to_js)?.to_string())
    }

    async fn run_embeddings(&self) -> Result<String> {
        let (request, options) = self.take_input()?;
        Ok(self
            .gateway
            .embeddings(request, options)
            .await
            .map_err(to_js)?
            .to_string())
    }

    async fn open(&self) -> Result<String> {
        let (request, options) = self.take_input()?;
        let mut slot = self.stream.lock().await;
        let stream = self.gateway.chat_stream(request, options).await.map_err(to_js)?;
        let request_id = stream.request_id().to_owned();
        *slot = Some(stream);
        self.stop_now(&mut slot); // if `cancel()` came while the stream was opening
        Ok(request_id)
    }

    /// Once the token is cancelled, a stream that no read is waiting on stops now (upstream
    /// too), not at its next read: this makes that read, which the core answers at once with
    /// its `cancelled` error, and keeps the answer for the caller's next read.
    fn stop_now(&self, slot: &mut Option<ChatStream>) {
        if !self.token.is_cancelled() {
            return;
        }
        if let Some(Some(Err(e))) = slot.take().as_mut().map(ChatStream::next_blocking) {
            *self.kept.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
        }
    }

    /// Up to `max` chunks (waiting for the first, then every one already received); `None` at
    /// the end. The core hands a failure (a cancellation too) over once, after the chunks
    /// before it, on its own read.
    async fn pull(&self, max: usize) -> Result<Option<Vec<serde_json::Value>>> {
        let mut slot = self.stream.lock().await;
        if let Some(e) = self.kept.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return Err(to_js(e));
        }
        let Some(stream) = slot.as_mut() else {
            return Ok(None);
        };
        match stream.next_batch(max).await {
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

    /// Drops the ended stream, keeping its metadata unless the caller cancelled it (as
    /// documented, a cancelled stream has none).
    fn finish(&self, slot: &mut Option<ChatStream>) {
        let meta = slot
            .take()
            .and_then(|s| s.gateway())
            .filter(|_| !self.token.is_cancelled());
        if let Some(meta) = meta {
            *self.meta.lock().unwrap_or_else(|e| e.into_inner()) = Some(meta.to_string());
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
                token: CancelToken::new(),
                stream: tokio::sync::Mutex::new(None),
                kept: Mutex::new(None),
                meta: Mutex::new(None),
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

    /// Cancels the call or its stream (the core token in its options): a pending promise
    /// rejects as cancelled, and an open stream stops at once (upstream too); its next read
    /// rejects as cancelled, then the end. A no-op once it has finished.
    #[napi]
    pub fn cancel(&self) {
        self.state.token.cancel();
        if let Ok(mut slot) = self.state.stream.try_lock() {
            self.state.stop_now(&mut slot);
        }
    }
}
